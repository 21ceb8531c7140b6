"""The composition root: the only place that sees settings, engine, history and product together."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from bot.inference import Inference, LocalInference
from bot.jobs import Jobs
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
async def inference(settings: Settings, model=None) -> AsyncIterator[Inference]:
    """The one inference of this process (see ``bot.inference``), started and, on exit, drained
    and stopped. ``model``: an already loaded ``LoadedModel`` (tests); else the configured one is
    loaded here (raises ``engine.loader.ModelLoadError`` with a clear message).
    ``[engine] backend = "remote"``: the ``emotion-bot serve`` at ``[engine] url`` (no model here;
    raises ``bot.inference.Unreachable`` when it cannot be reached)."""
    import asyncio

    if settings.engine.backend == "remote":
        from bot.remote import RemoteInference

        remote = RemoteInference.from_settings(settings)
        try:
            yield await remote.connect()
        finally:
            await remote.close()
        return

    from engine.engine import Engine

    model = model or await asyncio.to_thread(load_model, settings)
    engine = Engine(model, engine_config(settings))
    await engine.start()
    backend = LocalInference(engine, model)
    try:
        yield backend
    finally:
        await backend.close()


@contextlib.asynccontextmanager
async def running(settings: Settings, model=None, backend: Inference | None = None
                  ) -> AsyncIterator[Jobs]:
    """Everything a platform needs: yields the core (``bot.jobs.Jobs``, the ``bot.core.Core``
    adapters are handed) over one ``Service``, one inference and one history. ``backend``: an
    inference already running (``run`` starts it before the platforms). On exit, jobs still in
    progress get ``[server] drain_timeout_s`` to finish."""
    from bot.history import History
    from bot.service import Service

    history = History.from_settings(settings)
    try:
        async with contextlib.AsyncExitStack() as stack:
            if backend is None:
                backend = await stack.enter_async_context(inference(settings, model))
            core = Jobs(Service(settings, history, backend))
            try:
                yield core
            finally:
                await core.drain(settings.server.drain_timeout_s)
                core.close()
    finally:
        history.close()
