"""The one inference boundary: what the product needs from an engine, wherever it runs.

``bot.app.inference(settings)`` is the only factory; ``run``, ``analyze`` and the ``Service`` all
receive an ``Inference`` from it. The in-process engine (``LocalInference`` over
``engine.engine.Engine``) is one implementation; a remote engine reached over HTTP is another.
Errors an implementation raises from ``infer``:

- one of ``busy`` (e.g. ``engine.errors.EngineBusy``): the engine is full; try again later;
- ``ValueError``: the waveform is unusable (too short, not 1-D, not finite);
- ``Unreachable`` (remote engines): the analysis service cannot be reached right now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Unreachable(RuntimeError):
    """The analysis service cannot be reached (refused, timed out, wrong address)."""


@dataclass(frozen=True)
class ModelInfo:
    """What is known of the model behind an ``Inference``."""

    id: str  # the configured model id or directory
    labels: tuple[str, ...]
    random_weights: bool  # a test checkpoint: results mean nothing
    device: str = ""
    precision: str = ""


class Inference(Protocol):
    model: ModelInfo
    busy: tuple[type[BaseException], ...]  # exceptions of ``infer`` that mean "full, retry later"

    async def infer(self, waveform: np.ndarray, granularity: str):  # -> engine.types.ClipResult
        """Scores and embedding for one 16 kHz mono float32 clip (``frame`` adds the timeline)."""

    def stats(self) -> dict:
        """Live figures for the metrics: ``queued_clips``, ``batch_sizes`` and the like."""

    def ready(self) -> bool:
        """For ``/readyz``: can ``infer`` work now? Blocking and quick (called from a thread)."""

    async def close(self) -> None:
        """Finish queued work, then release the engine."""


class LocalInference:
    """The in-process engine behind the ``Inference`` protocol."""

    def __init__(self, engine, model) -> None:
        from engine.errors import EngineBusy

        self.engine = engine
        self.busy = (EngineBusy,)
        self.model = ModelInfo(id=model.model_id, labels=tuple(model.labels),
                               random_weights=bool(model.random_weights),
                               device=str(model.device),
                               precision=str(model.dtype).removeprefix("torch."))

    async def infer(self, waveform: np.ndarray, granularity: str):
        return await self.engine.infer(waveform, granularity=granularity, embeddings=True)

    def stats(self) -> dict:
        return self.engine.stats()

    def ready(self) -> bool:
        return True  # loaded and started: the factory yields it only then

    async def close(self) -> None:
        await self.engine.close()
