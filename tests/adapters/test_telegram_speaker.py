"""Telegram, as people in groups use it: whose voice a record is, files that stay out of the group,
shared identities, and nothing a person sends going unanswered. Real python-telegram-bot against
the fake Bot API, the real Service over the tiny model (``bot_world`` from ``test_telegram``)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from bot.messages import text
from tests.adapters import fake_telegram as fake
from tests.adapters.test_telegram import (
    GROUP, VOICE, npy_arrays, texts, voice_update)
from tests.conftest import ROOT

VIDEO = (ROOT / "tests" / "fixtures" / "bad" / "video_note_h264_aac.mp4").read_bytes()
A, B = 7, 8  # A speaks, B asks


def documents(tg, chat_id):
    return [c.files["document"] for c in tg.sent(chat_id, "sendDocument")]


def raw_bytes(db: Path) -> bytes:
    """Everything SQLite has on disk for the database: the file and its WAL."""
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


def test_the_speakers_forget_deletes_their_voice_filed_under_someone_else(bot_world, tmp_path):
    db = tmp_path / "h.db"

    async def body(tg, until):
        tg.add_file("v1", VOICE)
        tg.push(fake.command(GROUP, A, "/optin"))
        await until(lambda: texts(tg, GROUP))
        note = voice_update(GROUP, A)["message"]  # A's note, in the group
        tg.push(fake.command(GROUP, B, "/emotion", reply_to=note))
        private = await until(lambda: npy_arrays(tg, B))  # the embedding: to B alone
        room = await until(lambda: texts(tg, GROUP)[1:])
        marker = private[0].astype(np.float32).tobytes()
        before = marker in raw_bytes(db)
        tg.push(fake.command(A, A, "/export"))
        export = await until(lambda: [f for f in documents(tg, A) if f[0] == "history.json"])
        tg.push(fake.command(A, A, "/forget"))
        ask = await until(lambda: [c for c in tg.sent(A) if c.params.get("reply_markup")])
        tg.push(fake.callback(A, A, "forget confirm", ask[0].params.get("message_id", 1)))
        done = await until(lambda: tg.recorded("editMessageText"))
        return (room, texts(tg, B), npy_arrays(tg, GROUP), json.loads(export[0][1]), marker,
                before, done[0].params["text"])

    room, to_b, in_group, exported, marker, before, forgot = bot_world(body)
    assert text("aside.sent", "en") in room[0]  # the result stays in the group, and says so
    assert [] == in_group  # nobody in the group can download A's voice embedding
    assert [text("aside.heading", "en")] == to_b
    assert [("telegram:-100777", "yours")] == [(r["chat"], r["voice"]) for r in exported]
    assert text("forget.done", "en", records=1) == forgot
    assert before  # the marker was on disk, so its absence below means something
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT user, speaker FROM records").fetchall()
        jobs = conn.execute("SELECT user FROM jobs WHERE user = 'telegram:7' OR "
                            "payload LIKE '%telegram:7%'").fetchall()
    assert ([], []) == (rows, jobs)
    assert marker not in raw_bytes(db)


def test_the_embedding_waits_for_a_private_chat_and_the_group_is_told_why(bot_world):
    async def body(tg, until):
        tg.add_file("v1", VOICE)
        tg.forbidden.add(B)  # B never opened a chat with the bot
        own = voice_update(GROUP, B)["message"]
        tg.push(fake.command(GROUP, B, "/emotion", reply_to=own))
        return await until(lambda: texts(tg, GROUP))

    room = bot_world(body)
    assert 1 == len(room) and room[0].endswith(text("aside.missed", "en"))


def test_shared_identities_are_refused_clearly(bot_world):
    anonymous_note = fake.as_shared(voice_update(GROUP, 1)["message"], fake.ANONYMOUS_ADMIN)
    channel_post = fake.as_shared(voice_update(GROUP, 1)["message"], fake.CHANNEL_SERVICE)

    async def body(tg, until):
        tg.add_file("v1", VOICE)
        optin = fake.command(GROUP, 1, "/optin")
        optin["message"] = fake.as_shared(optin["message"], fake.ANONYMOUS_ADMIN)
        tg.push(optin)
        await until(lambda: texts(tg, GROUP))
        ask = fake.command(GROUP, 1, "/emotion", reply_to=anonymous_note)
        ask["message"] = fake.as_shared(ask["message"], fake.ANONYMOUS_ADMIN)
        tg.push(ask)
        await until(lambda: len(texts(tg, GROUP)) == 2)
        tg.push(fake.command(GROUP, B, "/emotion", reply_to=anonymous_note))
        await until(lambda: len(texts(tg, GROUP)) == 3)
        tg.push(fake.command(GROUP, B, "/emotion", reply_to=channel_post))
        return await until(lambda: texts(tg, GROUP)[3:]) and (texts(tg, GROUP),
                                                                tg.recorded("getFile"))

    answers, downloads = bot_world(body)
    assert [text("privacy.shared_sender", "en"), text("privacy.shared_sender", "en"),
            text("privacy.shared_speaker", "en"), text("privacy.shared_speaker", "en")] == answers
    assert [] == downloads


def test_a_private_chat_answers_text_photos_stickers_videos_and_hidden_forwards(bot_world):
    async def body(tg, until):
        tg.add_file("vid", VIDEO)
        tg.add_file("v1", VOICE)
        for fields in ({"text": "hello?"}, fake.photo(), fake.sticker()):
            tg.push({"message": fake.message(5, 5, **fields)})
        await until(lambda: len(texts(tg, 5)) == 3)
        tg.push({"message": fake.message(5, 5, **fake.video("vid", len(VIDEO)))})
        video = await until(lambda: npy_arrays(tg, 5))
        tg.push({"message": fake.message(5, 5, **fake.voice("v1", len(VOICE), 36_000_000))})
        await until(lambda: len(npy_arrays(tg, 5)) == 2)
        tg.push(voice_update(5, 5, **fake.hidden_forward()))
        await until(lambda: len(texts(tg, 5)) == 6)
        return texts(tg, 5), video

    answers, video = bot_world(body)
    assert [text("hint.send_audio", "en")] * 3 == answers[:3]
    assert "<pre>" in answers[3] and video[0].shape == (32,)  # the video's sound was analysed
    assert "<pre>" in answers[4] and "cut off" not in answers[4]  # 10,000 hours declared
    assert text("privacy.forwarded", "en") == answers[5]  # an unknown speaker stays refused
