"""Fixtures of the bot tests: a real Service over the tiny model (``make_service``)."""

from __future__ import annotations

import pytest

from bot.history import History
from bot.service import Service
from bot.settings import from_mapping
from engine import Engine, EngineConfig


class FnInference:
    """An ``Inference`` (``bot.inference``) over a plain ``infer(waveform, granularity)``."""

    def __init__(self, infer) -> None:
        from bot.inference import ModelInfo

        self.infer, self.busy = infer, (Busy,)
        self.model = ModelInfo("tiny", ("angry", "happy"), random_weights=True)

    def stats(self) -> dict:
        return {}

    async def close(self) -> None:
        pass


class Busy(Exception):
    pass


@pytest.fixture
def make_service(tmp_path, tiny_model):
    services = []

    def make(limits=None, privacy=None, infer=None):
        settings = from_mapping({
            "history": {"path": str(tmp_path / "h.db")},
            "limits": limits or {"requests_per_minute": 0, "daily_audio_seconds": 0},
            "privacy": privacy or {},
        })
        history = History.from_settings(settings)

        async def real_infer(waveform, granularity):
            # The real engine; one per call because every test step runs its own event loop.
            engine = Engine(tiny_model, EngineConfig())
            await engine.start()
            try:
                return await engine.infer(waveform, granularity=granularity, embeddings=True)
            finally:
                await engine.close()

        service = Service(settings, history, FnInference(infer or real_infer))
        services.append(history)
        return service

    yield make
    for history in services:
        history.close()
