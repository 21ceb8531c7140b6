"""A journal that cannot be written (the database locked by another process) must not stop
Telegram polling: the update is not confirmed, Telegram sends it again, and once the lock is
gone the voice note is answered once and the bot goes on reading updates. Real
python-telegram-bot against the fake Bot API, the real core and the tiny model."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from adapters.telegram import serve
from bot import app
from bot.settings import Secrets, from_mapping
from tests.adapters import fake_telegram as fake
from tests.conftest import SAMPLES

pytestmark = pytest.mark.load  # the fault suite
VOICE = (SAMPLES / "03a02Wc__telegram_voice.oga").read_bytes()


def test_a_locked_journal_keeps_polling_alive_and_the_note_is_answered_once_it_clears(
        tmp_path, tiny_model, caplog):
    with fake.FakeTelegram() as tg:
        settings = from_mapping({
            "engine": {"model": "tiny", "device": "cpu"},
            "history": {"path": str(tmp_path / "h.db")},
            "limits": {"requests_per_minute": 0, "daily_audio_seconds": 0},
            "telegram": {"base_url": tg.base_url, "base_file_url": tg.base_file_url},
        }, secrets=Secrets(telegram_bot_token=fake.TOKEN))
        tg.add_file("v1", VOICE)

        async def main():
            async with app.running(settings, tiny_model) as core:
                core.history.timeout_s = 0.3  # its journal threads connect lazily, after this
                stop = asyncio.Event()
                task = asyncio.create_task(serve(settings, core, stop))
                try:
                    await asyncio.to_thread(tg.wait_for, lambda: tg.recorded("setMyCommands"))
                    other = sqlite3.connect(settings.history.path, isolation_level=None)
                    other.execute("BEGIN EXCLUSIVE")  # another process holds the database
                    tg.push({"message": fake.message(5, 5, **fake.voice("v1", len(VOICE)))})
                    await asyncio.to_thread(tg.wait_for, lambda: core.journal_fault, 30)
                    fault = (core.journal_fault, await asyncio.to_thread(core.database_fault))
                    other.rollback()
                    other.close()
                    await asyncio.to_thread(tg.wait_for, lambda: tg.sent(5, "sendDocument"), 60)
                    tg.push(fake.command(5, 5, "/help"))  # still polling
                    await asyncio.to_thread(tg.wait_for, lambda: len(tg.sent(5)) >= 2, 30)
                    for _ in range(500):  # a bounded poll until the journal is empty
                        if await core.idle():
                            break
                        await asyncio.sleep(0.02)
                    return fault, await asyncio.to_thread(core.database_fault)
                finally:
                    stop.set()
                    await asyncio.wait_for(task, 30)

        (during, fault_after) = asyncio.run(main())

    assert ("database locked", "not writable: database locked") == during
    assert None is fault_after
    assert 1 == len(tg.sent(5, "sendDocument"))  # the note, answered once
    assert "/help" not in tg.sent(5)[0].params["text"]
    assert any("cannot journal a telegram request (database locked)" in r.getMessage()
               for r in caplog.records)
