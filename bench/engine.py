"""Benchmark: FunASR ``AutoModel.generate`` one clip at a time vs our engine, on emotion2vec+ large.

    python bench/engine.py [--quick] [--model-dir DIR]

The model is the full-size emotion2vec+ large architecture with RANDOM weights (``make_model``):
speed and memory carry over to the real weights, score values do not. The clip mix is real speech
from samples/ (looped or trimmed) from 1 s to 30 s. FunASR runs in a subprocess (so its 2.6x loading
peak does not count against us) with ncpu = cores and disable_update=True. Our engine then runs the
same mix with 1, 8 and 32 concurrent awaiting callers, for each precision this machine supports.
The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FULL_MIX = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 18, 20, 25, 30) * 2  # 32 clips, 402 s
QUICK_MIX = (1, 2, 3, 5, 8, 13, 20)  # 52 s
CONCURRENCY = (1, 8, 32)
SPEECH = ("03a02Wc.wav", "LJ001-0008.wav")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w", encoding="utf-8") as fh:
        fh.write("5")  # resets VmHWM to the current RSS


def speech_mix(durations) -> list[np.ndarray]:
    parts = []
    for name in SPEECH:
        raw = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(ROOT / "samples" / name),
             "-f", "f32le", "-ac", "1", "-ar", "16000", "-"],
            check=True, capture_output=True, timeout=60).stdout
        parts.append(np.frombuffer(raw, dtype=np.float32))
    source = np.concatenate(parts)
    clips, offset = [], 0
    for seconds in durations:
        count = int(seconds * 16000)
        looped = np.tile(source, (offset + count) // len(source) + 1)
        clips.append(np.ascontiguousarray(looped[offset : offset + count]))
        offset = (offset + 37_000) % len(source)
    return clips


def ensure_model(directory: Path) -> Path:
    if not (directory / "model.pt").is_file():
        log(f"building the emotion2vec+ large architecture with RANDOM weights in {directory} ...")
        subprocess.run([sys.executable, "-c",
                        "import sys; from engine.checkpoint import make_model; "
                        "make_model(sys.argv[1], 'large')", str(directory)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return directory


def reference_worker(model_dir: str, mix_path: str, out_path: str) -> None:
    """Subprocess: FunASR AutoModel.generate, one clip at a time, as its users run it."""
    import contextlib

    with contextlib.redirect_stdout(sys.stderr):
        from funasr import AutoModel

        cores = len(os.sched_getaffinity(0))
        model = AutoModel(model=model_dir, disable_update=True, device="cpu", ncpu=cores,
                          log_level="ERROR")
        clips = list(np.load(mix_path).values())
        model.generate(clips[0][:16000], disable_pbar=True)  # warm-up
        scores, latencies = [], []
        start = time.perf_counter()
        for clip in clips:
            t0 = time.perf_counter()
            result = model.generate(clip, granularity="utterance", disable_pbar=True)[0]
            latencies.append(time.perf_counter() - t0)
            scores.append(result["scores"])
        wall = time.perf_counter() - start
    np.savez(out_path, scores=np.asarray(scores), latencies=np.asarray(latencies),
             wall=wall, peak_rss_mb=rss_mb("VmHWM"), labels=np.asarray(result["labels"]))


def run_reference(model_dir: Path, clips) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        mix, out = Path(tmp) / "mix.npz", Path(tmp) / "ref.npz"
        np.savez(mix, *clips)
        subprocess.run([sys.executable, __file__, "--reference-worker", str(model_dir), str(mix),
                        str(out)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        data = dict(np.load(out))
    return data


async def run_engine(engine, clips, concurrency: int) -> tuple[float, list, list]:
    """``concurrency`` callers share the mix (each takes the next clip); returns wall, results."""
    results, latencies = [None] * len(clips), [0.0] * len(clips)
    order = iter(range(len(clips)))

    async def caller():
        for i in order:
            t0 = time.perf_counter()
            results[i] = await engine.infer(clips[i], "utterance")
            latencies[i] = time.perf_counter() - t0

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return time.perf_counter() - start, results, latencies


def bench_precision(model_dir: Path, precision: str, clips, reference: dict) -> list[dict]:
    import gc

    from engine import Engine, EngineConfig, ModelSpec, load_model

    gc.collect()
    reset_peak_rss()
    model = load_model(ModelSpec(model=str(model_dir), device="cpu", precision=precision))
    engine = Engine(model, EngineConfig())
    audio_s = sum(len(c) for c in clips) / 16000
    ref_scores = reference["scores"]
    ref_rate = audio_s / float(reference["wall"])
    rows = []

    async def main():
        await engine.start()
        await engine.infer(clips[0][:16000])  # warm-up (pages in the memory-mapped weights)
        for concurrency in CONCURRENCY:
            sizes_before = dict(engine.stats()["batch_sizes"])
            wall, results, latencies = await run_engine(engine, clips, concurrency)
            sizes = {k: v - sizes_before.get(k, 0) for k, v in engine.stats()["batch_sizes"].items()}
            scores = np.stack([r.scores for r in results])
            rate = audio_s / wall
            rows.append({
                "precision": precision,
                "concurrency": concurrency,
                "audio_s_per_s": round(rate, 3),
                "ratio": round(rate / ref_rate, 3),
                "p50_s": round(float(np.percentile(latencies, 50)), 3),
                "p95_s": round(float(np.percentile(latencies, 95)), 3),
                "max_score_diff": float(np.abs(scores - ref_scores).max()),
                "top_label_changed": bool(
                    (scores.argmax(axis=1) != ref_scores.argmax(axis=1)).any()),
                "batch_sizes": {k: v for k, v in sizes.items() if v},
            })
            log(f"  {precision} x{concurrency}: {rate:.2f} audio-s/s")
        await engine.close()

    asyncio.run(main())
    for row in rows:
        row["peak_rss_mb"] = round(rss_mb("VmHWM"))
    assert list(model.labels) == [str(x).split("/")[-1].replace("<unk>", "unknown")
                                  for x in reference["labels"]]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller mix (< 3 min on 2 cores)")
    parser.add_argument("--model-dir", type=Path,
                        default=Path.home() / ".cache" / "emotion-bot" / "bench-large-random")
    parser.add_argument("--reference-worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_worker:
        return reference_worker(*args.reference_worker)

    from engine.hardware import bf16_supported

    cores = len(os.sched_getaffinity(0))
    print("=" * 78)
    print("MODEL: emotion2vec+ large architecture with RANDOM WEIGHTS (speed and memory carry over")
    print("to the real model; score values and labels do not)")
    print("=" * 78)
    model_dir = ensure_model(args.model_dir)
    durations = QUICK_MIX if args.quick else FULL_MIX
    clips = speech_mix(durations)
    audio_s = sum(len(c) for c in clips) / 16000
    bf16, why = bf16_supported("cpu")
    precisions = ["fp32"] + (["bf16"] if bf16 else [])
    print(f"load average before: {os.getloadavg()[0]:.2f} (other processes skew every figure)")
    print(f"device: cpu, {cores} cores; bf16: {'yes' if bf16 else 'NO'} ({why})")
    print(f"mix: {len(clips)} clips, {min(durations)}-{max(durations)} s, {audio_s:.0f} s of audio"
          + (" (quick: concurrency above the clip count is capped by it)" if args.quick else ""))
    log("reference: FunASR AutoModel.generate, one clip at a time ...")
    reference = run_reference(model_dir, clips)
    ref_rate = audio_s / float(reference["wall"])
    rows = []
    for precision in precisions:
        log(f"engine {precision} ...")
        rows += bench_precision(model_dir, precision, clips, reference)
    ref_lat = reference["latencies"]
    header = f"{'run':<22}{'audio-s/s':>10}{'ratio':>7}{'p50 s':>8}{'p95 s':>8}" \
             f"{'max|dscore|':>13}{'top flip':>9}{'peak RSS MB':>12}"
    print(header)
    print("-" * len(header))
    print(f"{'FunASR generate':<22}{ref_rate:>10.2f}{1.0:>7.2f}"
          f"{np.percentile(ref_lat, 50):>8.2f}{np.percentile(ref_lat, 95):>8.2f}"
          f"{0.0:>13.1e}{'-':>9}{float(reference['peak_rss_mb']):>12.0f}")
    for r in rows:
        name = f"engine {r['precision']} x{r['concurrency']}"
        print(f"{name:<22}{r['audio_s_per_s']:>10.2f}{r['ratio']:>7.2f}{r['p50_s']:>8.2f}"
              f"{r['p95_s']:>8.2f}{r['max_score_diff']:>13.1e}"
              f"{'YES' if r['top_label_changed'] else 'no':>9}{r['peak_rss_mb']:>12}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("batch sizes run: " + "; ".join(
        f"{r['precision']} x{r['concurrency']} {r.pop('batch_sizes')}" for r in rows))
    print(json.dumps({
        "reference_audio_s_per_s": round(ref_rate, 3),
        "engine": [{k: r[k] for k in ("precision", "concurrency", "audio_s_per_s", "ratio",
                                      "p50_s", "p95_s", "max_score_diff", "top_label_changed")}
                   for r in rows],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
        "reference_peak_rss_mb": round(float(reference["peak_rss_mb"])),
        "device": "cpu",
        "cores": cores,
        "bf16_support": why,
        "random_weights": True,
        "quick": args.quick,
    }))


if __name__ == "__main__":
    main()
