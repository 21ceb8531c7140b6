"""The composition root: the only place that sees settings, engine, history and product together."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from bot.settings import Settings

logger = logging.getLogger(__name__)


def _subset(cls, section):
    """``cls`` built from the same-named fields of a settings section (they mirror each other)."""
    import dataclasses

    return cls(**{f.name: getattr(section, f.name) for f in dataclasses.fields(cls)})


def model_spec(settings: Settings):
    from engine.loader import ModelSpec

    return _subset(ModelSpec, settings.engine)


def load_model(settings: Settings):
    """Load the configured model (raises ``engine.loader.ModelLoadError`` with a clear message)."""
    from engine.loader import load_model as _load

    return _load(model_spec(settings))


def engine_config(settings: Settings):
    from engine.engine import EngineConfig

    return _subset(EngineConfig, settings.engine)


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

            yield Service(settings, history, infer, settings.engine.model, busy=(EngineBusy,),
                          engine_stats=engine.stats)
    finally:
        history.close()
