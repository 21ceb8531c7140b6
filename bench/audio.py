"""Benchmark audio intake: decode time per audio-second for each format, and the per-file overhead.

    .venv/bin/python bench/audio.py [FOLDER] [--repeat N]

FOLDER defaults to ../shared/audio/encoded (files named ``<clip>__<profile>.<ext>``), else samples/.
For each format it prints wall time per audio-second for a bare decode (ffprobe + ffmpeg) and for a
decode with the speech gate (VAD), then fits ``time = overhead + slope * seconds`` over all files
to separate the fixed per-file process cost from the per-second cost. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot import audio, audio_gate  # noqa: E402
from bot.settings import AudioSettings  # noqa: E402


def timed(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = REPO.parent / "shared" / "audio" / "encoded"
    parser.add_argument("folder", nargs="?", type=Path,
                        default=default if default.is_dir() else REPO / "samples")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per file")
    args = parser.parse_args()
    settings = AudioSettings()
    files = sorted(p for p in args.folder.iterdir() if audio.is_probably_audio(p))
    if not files:
        sys.exit(f"no audio files in {args.folder}")
    audio.decode(files[0], settings)  # load the VAD once, outside the timings

    by_format: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    points = []
    for path in files:
        seconds = audio.decode(path, settings, check_speech=False).duration_s
        bare = timed(lambda p=path: audio.decode(p, settings, check_speech=False), args.repeat)
        gated = timed(lambda p=path: audio.decode(p, settings), args.repeat)
        profile = path.stem.split("__")[-1] if "__" in path.stem else path.suffix.lstrip(".")
        by_format[profile].append((seconds, bare, gated))
        points.append((seconds, bare))

    print(f"{len(files)} files from {args.folder}, best of {args.repeat}\n")
    print(f"{'format':<22} {'files':>5} {'audio s':>8} {'decode ms/s':>12} {'+gate ms/s':>11}")
    for profile, rows in sorted(by_format.items()):
        total = sum(r[0] for r in rows)
        bare = sum(r[1] for r in rows) / total * 1000
        gated = sum(r[2] for r in rows) / total * 1000
        print(f"{profile:<22} {len(rows):>5} {total:>8.1f} {bare:>12.1f} {gated:>11.1f}")

    xs, ys = [p[0] for p in points], [p[1] for p in points]
    slope, overhead = statistics.linear_regression(xs, ys)
    print(f"\nfit over all files (bare decode): {overhead * 1000:.1f} ms per file "
          f"+ {slope * 1000:.2f} ms per audio-second")  # fmt: skip

    one_second = audio.decode(files[0], settings, check_speech=False).waveform[: audio.SAMPLE_RATE]
    vad = timed(lambda: audio_gate.speech_seconds(one_second), 5 * args.repeat)
    probe = timed(lambda: audio.is_probably_audio(files[0]), args.repeat)
    print(f"one ffprobe (is_probably_audio): {probe * 1000:.1f} ms")
    print(f"VAD on 1 s of audio: {vad * 1000:.1f} ms")


if __name__ == "__main__":
    main()
