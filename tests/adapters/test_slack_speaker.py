"""Slack, as people in shared channels use it: whose voice a record is, the embedding kept out of
the channel, video clips, stub file events, and answers that say what happened. Real slack-bolt
and slack-sdk against the fake Web API, the real Service over the tiny model."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlencode

from adapters import slack
from adapters.slack_render import mrkdwn
from bot.messages import text
from bot.reply import Reply
from tests.adapters.fake_slack import CLIP, file_stub
from tests.adapters.test_slack import (
    SHARE_TS, VOICE, command, responses, run, slack_app, wait)
from tests.conftest import ROOT

VIDEO = (ROOT / "tests" / "fixtures" / "bad" / "video_note_h264_aac.mp4").read_bytes()


def said(key: str, **params) -> str:
    """A catalogue line as the app writes it on Slack."""
    return mrkdwn(Reply((), headline=text(key, "en", **params)))


def uploads_to(fake, channel: str) -> list[str]:
    return [f["title"] for r in fake.calls("/api/files.completeUploadExternal")
            if r.params.get("channel_id") == channel for f in json.loads(r.params["files"])]


def raw_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


def test_the_speakers_voice_is_theirs_to_export_and_forget(fake, tmp_path, tiny_model):
    fake.add_file("F0AUDIO21", VOICE, user="U1", channel="C1")
    db = tmp_path / "h.db"

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            await post(command("F0AUDIO21", user="U2", fake=fake))
            refusal = (await responses(fake))[0].params["text"]
            await post(command("consent on", user="U1", fake=fake))
            await responses(fake, 2)
            await post(command("F0AUDIO21", user="U2", fake=fake))
            message = (await wait(fake, "/api/chat.postMessage"))[0].params
            done = await wait(fake, "/api/files.completeUploadExternal")
            upload = fake.wait("/upload/" + json.loads(done[0].params["files"])[0]["id"])[0]
            marker = upload.body[-32 * 4:]  # the .npy's float32 payload: the stored embedding
            before = marker in raw_bytes(db)
            await post(command("export", user="U1", fake=fake))
            export = (await responses(fake, 3))[2].params["text"]
            await wait(fake, "/api/files.completeUploadExternal", 2)
            await post(command("forget confirm", user="U1", fake=fake))
            forgot = (await responses(fake, 4))[3].params["text"]
            return refusal, message, marker, before, export, forgot

    refusal, message, marker, before, export, forgot = run(scenario())
    assert said("privacy.not_owner.slack") == refusal and "/optin" not in refusal
    assert ("C1", SHARE_TS) == (message["channel"], message["thread_ts"])
    assert message["text"].endswith(said("aside.sent.slack"))
    assert [] == uploads_to(fake, "C1")  # the channel never gets U1's voice embedding
    assert 1 == len(uploads_to(fake, "DU2")) and uploads_to(fake, "DU2")[0].endswith(".npy")
    assert (said("export.done", count=1, embeddings=1) + "\n\n" + said("slack.files_in_dm")
            == export)
    assert ["history.csv", "history.json", "embeddings.npz"] == uploads_to(fake, "DU1")
    assert said("forget.done", records=1) == forgot
    assert before
    with sqlite3.connect(db) as conn:
        assert [] == conn.execute("SELECT user, speaker FROM records").fetchall()
    assert marker not in raw_bytes(db)


def test_a_slack_video_clip_is_analysed_from_the_shortcut(fake, tmp_path, tiny_model):
    fake.add_file("F0CLIP001", VIDEO, user="U1", **CLIP)
    payload = {"type": "message_action", "callback_id": slack.SHORTCUT, "trigger_id": "9.9",
               "team": {"id": "T1"}, "user": {"id": "U1", "team_id": "T1"},
               "channel": {"id": "C1"}, "response_url": f"{fake.url}/respond/clip",
               "message": {"ts": "1700000800.000100", "user": "U1",
                           "files": [{"id": "F0CLIP001", **CLIP}]}}

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            await post(urlencode({"payload": json.dumps(payload)}))
            return (await wait(fake, "/api/chat.postMessage"))[0].params

    message = run(scenario())
    assert "1700000800.000100" == message["thread_ts"] and "```" in message["text"]
    assert 1 == len(fake.calls("/files/F0CLIP001/download"))


def test_a_stub_file_event_is_read_and_plain_emotion_says_what_is_missing(fake, tmp_path,
                                                                          tiny_model):
    fake.add_file("F0STUB001", VOICE, user="U1", channel="C1", ts="1700000900.000100")
    share = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "EvS",
             "event_time": 1700000900,
             "event": {"type": "message", "subtype": "file_share", "user": "U1", "channel": "C1",
                       "channel_type": "channel", "ts": "1700000900.000100", "text": "",
                       "files": [file_stub("F0STUB001")]}}

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            await post(command("", user="U1", fake=fake))
            nothing_yet = (await responses(fake))[0].params["text"]
            await post(json.dumps(share), "application/json")
            await wait(fake, "/api/files.info")
            deadline = time.monotonic() + 30  # until the event's file is the latest upload
            while await post.core.latest_file("slack:T1:U1", "slack:T1:C1") is None:
                assert time.monotonic() < deadline, "the shared file was never recorded"
                await asyncio.sleep(0.05)
            await post(command("", user="U1", fake=fake))
            message = (await wait(fake, "/api/chat.postMessage"))[0].params
            link = "<https://example.slack.com/archives/C1/p1700000900000100>"
            await post(command(link, user="U1", fake=fake))
            await post(command("trend", user="U1", fake=fake))
            later = [r.params["text"] for r in await responses(fake, 3)][1:]
            return nothing_yet, message, later

    nothing_yet, message, (link, trend) = run(scenario())
    assert said("slack.no_upload") == nothing_yet
    assert "upload an audio file first, then run /emotion" in nothing_yet
    assert "1700000900.000100" == message["thread_ts"]
    assert said("slack.message_link") == link
    assert said("cmd.trend.title") + "\n\n" + said("slack.files_in_dm") == trend
    assert ["trend.png"] == uploads_to(fake, "DU1")[-1:]
