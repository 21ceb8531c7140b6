"""The composition root: the only place that sees settings, engine, history and product together."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from bot.settings import Settings

logger = logging.getLogger(__name__)


def model_spec(settings: Settings):
    from engine.loader import ModelSpec

    e = settings.engine
    return ModelSpec(
        model=e.model,
        hub=e.hub,
        cache_dir=e.cache_dir,
        device=e.device,
        precision=e.precision,
        threads=e.threads,
        hub_timeout_s=e.hub_timeout_s,
    )


def load_model(settings: Settings):
    """Load the configured model (raises ``engine.loader.ModelLoadError`` with a clear message)."""
    from engine.loader import load_model as _load

    return _load(model_spec(settings))


def engine_config(settings: Settings):
    from engine.engine import EngineConfig

    e = settings.engine
    return EngineConfig(
        max_batch_size=e.max_batch_size,
        max_wait_ms=e.max_wait_ms,
        max_batch_audio_s=e.max_batch_audio_s,
        max_queue_clips=e.max_queue_clips,
        max_queue_audio_s=e.max_queue_audio_s,
        window_s=e.window_s,
        timeline_window_s=e.timeline_window_s,
        timeline_hop_s=e.timeline_hop_s,
    )


@contextlib.asynccontextmanager
async def engine_running(settings: Settings, model=None) -> AsyncIterator[object]:
    """The one shared engine of this process, started and, on exit, drained and stopped."""
    import asyncio

    from engine.engine import Engine

    model = model or await asyncio.to_thread(load_model, settings)
    engine = Engine(model, engine_config(settings))
    await engine.start()
    try:
        yield engine
    finally:
        await engine.close()


@contextlib.asynccontextmanager
async def running(settings: Settings, model=None) -> AsyncIterator[object]:
    """Everything a platform needs: yields the ``Service`` over one engine and one history."""
    from bot.history import History
    from bot.service import Service
    from engine.engine import EngineBusy

    history = History.from_settings(settings)
    try:
        async with engine_running(settings, model) as engine:

            async def infer(waveform, granularity):
                return await engine.infer(waveform, granularity=granularity, embeddings=True)

            yield Service(settings, history, infer, settings.engine.model, busy=(EngineBusy,))
    finally:
        history.close()
