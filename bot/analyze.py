"""`emotion-bot analyze`: which files, and one output folder per file.

The layout of each output folder is the seed WebUI's, so scripts written for it keep working:
``processed_audio.wav`` (16 kHz mono 16-bit), ``result.json`` and, on request, ``embedding.npy``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from bot import analysis, audio, charts, corpus_reasons
from bot.corpus_table import path_text
from bot.messages import text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    path: Path
    in_folder: bool = False  # found by walking a folder (non-audio is skipped, not refused)
    missing: bool = False  # a named path that does not exist


@dataclass
class Inputs:
    entries: list[Entry] = field(default_factory=list)  # in input order, each real file once

    @property
    def files(self) -> list[Path]:
        return [e.path for e in self.entries if not e.missing]

    @property
    def missing(self) -> list[Path]:
        return [e.path for e in self.entries if e.missing]


def collect(paths: Iterable[str | Path], recursive: bool = False) -> Inputs:
    """Expand folders (sorted, hidden entries skipped), visiting each real file and folder once:
    symlink loops and hard links do not repeat work. Whether a file is audio is decided later,
    by the decode itself (one ffprobe per file, not two)."""
    found = Inputs()
    seen_files: set[tuple[int, int]] = set()
    seen_dirs: set[tuple[int, int]] = set()

    def add(path: Path, in_folder: bool) -> None:
        try:
            st = path.stat()
        except OSError:
            if not in_folder:
                found.entries.append(Entry(path, missing=True))
            return
        if (st.st_dev, st.st_ino) not in seen_files:
            seen_files.add((st.st_dev, st.st_ino))
            found.entries.append(Entry(path, in_folder))

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in _walk(path, recursive, seen_dirs):
                add(child, True)
        else:
            add(path, False)
    return found


def read_list(list_file: str | Path) -> list[Path]:
    """Paths from a list file: one path a line, or Kaldi ``wav.scp`` style ``key path`` lines.
    Blank lines and ``#`` comments are ignored; names may hold any bytes."""
    paths = []
    for raw in Path(list_file).read_bytes().splitlines():
        line = os.fsdecode(raw.strip())
        if not line or line.startswith("#"):
            continue
        if not os.path.lexists(line) and len(line.split(None, 1)) == 2:
            line = line.split(None, 1)[1].strip()  # "utt_id /path/to/a.wav"
        paths.append(Path(line))
    return paths


def _walk(folder: Path, recursive: bool, seen: set[tuple[int, int]]) -> Iterator[Path]:
    try:
        st = folder.stat()
        if (st.st_dev, st.st_ino) in seen:
            return  # a symlink loop, or a folder reached twice
        seen.add((st.st_dev, st.st_ino))
        entries = sorted(folder.iterdir())
    except OSError as exc:
        logger.warning("cannot list %s: %s", path_text(folder), exc.strerror or exc)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            yield entry
    if recursive:
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith("."):
                yield from _walk(entry, True, seen)


def write_output_dir(root: Path, now: datetime, fill: Callable[[Path], None]) -> Path:
    """Fill a hidden temporary folder under ``root``, then rename it to
    ``root/outputs_YYYYMMDD_HHMMSS`` (``_1``, ``_2``... when taken): a kill never leaves a folder
    that looks like a result without its result.json."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".partial-{uuid.uuid4().hex}"
    tmp.mkdir()  # honours the umask, unlike mkdtemp
    try:
        fill(tmp)
        base = f"outputs_{now:%Y%m%d_%H%M%S}"
        for n in range(10_000):
            candidate = root / (base if n == 0 else f"{base}_{n}")
            if os.path.lexists(candidate):
                continue
            try:
                os.rename(tmp, candidate)  # fails on a non-empty folder of the same name
                return candidate
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        raise OSError(errno.EEXIST, f"no free output folder name under {root}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def result_record(source: Path, result, decoded, granularity: str, model_id: str, now: datetime,
                  random_weights: bool) -> dict:
    record = {
        "source": path_text(source.name),
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


def write_outputs(root: Path, record: dict, waveform: np.ndarray, result, granularity: str,
                  save_embedding: bool, now: datetime) -> Path:
    """One output folder in the seed WebUI's layout; adds the file names to ``record``."""

    def fill(out: Path) -> None:
        audio.write_wav(out / "processed_audio.wav", waveform)
        if save_embedding:
            vectors = result.frames if granularity == "frame" else result.embedding
            np.save(out / "embedding.npy", np.asarray(vectors, dtype=np.float32))
            record["embedding_file"] = "embedding.npy"
            record["embedding_shape"] = list(np.shape(vectors))
        if result.timeline is not None:
            (out / "timeline.png").write_bytes(charts.timeline_png(result.timeline))
            record["timeline_chart"] = "timeline.png"
        (out / "result.json").write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n",
                                         encoding="utf-8")

    out = write_output_dir(root, now, fill)
    record["output_dir"] = path_text(out)
    return out


def failure_reason(error: BaseException) -> str:
    """The specific reason, in command-line words, why a local file gave no result."""
    return corpus_reasons.outcome(error)[2]
