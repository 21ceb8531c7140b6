"""The Telegram bot end to end through the remote backend: real python-telegram-bot against the
fake Bot API, the Service from ``bot.app.running`` with ``[engine] backend = "remote"`` (no model
in the bot), and a real `serve` with the tiny checkpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io

import numpy as np

from adapters.telegram import serve
from bot import app, audio
from bot.messages import text
from bot.settings import Secrets, from_mapping
from tests.adapters import fake_telegram as fake
from tests.api.conftest import TOKEN, VOICE


def bot_settings(tg, url: str, tmp_path):
    return from_mapping({
        "engine": {"backend": "remote", "url": url, "model": "not-needed-here"},
        "history": {"path": str(tmp_path / "h.db")},
        "limits": {"requests_per_minute": 0, "daily_audio_seconds": 0},
        "telegram": {"base_url": tg.base_url, "base_file_url": tg.base_file_url},
    }, secrets=Secrets(telegram_bot_token=fake.TOKEN, emotion_bot_engine_token=TOKEN))


def run_bot(settings, tg, body):
    async def until(predicate, timeout=60.0):
        return await asyncio.to_thread(tg.wait_for, predicate, timeout)

    async def main():
        async with app.running(settings) as service:
            stop = asyncio.Event()
            task = asyncio.create_task(serve(settings, service, stop))
            try:
                await until(lambda: tg.recorded("setMyCommands"))
                return await body(until)
            finally:
                stop.set()
                await asyncio.wait_for(task, 15)

    return asyncio.run(main())


def texts(tg, chat_id):
    return [c.params["text"] for c in tg.sent(chat_id)]


def npy_arrays(tg, chat_id):
    return [np.load(io.BytesIO(c.files["document"][1])) for c in tg.sent(chat_id, "sendDocument")
            if c.files["document"][0].endswith(".npy")]


def voice_update(chat_id, from_id, file_id="v1"):
    return {"message": fake.message(chat_id, from_id, **fake.voice(file_id, len(VOICE)))}


def test_a_voice_note_is_analysed_by_the_remote_engine(api, tiny_model, tmp_path):
    wave = audio.decode(VOICE, api.settings.audio).waveform

    async def local_result():
        async with app.inference(api.settings, tiny_model) as engine:
            return await engine.infer(wave, "utterance")

    expected = asyncio.run(local_result())
    with fake.FakeTelegram() as tg:
        async def body(until):
            tg.add_file("v1", VOICE)
            tg.push(voice_update(5, 5))
            await until(lambda: npy_arrays(tg, 5))

        run_bot(bot_settings(tg, api.url, tmp_path), tg, body)
        first = texts(tg, 5)[0]
        (embedding,) = npy_arrays(tg, 5)
    assert text(f"emotion.{expected.emotion}", "en") in first.split("\n")[0]
    assert (32,) == embedding.shape
    assert np.abs(embedding - expected.embedding).max() <= 1e-6


def test_when_the_service_goes_away_the_bot_says_it_cannot_be_reached(api_server, tmp_path):
    served = api_server(token=TOKEN)
    unreachable = text("engine.unreachable", "en")
    with fake.FakeTelegram() as tg:
        async def body(until):
            served.stop()  # the bot connected at start; now the service is gone
            tg.add_file("v1", VOICE)
            tg.push(voice_update(5, 5))
            return await until(lambda: [t for t in texts(tg, 5) if t == unreachable])

        said = run_bot(bot_settings(tg, served.url, tmp_path), tg, body)
    assert [unreachable] == said
    assert "can't be reached" in unreachable
    assert "暂时无法连接分析服务" in text("engine.unreachable", "zh")
