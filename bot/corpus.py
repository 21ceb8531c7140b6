"""The pipelined analysis of many files: N decodes feed the engine at once, results in input order.

Each file goes decode (``bot.audio.decode`` in a pool of ``jobs`` threads: bounded ffmpeg
processes) -> wait for room in the audio budget -> ``backend.infer`` (concurrent, so the engine's
batcher sees several clips) -> optional output folder. Memory stays flat on any corpus size: at
most ``window`` files are between start and written, and decoded audio waiting for (or inside) the
engine is capped at ``max_pending_audio_s`` seconds. ``run`` hands every ``Outcome`` to ``emit``
in input order; the caller writes the table, prints and records.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from bot import analyze, audio, corpus_reasons
from bot.corpus_table import path_text
from bot.inference import Unreachable

logger = logging.getLogger(__name__)

BUSY_RETRY_S = 0.05
BUSY_GIVE_UP_S = 600.0  # an engine that stays full this long fails the file


@dataclass(frozen=True)
class Options:
    granularity: str = "utterance"
    embedding: bool = False  # keep the embedding in the outcome (and the folder)
    folders: Path | None = None  # write one output folder per file under this root
    jobs: int = 2
    max_pending_audio_s: float = 600.0


@dataclass
class Outcome:
    entry: analyze.Entry
    status: str  # ok | refused | failed | skipped (not a recording, found in a folder)
    code: str = ""  # short reason for the summary
    error: str = ""  # specific reason
    record: dict | None = None  # the result.json record (ok only)
    result: object | None = None  # engine.types.ClipResult (ok only)
    notes: tuple = ()  # bot.audio.Note of the decode
    duration_s: float = 0.0
    out_dir: Path | None = None
    size: int | None = None
    mtime_ns: int | None = None

    @property
    def path_text(self) -> str:
        return path_text(self.entry.path)


@dataclass
class Timings:
    """Seconds spent per stage, summed over files (stages overlap, so sums exceed wall time)."""

    decode_s: float = 0.0
    queue_s: float = 0.0  # decoded, waiting for room in the audio budget
    infer_s: float = 0.0
    write_s: float = 0.0
    audio_s: float = 0.0
    counts: dict = field(default_factory=dict)


class AudioBudget:
    """At most ``limit_s`` seconds of decoded audio held between decode and result (one clip
    longer than the limit still goes, alone)."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s, self.used_s = limit_s, 0.0
        self._cond = asyncio.Condition()

    async def acquire(self, seconds: float) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: self.used_s == 0 or self.used_s + seconds <= self.limit_s)
            self.used_s += seconds

    async def release(self, seconds: float) -> None:
        async with self._cond:
            self.used_s = max(0.0, self.used_s - seconds)
            self._cond.notify_all()


async def run(entries: Sequence[analyze.Entry], settings, backend, options: Options,
              emit: Callable[[Outcome], None], timings: Timings | None = None) -> Timings:
    """Analyse ``entries``; ``emit`` gets each outcome in input order (from the event loop)."""
    timings = timings or Timings()
    budget = AudioBudget(options.max_pending_audio_s)
    batch = int(backend.stats().get("max_batch_size", 1) or 1)
    window = max(2 * options.jobs, options.jobs + 2 * batch)
    queue: asyncio.Queue = asyncio.Queue(maxsize=window)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="corpus-decode") as pool:

        async def produce() -> None:
            for entry in entries:
                task = asyncio.create_task(_one(entry, settings, backend, options, budget, pool,
                                                loop, timings))
                await queue.put(task)
            await queue.put(None)

        producer = asyncio.create_task(produce())
        try:
            while (task := await queue.get()) is not None:
                outcome = await task
                timings.counts[outcome.status] = timings.counts.get(outcome.status, 0) + 1
                emit(outcome)
        finally:
            producer.cancel()
            while not queue.empty():
                leftover = queue.get_nowait()
                if leftover is not None:
                    leftover.cancel()
    return timings


async def _one(entry, settings, backend, options, budget, pool, loop, timings) -> Outcome:
    outcome = Outcome(entry, "failed")
    if entry.missing:
        outcome.code, outcome.error = "missing", "no such file or folder"
        return outcome
    try:
        st = entry.path.stat()
        outcome.size, outcome.mtime_ns = st.st_size, st.st_mtime_ns
        decoded, spent = await loop.run_in_executor(pool, _decode, entry.path, settings.audio)
        timings.decode_s += spent
        outcome.notes, outcome.duration_s = decoded.notes, decoded.duration_s
        waited = time.perf_counter()
        await budget.acquire(decoded.duration_s)
        try:
            started = time.perf_counter()
            timings.queue_s += started - waited
            result = await _infer(backend, decoded.waveform, options.granularity)
            timings.infer_s += time.perf_counter() - started
            timings.audio_s += decoded.duration_s
            now = datetime.now()
            record = analyze.result_record(entry.path, result, decoded, options.granularity,
                                           backend.model.id, now, backend.model.random_weights)
            if options.folders is not None:
                started = time.perf_counter()
                try:
                    outcome.out_dir = await asyncio.to_thread(
                        analyze.write_outputs, options.folders, record, decoded.waveform, result,
                        options.granularity, options.embedding, now)
                except OSError as exc:
                    raise corpus_reasons.OutputError(exc.errno, exc.strerror or str(exc)) from exc
                finally:
                    timings.write_s += time.perf_counter() - started
        finally:
            await budget.release(decoded.duration_s)
            del decoded  # the waveform is not kept while the outcome waits for its turn
    except (asyncio.CancelledError, Unreachable):  # the service is gone: stop the whole run
        raise
    except Exception as exc:  # each failure is named; the other files still run
        logger.debug("analysis of %s failed", path_text(entry.path), exc_info=True)
        outcome.status, outcome.code, outcome.error = corpus_reasons.outcome(exc)
        if entry.in_folder and isinstance(exc, corpus_reasons.NOT_A_RECORDING):
            outcome.status = "skipped"
        return outcome
    outcome.status, outcome.record, outcome.result = "ok", record, result
    return outcome


def _decode(path: Path, settings) -> tuple[audio.DecodedAudio, float]:
    """``bot.audio.decode`` in a pool thread, timed there (not counting the wait for a thread)."""
    started = time.perf_counter()
    return audio.decode(path, settings), time.perf_counter() - started


async def _infer(backend, waveform: np.ndarray, granularity: str):
    """``backend.infer``, waiting while the engine says it is full (bounded)."""
    give_up = time.monotonic() + BUSY_GIVE_UP_S
    while True:
        try:
            return await backend.infer(waveform, granularity)
        except backend.busy:
            if time.monotonic() > give_up:
                raise
            await asyncio.sleep(BUSY_RETRY_S)


def embedding_of(outcome: Outcome) -> np.ndarray | None:
    """The utterance embedding (the frame mean in frame mode) for the matrix."""
    result = outcome.result
    if result is None:
        return None
    if getattr(result, "embedding", None) is not None:
        return np.asarray(result.embedding, dtype=np.float32)
    if getattr(result, "frames", None) is not None:
        return np.asarray(result.frames, dtype=np.float32).mean(axis=0)
    return None
