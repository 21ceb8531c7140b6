"""Loading memory: RSS rise while loading emotion2vec+ large, ours vs FunASR AutoModel.

    python bench/load_memory.py [--model-dir DIR]

Each loader runs in a fresh subprocess. torch and FunASR are imported first (FunASR's import alone is
~490 MB); the peak-RSS counter is then reset (/proc/self/clear_refs) and the model loaded. Every weight is
then read once (memory-mapped pages count only when touched). The rise is peak RSS during that
minus RSS before it, compared with the size of the inference weights in the
compute precision. The model has RANDOM weights (same tensors and sizes as the real one).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LOADERS = ("ours-fp32", "ours-bf16", "funasr-automodel")


def _status(field: str) -> float:
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(loader: str, model_dir: str) -> None:
    import contextlib

    with contextlib.redirect_stdout(sys.stderr):
        import torch

        from engine.funasr_env import funasr_module

        funasr_module()
        from funasr import AutoModel

        from engine.loader import ModelSpec, load_model

        with open("/proc/self/clear_refs", "w", encoding="utf-8") as fh:
            fh.write("5")
        before = _status("VmRSS")
        if loader == "funasr-automodel":
            module = AutoModel(model=model_dir, disable_update=True, device="cpu", ncpu=1,
                               log_level="ERROR").model
        else:
            precision = loader.split("-")[1]
            module = load_model(ModelSpec(model=model_dir, device="cpu", precision=precision)).module
        with torch.inference_mode():  # touch every weight: memory-mapped pages count once read
            for tensor in list(module.parameters()) + list(module.buffers()):
                tensor.sum()
        peak, after = _status("VmHWM"), _status("VmRSS")
        weights = sum(p.numel() * p.element_size() for p in module.parameters())
        weights += sum(b.numel() * b.element_size() for b in module.buffers())
    print(json.dumps({
        "loader": loader,
        "weights_mb": round(weights / 2**20),
        "rise_mb": round(peak - before),
        "after_mb": round(after - before),
        "ratio": round((peak - before) / (weights / 2**20), 2),
        "dtype": str(next(module.parameters()).dtype).removeprefix("torch."),
    }))
    del torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path,
                        default=Path.home() / ".cache" / "emotion-bot" / "bench-large-random")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker)
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_engine", ROOT / "bench" / "engine.py")
    bench_engine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_engine)
    model_dir = bench_engine.ensure_model(args.model_dir)
    size = (model_dir / "model.pt").stat().st_size / 2**20
    print("MODEL: emotion2vec+ large architecture with RANDOM WEIGHTS; "
          f"model.pt is {size:.0f} MB")
    print(f"{'loader':<18}{'dtype':>10}{'weights MB':>12}{'RSS rise MB':>13}{'ratio':>7}"
          f"{'kept MB':>9}")
    rows = []
    for loader in LOADERS:
        out = subprocess.run([sys.executable, __file__, "--worker", loader, str(model_dir)],
                             check=True, capture_output=True, text=True, cwd=ROOT).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(f"{row['loader']:<18}{row['dtype']:>10}{row['weights_mb']:>12}{row['rise_mb']:>13}"
              f"{row['ratio']:>7.2f}{row['after_mb']:>9}")
    print(json.dumps({"model_pt_mb": round(size), "loaders": rows}))


if __name__ == "__main__":
    main()
