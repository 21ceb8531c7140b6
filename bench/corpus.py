"""Benchmark: a corpus run end to end (files in, table out) against FunASR's ``AutoModel.generate``.

    python bench/corpus.py [--clips 200] [--size base] [--device cpu|cuda]
                           [--precision fp32|bf16|both] [--jobs N] [--max-batch N] [--max-wait-ms MS]

The corpus (cached in ~/.cache/emotion-bot/bench-corpus-N/clips) holds ``--clips`` files of 1-30 s
(log-uniform) of real speech from samples/ and ../shared/audio/speech, in the encodings people send
(WAV, FLAC, MP3, Ogg/Opus, M4A/AAC, WebM/Opus), plus copies of ../shared/audio/encoded's voice
notes (AMR, Telegram, WhatsApp, iPhone...) when present. The model has RANDOM weights
(``make_model``, ``--size``): speed carries over to the real model, scores do not.

FunASR loops ``generate(input=path)`` over the same files with its own file loading, in its own
subprocess (ncpu = usable cores, disable_update); a file it cannot read is handed the project's
decoded audio instead (counted and named in the output). Ours is ``python -m bot -v analyze CORPUS
--table T --no-folders`` in a subprocess, once per precision. Both tables are written in full.
Figures: audio-s/s over the analysis (after the model is loaded) and end to end (process start to
exit), the ratio to FunASR, the engine's mean batch size and each stage's summed time as a share of
the wall time (stages overlap: decodes run ``--jobs`` at a time beside the engine). The last line
is one JSON object with every figure. Prints figures; not a test.

On a CUDA machine: ``python bench/corpus.py --device cuda --size large --clips 1000 --jobs 16
--max-batch 32 --max-wait-ms 20`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CACHE = Path.home() / ".cache" / "emotion-bot"
SHARED = ROOT.parent / "shared" / "audio"
ENCODINGS = {  # extension -> ffmpeg output options
    "wav": ["-c:a", "pcm_s16le", "-ar", "16000"],
    "flac": ["-c:a", "flac", "-ar", "22050"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-ar", "44100"],
    "ogg": ["-c:a", "libopus", "-b:a", "24k", "-ar", "48000"],
    "m4a": ["-c:a", "aac", "-b:a", "64k", "-ar", "44100"],
    "webm": ["-c:a", "libopus", "-b:a", "32k", "-ar", "48000"],
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_corpus(clips: int) -> Path:
    folder = CACHE / f"bench-corpus-{clips}" / "clips"
    manifest = folder.parent / "MANIFEST.json"
    if manifest.is_file():
        return folder
    from bot import audio
    from bot.settings import AudioSettings

    log(f"building a corpus of {clips} clips in {folder} ...")
    folder.mkdir(parents=True, exist_ok=True)
    settings = AudioSettings()
    sources = sorted((SHARED / "speech").glob("*")) if (SHARED / "speech").is_dir() else []
    sources += sorted(p for p in (ROOT / "samples").iterdir() if p.suffix == ".wav")
    speech = np.concatenate([audio.decode(p, settings, check_speech=False).waveform
                             for p in sources if audio.is_probably_audio(p)])
    encoded = sorted((SHARED / "encoded").glob("*")) if (SHARED / "encoded").is_dir() else []
    copies = encoded[: clips // 4]
    for i, path in enumerate(copies):
        (folder / f"{i:05d}_{path.name}").write_bytes(path.read_bytes())
    rng = np.random.default_rng(0)
    offset = 0
    for i in range(len(copies), clips):
        seconds = float(np.exp(rng.uniform(np.log(1.0), np.log(30.0))))
        count = int(seconds * 16000)
        looped = np.tile(speech, (offset + count) // len(speech) + 1)[offset: offset + count]
        offset = (offset + 53_000) % len(speech)
        ext = list(ENCODINGS)[i % len(ENCODINGS)]
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "f32le", "-ar", "16000",
                        "-ac", "1", "-i", "pipe:0", *ENCODINGS[ext],
                        str(folder / f"{i:05d}_speech_{seconds:04.1f}s.{ext}")],
                       input=looped.astype("<f4").tobytes(), check=True, timeout=120)
    manifest.write_text(json.dumps({"clips": clips}))
    return folder


def ensure_model(size: str) -> Path:
    directory = CACHE / f"bench-{size}-random"
    if not (directory / "model.pt").is_file():
        log(f"building the emotion2vec+ {size} architecture with RANDOM weights in {directory} ...")
        subprocess.run([sys.executable, "-m", "bot", "dev", "make-model", str(directory),
                        "--size", size], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return directory


def corpus_files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def funasr_worker(model_dir: str, folder: str, table: str, device: str) -> None:
    """Subprocess: FunASR AutoModel.generate over the files, as its users run it."""
    from bot import audio
    from bot.settings import AudioSettings
    from engine.cores import usable_cores

    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):
        from funasr import AutoModel

        model = AutoModel(model=model_dir, disable_update=True, device=device,
                          ncpu=usable_cores(), log_level="ERROR")
    load_s = time.perf_counter() - started
    fallback: dict[str, int] = {}
    failed: dict[str, str] = {}
    started = time.perf_counter()
    with open(table, "w", newline="", encoding="utf-8") as fh, \
            contextlib.redirect_stdout(sys.stderr):
        out = csv.writer(fh)
        out.writerow(["path", "emotion", "confidence"])
        for path in corpus_files(Path(folder)):
            try:
                result = model.generate(input=str(path), granularity="utterance",
                                        extract_embedding=True, disable_pbar=True)[0]
            except Exception:  # noqa: BLE001 - a format its loader cannot read
                ext = path.suffix.lstrip(".")
                fallback[ext] = fallback.get(ext, 0) + 1
                try:
                    wave = audio.decode(path, AudioSettings(), check_speech=False).waveform
                    result = model.generate(input=wave, granularity="utterance",
                                            extract_embedding=True, disable_pbar=True)[0]
                except Exception as exc:  # noqa: BLE001
                    failed[path.name] = type(exc).__name__
                    continue
            scores = np.asarray(result["scores"])
            out.writerow([str(path), result["labels"][int(scores.argmax())],
                          f"{scores.max():.6f}"])
            fh.flush()
    wall = time.perf_counter() - started
    print(json.dumps({"load_s": round(load_s, 3), "wall_s": round(wall, 3),
                      "fallback": fallback, "failed": failed}))


def run_funasr(model_dir: Path, folder: Path, out: Path, device: str) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--funasr-worker", str(model_dir),
                           str(folder), str(out / "funasr.csv"), device],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["e2e_s"] = round(time.perf_counter() - started, 3)
    return figures


def run_ours(model_dir: Path, folder: Path, table: Path, args, precision: str) -> dict:
    env = {**os.environ, "EMOTION_BOT__ENGINE__MODEL": str(model_dir),
           "EMOTION_BOT__ENGINE__DEVICE": args.device,
           "EMOTION_BOT__ENGINE__PRECISION": precision}
    if args.max_batch:
        env["EMOTION_BOT__ENGINE__MAX_BATCH_SIZE"] = str(args.max_batch)
    if args.max_wait_ms is not None:
        env["EMOTION_BOT__ENGINE__MAX_WAIT_MS"] = str(args.max_wait_ms)
    env.pop("EMOTION_BOT_CONFIG", None)
    command = [sys.executable, "-m", "bot", "-v", "analyze", str(folder), "--table", str(table),
               "--no-folders", "--restart"] + (["--jobs", str(args.jobs)] if args.jobs else [])
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    e2e = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"analyze failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    line = next(s for s in proc.stderr.splitlines()[::-1] if s.startswith("run stats: "))
    stats = json.loads(line.removeprefix("run stats: "))
    stats["e2e_s"] = round(e2e, 3)
    stats["summary"] = proc.stderr.strip().splitlines()[-1]
    return stats


def table_audio_s(table: Path) -> float:
    with open(table, newline="", encoding="utf-8") as fh:
        return sum(float(r["duration_s"]) for r in csv.DictReader(fh) if r["status"] == "ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--size", choices=("tiny", "base", "large"), default="base")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=("fp32", "bf16", "both"), default="both")
    parser.add_argument("--jobs", type=int, default=0, help="decodes (default: usable cores)")
    parser.add_argument("--max-batch", type=int, default=0, help="engine batch (default auto)")
    parser.add_argument("--max-wait-ms", type=float, default=None)
    parser.add_argument("--no-funasr", action="store_true")
    parser.add_argument("--out", type=Path, default=CACHE / "bench-corpus-out")
    args = parser.parse_args()

    from engine.cores import usable_cores
    from engine.hardware import bf16_supported

    folder, model_dir = build_corpus(args.clips), ensure_model(args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    files = corpus_files(folder)
    formats = sorted({p.suffix.lstrip(".") for p in files})
    log(f"{len(files)} files ({', '.join(formats)}), model {args.size} (RANDOM weights), "
        f"device {args.device}, {usable_cores()} usable cores")
    figures: dict = {"clips": len(files), "size": args.size, "device": args.device,
                     "cores": usable_cores(), "formats": formats}
    precisions = ["fp32", "bf16"] if args.precision == "both" else [args.precision]
    if "bf16" in precisions and not bf16_supported(args.device)[0]:
        log(f"bf16 skipped: {bf16_supported(args.device)[1]}")
        precisions.remove("bf16")
    runs = {}
    for precision in precisions:
        log(f"ours, {precision} ...")
        runs[precision] = run_ours(model_dir, folder, args.out / f"ours-{precision}.csv", args,
                                   precision)
    audio_s = table_audio_s(args.out / f"ours-{precisions[0]}.csv")
    figures["audio_s"] = round(audio_s, 1)
    if not args.no_funasr:
        log("FunASR AutoModel.generate ...")
        runs["funasr"] = run_funasr(model_dir, folder, args.out, args.device)
    print(f"\n{len(files)} files, {audio_s:.0f} audio-s, {args.size} model on {args.device}\n")
    print(f"{'run':<8} {'load s':>7} {'wall s':>7} {'audio-s/s':>10} {'ratio':>6} {'e2e s':>7} "
          f"{'e2e ratio':>9} {'batch':>6}  stage share of wall (decode, queue, infer)")
    ref = runs.get("funasr")
    for name, run in runs.items():
        run["audio_s_per_s"] = round(audio_s / run["wall_s"], 3)
        run["e2e_audio_s_per_s"] = round(audio_s / run["e2e_s"], 3)
        if ref:
            run["ratio"] = round(ref["wall_s"] / run["wall_s"], 3)
            run["e2e_ratio"] = round(ref["e2e_s"] / run["e2e_s"], 3)
        stages = ""
        if "decode_s" in run:
            run["shares"] = {k: round(run[f"{k}_s"] / run["wall_s"], 3)
                             for k in ("decode", "queue", "infer")}
            stages = ", ".join(f"{v * 100:.0f} %" for v in run["shares"].values())
        print(f"{name:<8} {run['load_s']:7.1f} {run['wall_s']:7.1f} {run['audio_s_per_s']:10.2f} "
              f"{run.get('ratio', 1.0):6.2f} {run['e2e_s']:7.1f} {run.get('e2e_ratio', 1.0):9.2f} "
              f"{run.get('mean_batch', 1):6.2f}  {stages}")
    if ref and ref["fallback"]:
        print(f"\nFunASR could not read {ref['fallback']} itself: it got our decoded audio "
              "(that decode counted in its time)")
    for name, run in runs.items():
        if "jobs" in run:
            print(f"{name}: --jobs {run['jobs']}, max batch {run['max_batch_size']}, "
                  f"batch sizes {run['batch_sizes']}, {run['summary']}")
    figures["runs"] = runs
    print(json.dumps(figures))


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--funasr-worker":
        funasr_worker(*sys.argv[2:])
    else:
        main()
