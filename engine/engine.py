"""The one engine of a process: callers ``await engine.infer(waveform)``; batching is invisible.

Wiring only: a clip is normalized and split into windows (``clips``), the windows go through the
dynamic ``Batcher`` as one request, the worker thread runs the exact batched ``Forward`` on them,
and the window results are combined into one ``ClipResult``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from engine.batcher import Batcher
from engine.errors import EngineBusy, EngineClosed
from engine.hardware import auto_batch_size
from engine.loader import LoadedModel
from engine.types import SAMPLE_RATE, ClipResult

__all__ = ["Engine", "EngineBusy", "EngineClosed", "EngineConfig"]

logger = logging.getLogger(__name__)
MIN_SAMPLES = 400  # one frame; shorter inputs have no features
GRANULARITIES = ("utterance", "frame")


@dataclass(frozen=True)
class EngineConfig:
    """The engine's tunables and their defaults; ``bot.settings.EngineSettings`` takes its
    defaults from here and adds validation (the app builds this from it by field name)."""

    max_batch_size: int | str = "auto"  # "auto": 1 on CPU (batching measured slower), 16 on CUDA
    max_wait_ms: float = 5.0  # how long a batch waits for more clips after its first
    max_batch_audio_s: float = 240.0  # cap on padded batch: clips x longest window, seconds
    max_queue_clips: int = 64  # queued clips beyond this -> EngineBusy
    max_queue_audio_s: float = 3600.0  # queued audio beyond this -> EngineBusy
    window_s: float = 30.0  # long audio is run in windows of this length
    timeline_window_s: float = 1.0
    timeline_hop_s: float = 0.25


@dataclass(frozen=True)
class _Job:
    samples: np.ndarray  # one normalized window
    frames: bool  # return its frames


class Engine:
    def __init__(self, model: LoadedModel, config: EngineConfig | None = None):
        from engine.clips import Head
        from engine.forward import Forward

        self.model = model
        self.config = config or EngineConfig()
        self.max_batch_size = auto_batch_size(self.config.max_batch_size, str(model.device))
        self._forward = Forward(model)
        self._head = Head.of(model)
        self._batcher = Batcher(
            self._run,
            max_batch_size=self.max_batch_size,
            max_wait_s=self.config.max_wait_ms / 1000,
            max_batch_cost=self.config.max_batch_audio_s,
            max_queue_requests=self.config.max_queue_clips,
            max_queue_cost=self.config.max_queue_audio_s,
            name="emotion-engine",
        )

    async def start(self) -> None:
        """Start the worker thread (idempotent)."""
        await self._batcher.start()

    async def infer(
        self, waveform: np.ndarray, granularity: str = "utterance", embeddings: bool = True
    ) -> ClipResult:
        """Scores for one 16 kHz mono clip; ``frame`` adds per-frame features and a timeline.

        Raises ``EngineBusy`` at once when the queue is full, ``ValueError`` for unusable input.
        """
        from engine import clips

        await self.start()  # idempotent; raises EngineClosed after close()
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, not {granularity!r}")
        wave = np.asarray(waveform)
        if wave.ndim != 1 or len(wave) < MIN_SAMPLES:
            raise ValueError(f"need a 1-D waveform of at least {MIN_SAMPLES} samples (25 ms)")
        if not np.issubdtype(wave.dtype, np.floating) or not np.isfinite(wave).all():
            raise ValueError("the waveform must hold finite floating-point samples")
        if self.model.normalize:
            wave = clips.normalize(wave)
            if not np.isfinite(wave).all():  # e.g. samples of 1e30: their variance overflows
                raise ValueError("the samples are too large to normalise: expected about [-1, 1]")
        windows = clips.split(wave.astype(np.float32, copy=False), self.config.window_s)
        want_frames = granularity == "frame"
        outputs = await self._batcher.submit(
            [_Job(w, want_frames) for w in windows], [len(w) / SAMPLE_RATE for w in windows]
        )
        return clips.combine(outputs, self._head, granularity, embeddings,
                             self.config.timeline_window_s, self.config.timeline_hop_s)

    def _run(self, jobs: list[_Job]) -> list:
        """The worker thread's batch function."""
        return self._forward([j.samples for j in jobs], [j.frames for j in jobs])

    def stats(self) -> dict:
        """Queue depth, batches run and the histogram of batch sizes (for metrics)."""
        stats = self._batcher.stats()
        stats.update(
            max_batch_size=self.max_batch_size,
            device=str(self.model.device),
            dtype=str(self.model.dtype).removeprefix("torch."),
        )
        return stats

    async def close(self) -> None:
        """Finish queued and running work, then stop the worker thread."""
        await self._batcher.close()
