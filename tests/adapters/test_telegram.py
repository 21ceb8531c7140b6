"""The Telegram bot end to end: real python-telegram-bot over HTTP to a fake Bot API on 127.0.0.1,
the real Service from ``bot.app.running`` with the tiny emotion2vec model, real audio files."""

from __future__ import annotations

import asyncio
import io
import urllib.error
import urllib.request

import numpy as np

from bot import audio
from bot.messages import text
from bot.settings import from_mapping
from tests.engine.one_clip import infer_one
from tests.adapters import fake_telegram as fake
from tests.conftest import ROOT, SAMPLES, free_port

VOICE = (SAMPLES / "03a02Wc__telegram_voice.oga").read_bytes()
PNG_AS_MP3 = (ROOT / "tests" / "fixtures" / "bad" / "png_image.mp3").read_bytes()
GROUP = -100777


def texts(tg, chat_id):
    return [c.params["text"] for c in tg.sent(chat_id)]


def npy_arrays(tg, chat_id):
    return [np.load(io.BytesIO(c.files["document"][1])) for c in tg.sent(chat_id, "sendDocument")
            if c.files["document"][0].endswith(".npy")]


def voice_update(chat_id, from_id, file_id="v1", **extra):
    return {"message": fake.message(chat_id, from_id, **fake.voice(file_id, len(VOICE)), **extra)}


def test_a_voice_note_gets_the_dominant_emotion_a_chart_and_the_embedding(bot_world, tiny_model):
    result = infer_one(tiny_model, audio.decode(VOICE, from_mapping({}).audio).waveform)
    dominant = max(result.score_map(), key=result.score_map().get)

    async def body(tg, until):
        tg.add_file("v1", VOICE)
        tg.push(voice_update(5, 5))
        await until(lambda: npy_arrays(tg, 5))
        return tg

    tg = bot_world(body)
    first = texts(tg, 5)[0]
    assert text(f"emotion.{dominant}", "en") in first.split("\n")[0]  # the headline names it
    assert "<pre>" in first and text(f"emotion.{dominant}", "en") in first.split("<pre>")[1]
    assert [a.shape for a in npy_arrays(tg, 5)] == [result.embedding.shape] == [(32,)]
    assert tg.recorded("sendChatAction")[0].params["action"] == "typing"
    commands = [c["command"] for c in tg.recorded("setMyCommands")[0].params["commands"]]
    assert {"start", "help", "history", "forget", "optin", "emotion"} <= set(commands)


def test_frame_mode_sends_a_timeline_png_and_per_frame_embeddings(bot_world):
    async def body(tg, until):
        tg.add_file("v1", VOICE)
        tg.push(fake.command(5, 5, "/mode frame"))
        await until(lambda: texts(tg, 5))
        tg.push(voice_update(5, 5))
        await until(lambda: npy_arrays(tg, 5))
        return tg

    tg = bot_world(body)
    photos = tg.sent(5, "sendPhoto")
    assert len(photos) == 1 and photos[0].files["photo"][1][:8] == b"\x89PNG\r\n\x1a\n"
    (frames,) = npy_arrays(tg, 5)
    assert frames.ndim == 2 and frames.shape[1] == 32 and frames.shape[0] > 50


def test_history_lists_two_notes_and_forget_empties_it_after_confirmation(bot_world):
    async def body(tg, until):
        tg.add_file("v1", VOICE)
        tg.add_file("v2", VOICE)
        for file_id in ("v1", "v2"):
            tg.push(voice_update(5, 5, file_id))
        await until(lambda: len(npy_arrays(tg, 5)) == 2)
        tg.push(fake.command(5, 5, "/history"))
        history = await until(lambda: [t for t in texts(tg, 5) if "analyses" in t])
        tg.push(fake.command(5, 5, "/forget"))
        ask = await until(lambda: [c for c in tg.sent(5) if c.params.get("reply_markup")])
        tg.push(fake.callback(5, 5, "forget confirm", ask[0].params.get("message_id", 1)))
        await until(lambda: tg.recorded("editMessageText"))
        tg.push(fake.command(5, 5, "/history"))
        empty = await until(lambda: [t for t in texts(tg, 5)
                                     if t == text("history.empty", "en")])
        return history[0], ask[0], empty

    history, ask, empty = bot_world(body)
    assert history.startswith(text("history.title", "en", n=2))
    actions = [row[0]["callback_data"] for row in ask.params["reply_markup"]["inline_keyboard"]]
    assert actions == ["forget confirm", "forget cancel"]
    assert empty == [text("history.empty", "en")]


def test_a_25_mb_file_is_refused_without_downloading_it(bot_world):
    size = 25 * 1024 * 1024

    async def body(tg, until):
        tg.push({"message": fake.message(5, 5, **fake.document("big", size, "talk.mp3",
                                                                "audio/mpeg"))})
        return await until(lambda: texts(tg, 5))

    answer = bot_world(body)
    assert answer == [text("fetch.too_big_for_platform", "en", size="25", limit="20")]


def test_an_image_named_mp3_gets_its_clear_message(bot_world):
    async def body(tg, until):
        tg.add_file("png", PNG_AS_MP3)
        tg.push({"message": fake.message(5, 5, **fake.document("png", len(PNG_AS_MP3),
                                                                "song.mp3", "audio/mpeg"))})
        return await until(lambda: texts(tg, 5))

    assert bot_world(body) == [text("audio.not_audio.image", "en")]


def test_flood_control_429_is_waited_out_and_retried(bot_world):
    async def body(tg, until):
        tg.fail_next("sendMessage", 429, retry_after=1)
        tg.push(fake.command(5, 5, "/privacy"))
        await until(lambda: texts(tg, 5))
        return [c.status for c in tg.recorded("sendMessage")]

    assert bot_world(body) == [429, 200]


def test_group_rules_opt_in_own_notes_only_and_private_history(bot_world):
    async def body(tg, until):
        tg.add_file("v1", VOICE)
        tg.push(voice_update(GROUP, 7))  # member 7 has not opted in: silence
        tg.push(fake.command(GROUP, 9, "/privacy"))
        await until(lambda: texts(tg, GROUP))
        await asyncio.sleep(0.5)
        silent = (len(texts(tg, GROUP)), tg.recorded("getFile"))
        someone_elses = voice_update(GROUP, 7)["message"]
        tg.push(fake.command(GROUP, 8, "/emotion", reply_to=someone_elses))
        refusal = await until(lambda: texts(tg, GROUP)[1:])
        own = voice_update(GROUP, 8)["message"]
        tg.push(fake.command(GROUP, 8, "/emotion@emotion_test_bot", reply_to=own))
        await until(lambda: npy_arrays(tg, 8))  # a group's embedding: to the requester alone
        tg.push(fake.command(GROUP, 7, "/optin"))
        await until(lambda: len(texts(tg, GROUP)) >= 4)
        tg.push(voice_update(GROUP, 7))
        await until(lambda: npy_arrays(tg, 7))
        tg.forbidden.add(9)
        tg.push(fake.command(GROUP, 7, "/history"))
        tg.push(fake.command(GROUP, 9, "/history"))
        await until(lambda: len(texts(tg, 7)) == 2 and len(texts(tg, GROUP)) >= 7)
        return silent, refusal, tg

    (count, get_files), refusal, tg = bot_world(body)
    assert (count, get_files) == (1, [])
    assert refusal == [text("privacy.not_owner", "en")]
    assert texts(tg, 7)[1].startswith(text("history.title", "en", n=1))
    assert [] == npy_arrays(tg, GROUP)
    group_texts = texts(tg, GROUP)
    assert text("cmd.private_only", "en") in group_texts
    assert text("cmd.open_private_chat", "en") in group_texts
    assert not [t for t in group_texts if t.startswith(text("history.title", "en", n=1))]


def test_someone_elses_forwarded_voice_is_refused_politely(bot_world):
    origin = {"type": "user", "date": 1, "sender_user": fake.user(6)}

    async def body(tg, until):
        tg.add_file("v1", VOICE)
        tg.push(voice_update(5, 5, forward_origin=origin))
        return await until(lambda: texts(tg, 5))

    assert bot_world(body) == [text("privacy.forwarded", "en")]




def post(port: int, update: dict, secret: str) -> int:
    import json

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/telegram", data=json.dumps(update).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_webhook_rejects_a_wrong_secret_and_serves_the_right_one(bot_world):
    port = free_port()

    async def body(tg, until):
        wrong = await asyncio.to_thread(post, port, {"update_id": 1, **fake.command(
            5, 5, "/privacy")}, "guess")
        right = await asyncio.to_thread(post, port, {"update_id": 2, **fake.command(
            5, 5, "/help")}, "s3cret")
        answered = await until(lambda: texts(tg, 5))
        await asyncio.sleep(0.3)
        return wrong, right, answered, tg.recorded("getUpdates")

    wrong, right, answered, polls = bot_world(
        body, {"mode": "webhook", "webhook_port": port}, secret="s3cret")
    assert (wrong, right, polls) == (403, 200, [])
    assert len(answered) == 1 and answered[0].startswith("Send a voice note")
