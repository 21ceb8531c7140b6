"""Fixtures of the adapter tests: a fake Slack (``fake``), a live Telegram bot over the fake
Bot API with the real core and the tiny model (``bot_world``), and the whole log (``log``)."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from adapters.telegram import serve
from bot import app, logs
from bot.settings import Secrets, from_mapping
from tests.adapters import fake_telegram
from tests.adapters import startup_kit
from tests.adapters.fake_slack import FakeSlack


@pytest.fixture
def fake():
    f = FakeSlack()
    yield f
    f.close()


@pytest.fixture
def bot_world(tmp_path, tiny_model):
    """Run ``body(tg, until)`` against a live bot; returns what the body returns."""

    def run(body, telegram=None, secret=""):
        with fake_telegram.FakeTelegram() as tg:
            settings = from_mapping({
                "engine": {"model": "tiny", "device": "cpu"},
                "history": {"path": str(tmp_path / "h.db")},
                "limits": {"requests_per_minute": 0, "daily_audio_seconds": 0},
                "telegram": {"base_url": tg.base_url, "base_file_url": tg.base_file_url,
                             **(telegram or {})},
            }, secrets=Secrets(telegram_bot_token=fake_telegram.TOKEN,
                               telegram_webhook_secret=secret))

            async def until(predicate, timeout=30.0):
                return await asyncio.to_thread(tg.wait_for, predicate, timeout)

            async def main():
                async with app.running(settings, tiny_model) as service:
                    stop = asyncio.Event()
                    task = asyncio.create_task(serve(settings, service, stop))
                    try:
                        await until(lambda: tg.recorded("setMyCommands"))
                        return await body(tg, until)
                    finally:
                        stop.set()
                        await asyncio.wait_for(task, 15)

            return asyncio.run(main())

    return run


@pytest.fixture
def log(caplog):
    """The whole log at DEBUG, as ``emotion-bot -v run`` configures it (plus pytest's caplog)."""
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logs.handler("text", stream)
    root = logging.getLogger()
    root.addHandler(handler)
    logs.quiet_platform_libraries()
    try:
        yield startup_kit.Log(caplog, stream)
    finally:
        root.removeHandler(handler)
