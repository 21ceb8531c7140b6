"""Downloads are capped in bytes even when Telegram does not say how big a file is: the real
python-telegram-bot against the fake Bot API, the real core and the tiny model."""

from __future__ import annotations

import asyncio

from adapters.telegram import serve
from bot import app
from bot.settings import Secrets, from_mapping
from tests.adapters import fake_telegram as fake


def test_a_file_without_a_declared_size_is_cut_off_at_the_cap(tmp_path, tiny_model):
    with fake.FakeTelegram() as tg:
        settings = from_mapping({
            "engine": {"model": "tiny", "device": "cpu"},
            "history": {"path": str(tmp_path / "h.db")},
            "limits": {"requests_per_minute": 0, "daily_audio_seconds": 0},
            "audio": {"max_file_mb": 1.0},
            "telegram": {"base_url": tg.base_url, "base_file_url": tg.base_file_url},
        }, secrets=Secrets(telegram_bot_token=fake.TOKEN))
        tg.add_file("big", b"\0" * (3 * 1024 * 1024))
        tg.sizeless.add("big")
        doc = fake.document("big", 0, "a.ogg", "audio/ogg")
        del doc["document"]["file_size"]  # the message did not say either

        async def main():
            async with app.running(settings, tiny_model) as core:
                stop = asyncio.Event()
                task = asyncio.create_task(serve(settings, core, stop))
                try:
                    await asyncio.to_thread(tg.wait_for, lambda: tg.recorded("setMyCommands"))
                    tg.push({"message": fake.message(5, 5, **doc)})
                    await asyncio.to_thread(tg.wait_for, lambda: tg.sent(5), 60)
                    return [c.params["text"] for c in tg.sent(5)]
                finally:
                    stop.set()
                    await asyncio.wait_for(task, 30)

        texts = asyncio.run(main())
    assert ["That file is too big (&gt; 1.0 MB); I accept up to 1 MB. Please send a shorter "
            "recording."] == texts
