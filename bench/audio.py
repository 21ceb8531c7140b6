"""Benchmark audio intake: decode time per audio-second for each format, and the per-file overhead.

    .venv/bin/python bench/audio.py [FOLDER] [--repeat N]

FOLDER defaults to ../shared/audio/encoded (files named ``<clip>__<profile>.<ext>``), else samples/.
For each format it prints wall time per audio-second for a bare decode (ffprobe + ffmpeg) and for a
decode with the speech gate (VAD), then fits ``time = overhead + slope * seconds`` over all files
to separate the fixed per-file process cost from the per-second cost. Then, for one file of each
format, where a file's time goes: process start (``ffprobe -version``: exec and loading ffmpeg's
libraries), the probe, the decode at the native rate, the resample to 16 kHz (decode at 16 kHz
minus native), the speech gate, and the whole ``decode``; and the candidates for cutting the fixed
cost (probe share; the VAD on a bounded span). Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

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
    stages(files, settings, args.repeat)


def stages(files, settings, repeat: int) -> None:
    """Per format: where one file's decode time goes (best of ``repeat``, milliseconds)."""
    from bot import audio_ffmpeg as ff

    def deadline() -> float:
        return time.monotonic() + 60

    first: dict[str, Path] = {}
    for path in files:
        first.setdefault(path.stem.split("__")[-1] if "__" in path.stem else path.suffix, path)
    start = timed(lambda: ff.run([audio.FFPROBE, "-version"], deadline(), 1 << 20), repeat)
    print(f"\nprocess start (ffprobe -version): {start * 1000:.1f} ms\n")
    print(f"{'format':<22} {'probe':>6} {'decode':>7} {'resample':>8} {'gate':>6} "
          f"{'total':>6} {'probe %':>7}   (ms per file)")
    totals = []
    for profile, path in sorted(first.items()):
        info = audio._probe(path, deadline())
        stream = ff.audio_streams(info)[0]
        native = dataclasses.replace(stream, sample_rate=stream.sample_rate)
        probe = timed(lambda: audio._probe(path, deadline()), repeat)
        at16k = timed(lambda: audio._decode_stream(path, stream, settings, deadline()), repeat)
        raw = timed(lambda: _decode_native(path, native, deadline()), repeat)
        wave = audio.decode(path, settings, check_speech=False).waveform
        gate = timed(lambda: audio_gate.check(wave, settings), repeat)
        total = timed(lambda: audio.decode(path, settings), repeat)
        totals.append((probe, total))
        print(f"{profile:<22} {probe * 1000:6.1f} {raw * 1000:7.1f} {(at16k - raw) * 1000:8.1f} "
              f"{gate * 1000:6.1f} {total * 1000:6.1f} {probe / total * 100:6.0f} %")
    share = sum(p for p, _ in totals) / sum(t for _, t in totals)
    print(f"\ncandidate: one ffmpeg run instead of probe + decode saves at most the probe: "
          f"{share * 100:.0f} % of the decode time of these files")
    long = np.tile(audio.decode(files[0], settings, check_speech=False).waveform, 30)[: 60 * 16000]
    whole = timed(lambda: audio_gate.speech_seconds(long), repeat)
    span = timed(lambda: audio_gate.speech_seconds(long[: 10 * 16000]), repeat)
    print(f"candidate: VAD on a bounded span: 60 s of audio {whole * 1000:.0f} ms, "
          f"its first 10 s {span * 1000:.0f} ms")


def _decode_native(path, stream, deadline):
    from bot import audio_ffmpeg as ff

    args = [audio.FFMPEG, "-nostdin", "-hide_banner", "-v", "error", "-i", ff.url(path),
            "-map", f"0:{stream.index}", "-vn", "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]
    return ff.run(args, deadline, 1 << 30)


if __name__ == "__main__":
    main()
