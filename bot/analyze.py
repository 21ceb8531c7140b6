"""`emotion-bot analyze`: files and folders in, one output folder per file out.

The layout of each output folder is the seed WebUI's, so scripts written for it keep working:
``processed_audio.wav`` (16 kHz mono 16-bit), ``result.json`` and, on request, ``embedding.npy``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from bot import analysis, audio, charts
from bot.errors import AudioError
from bot.messages import describe, text
from bot.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Inputs:
    files: list[Path] = field(default_factory=list)  # audio to analyse, in order
    skipped: list[Path] = field(default_factory=list)  # non-audio files found in folders
    missing: list[Path] = field(default_factory=list)  # named paths that do not exist


def collect(paths: Iterable[str | Path], recursive: bool = False) -> Inputs:
    """Expand folders. Named files are always attempted; files found in folders only if audio."""
    found = Inputs()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in _walk(path, recursive):
                (found.files if audio.is_probably_audio(child) else found.skipped).append(child)
        elif path.exists():
            found.files.append(path)
        else:
            found.missing.append(path)
    return found


def _walk(folder: Path, recursive: bool) -> Iterator[Path]:
    entries = sorted(folder.iterdir())
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            yield entry
    if recursive:
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith("."):
                yield from _walk(entry, True)


def claim_output_dir(root: Path, now: datetime) -> Path:
    """``root/outputs_YYYYMMDD_HHMMSS`` in local time; ``_1``, ``_2``... when taken (atomically)."""
    root.mkdir(parents=True, exist_ok=True)
    base = f"outputs_{now:%Y%m%d_%H%M%S}"
    for n in range(10_000):
        candidate = root / (base if n == 0 else f"{base}_{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"no free output folder name under {root}")


def result_record(source: Path, result, decoded, granularity: str, model_id: str, now: datetime,
                  random_weights: bool) -> dict:
    record = {
        "source": source.name,
        "emotion": result.emotion,
        "confidence": round(result.confidence, 6),
        "scores": {k: round(v, 6) for k, v in result.score_map().items()},
        "granularity": granularity,
        "timestamp": f"{now:%Y-%m-%d %H:%M:%S}",
        "duration_s": round(decoded.duration_s, 3),
        "model": model_id,
        "notes": [text(n.key, "en", **n.params) for n in decoded.notes],
    }
    if granularity == "frame" and result.frames is not None:
        record["frames"] = int(result.frames.shape[0])
        record["frame_rate_hz"] = 50
    if result.timeline is not None:
        record["timeline"] = timeline_record(result.timeline)
    if random_weights:
        record["warning"] = "model has RANDOM weights (test checkpoint): the emotions mean nothing"
    return record


def timeline_record(timeline) -> dict:
    """The frame-mode timeline as JSON: window times, probabilities, segments and transitions."""
    return {
        "window_s": timeline.window_s,
        "hop_s": timeline.hop_s,
        "labels": list(timeline.labels),
        "times_s": [round(float(t), 3) for t in timeline.times_s],
        "probabilities": [[round(float(p), 6) for p in row] for row in timeline.probs],
        "segments": [{"emotion": seg.emotion, "start_s": round(seg.start_s, 3),
                      "end_s": round(seg.end_s, 3)} for seg in analysis.segments(timeline)],
        "transitions": [{"at_s": round(at, 3), "from": before, "to": after}
                        for at, before, after in analysis.transitions(timeline)],
    }


async def analyze_file(
    path: Path,
    settings: Settings,
    infer: Callable[[np.ndarray, str], Awaitable[object]],
    model_id: str,
    out_root: Path,
    granularity: str,
    save_embedding: bool,
    random_weights: bool = False,
) -> tuple[Path, dict, object, audio.DecodedAudio]:
    """Decode, infer and write one output folder. Raises ``AudioError`` for bad input.
    Returns the folder, the result.json record, the ``ClipResult`` and the decoded audio."""
    decoded = await asyncio.to_thread(audio.decode, path, settings.audio)
    result = await infer(decoded.waveform, granularity)
    now = datetime.now()
    out = claim_output_dir(out_root, now)
    try:
        audio.write_wav(out / "processed_audio.wav", decoded.waveform)
        record = result_record(path, result, decoded, granularity, model_id, now, random_weights)
        if save_embedding:
            vectors = result.frames if granularity == "frame" else result.embedding
            np.save(out / "embedding.npy", np.asarray(vectors, dtype=np.float32))
            record["embedding_file"] = "embedding.npy"
            record["embedding_shape"] = list(np.shape(vectors))
        if result.timeline is not None:
            (out / "timeline.png").write_bytes(charts.timeline_png(result.timeline))
            record["timeline_chart"] = "timeline.png"
        tmp = out / "result.json.tmp"
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, out / "result.json")
    except BaseException:
        # Never leave a half-written output folder that looks like a result.
        for child in out.iterdir():
            child.unlink()
        out.rmdir()
        raise
    record["output_dir"] = str(out)
    return out, record, result, decoded


def failure_reason(error: BaseException) -> str:
    if isinstance(error, AudioError):
        return describe(error, "en")
    if isinstance(error, OSError):
        return f"cannot read the file ({error.strerror or error})"
    return describe(error, "en")
