"""Slack end to end: real slack-bolt and slack-sdk, signed requests to the app's HTTP listener,
a fake Web API on 127.0.0.1, the real Service (``bot.app.running``) over the tiny model."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from urllib.parse import urlencode

import httpx

from adapters import slack
from bot.app import running
from bot.settings import Secrets, from_mapping
from tests.adapters.fake_slack import signed_headers
from tests.conftest import SAMPLES, free_port

SECRET = "test-signing-secret"
VOICE = (SAMPLES / "03a02Wc__telegram_voice.oga").read_bytes()
SHARE_TS = "1700000000.000100"




def settings_for(fake, tmp_path, mode="http", privacy=None):
    return from_mapping({
        "engine": {"model": "tiny"},
        "history": {"path": str(tmp_path / "h.db")},
        "limits": {"requests_per_minute": 0},
        "privacy": privacy or {},
        "slack": {"mode": mode, "port": free_port(), "api_base_url": fake.api_url},
    }, secrets=Secrets(slack_bot_token=fake.bot_token, slack_signing_secret=SECRET,
                       slack_app_token=fake.app_token))


@contextlib.asynccontextmanager
async def real_service(settings, model):
    async with running(settings, model) as service:
        yield service


@contextlib.asynccontextmanager
async def slack_app(fake, tmp_path, model, **kw):
    """The real Service and the Slack adapter serving on 127.0.0.1; yields a signed poster."""
    settings = settings_for(fake, tmp_path, **kw)
    url = f"http://127.0.0.1:{settings.slack.port}{slack.EVENTS_PATH}"
    async with real_service(settings, model) as core:
        stop = asyncio.Event()
        task = asyncio.create_task(slack.serve(settings, core, stop))
        async with httpx.AsyncClient(timeout=10) as http:
            deadline = time.monotonic() + 20
            while True:  # until the listener answers
                try:
                    await http.post(url, content=b"")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "slack listener did not start"
                    await asyncio.sleep(0.05)

            async def post(body: str, ctype="application/x-www-form-urlencoded", **headers):
                ts = headers.pop("timestamp", None)
                secret = headers.pop("secret", SECRET)
                sig = signed_headers(body, secret, ts, ctype)
                return await http.post(url, content=body.encode(), headers={**sig, **headers})

            post.core = core
            yield post
        stop.set()
        await asyncio.wait_for(task, 30)


def command(text: str, user="U1", team="T1", channel="C1", fake=None) -> str:
    return urlencode({"command": "/emotion", "text": text, "user_id": user, "team_id": team,
                      "channel_id": channel, "trigger_id": "1.2.3",
                      "response_url": f"{fake.url}/respond/{user}-{team}-{time.monotonic_ns()}"})


def event(event_id: str, user="U1", team="T1", channel="C1", files=("F0AUDIO01",), ts=SHARE_TS,
          **extra) -> str:
    body = {"type": "event_callback", "team_id": team, "api_app_id": "A1", "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "message", "subtype": "file_share", "user": user, "channel": channel,
                      "channel_type": "channel", "ts": ts, "text": "",
                      "files": [{"id": f, "mimetype": "audio/ogg", "filetype": "ogg"}
                                for f in files], **extra}}
    return json.dumps(body)


async def wait(fake, path, count=1, timeout=30.0):
    return await asyncio.to_thread(fake.wait, path, count, timeout)


async def responses(fake, count=1):
    found = []
    deadline = time.monotonic() + 30
    while len(found) < count:
        assert time.monotonic() < deadline, f"no {count} response_url posts"
        found = [r for r in fake.records if r.path.startswith("/respond/")]
        await asyncio.sleep(0.05)
    return found


def run(coro):
    return asyncio.run(coro)


def test_file_share_then_command_replies_in_thread_with_chart_and_npy(fake, tmp_path, tiny_model):
    fake.add_file("F0AUDIO01", VOICE, user="U1", channel="C1", ts=SHARE_TS)

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            assert 200 == (await post(event("Ev1"), "application/json")).status_code
            await asyncio.sleep(0.3)
            started = time.monotonic()
            ack = await post(command("", fake=fake))
            assert 200 == ack.status_code and time.monotonic() - started < 3
            message = (await wait(fake, "/api/chat.postMessage"))[0].params
            done = (await wait(fake, "/api/files.completeUploadExternal"))[0].params
            return message, done

    message, done = run(scenario())
    assert ("C1", SHARE_TS) == (message["channel"], message["thread_ts"])
    assert "```" in message["text"] and "in the EU, emotion recognition at work" in message["text"]
    assert "/emotion forget" in message["text"]
    names = [r.params["filename"] for r in fake.calls("/api/files.getUploadURLExternal")]
    assert 1 == len(names) and names[0].endswith(".npy")
    upload = fake.wait("/upload/" + json.loads(done["files"])[0]["id"])[0]
    assert upload.body.startswith(b"\x93NUMPY")
    assert "DU1" == done["channel_id"]  # the embedding: to the requester's DM, not the channel
    paths = [r.path for r in fake.records]
    assert paths.index("/api/files.info") < paths.index("/files/F0AUDIO01/download")
    download = fake.calls("/files/F0AUDIO01/download")[0]
    assert f"Bearer {fake.bot_token}" == download.headers["authorization"]


def test_shortcut_analyses_the_messages_audio(fake, tmp_path, tiny_model):
    fake.add_file("F0AUDIO02", VOICE, user="U1")
    payload = {"type": "message_action", "callback_id": slack.SHORTCUT, "trigger_id": "1.2",
               "team": {"id": "T1"}, "user": {"id": "U1", "team_id": "T1"},
               "channel": {"id": "C1"}, "response_url": f"{fake.url}/respond/s",
               "message": {"ts": "1700000500.000200", "user": "U1",
                           "files": [{"id": "F0AUDIO02", "mimetype": "audio/ogg"}]}}

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            assert 200 == (await post(urlencode({"payload": json.dumps(payload)}))).status_code
            return (await wait(fake, "/api/chat.postMessage"))[0].params

    message = run(scenario())
    assert ("C1", "1700000500.000200") == (message["channel"], message["thread_ts"])


def test_auto_mode_analyses_once_despite_retries_and_ignores_own_uploads(fake, tmp_path,
                                                                          tiny_model):
    fake.add_file("F0AUDIO03", VOICE, user="U2", channel="C1")
    fake.add_file("FBOTFILE1", b"npy", user=fake.bot_user, channel="C1")

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            await post(event("Ev0", user="U2"), "application/json")  # auto is off: silence
            await post(command("auto on", user="U1", fake=fake))
            announced = (await responses(fake))[0].params
            body = event("Ev2", user="U2", ts="1700000600.000300", files=("F0AUDIO03",))
            for retry in ("", "1", "2"):
                extra = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
                await post(body, "application/json", **(extra if retry else {}))
            await post(event("Ev3", user="U2", files=("F0AUDIO03",), ts="1700000600.000300"),
                       "application/json")  # the same file under a new event id
            await post(event("Ev4", user=fake.bot_user, files=("FBOTFILE1",)), "application/json")
            message = (await wait(fake, "/api/chat.postMessage"))[0].params
            await wait(fake, "/api/files.completeUploadExternal")
            await asyncio.sleep(1.0)
            return announced, message

    announced, message = run(scenario())
    assert "in_channel" == announced["response_type"] and "Auto mode is on" in announced["text"]
    assert "1700000600.000300" == message["thread_ts"]
    assert 1 == len(fake.calls("/api/chat.postMessage"))
    assert 1 == len(fake.calls("/files/F0AUDIO03/download"))
    assert [] == fake.calls("/files/FBOTFILE1/download")


def test_auto_mode_survives_a_restart_without_answering_twice(fake, tmp_path, tiny_model):
    fake.add_file("F0AUDIO11", VOICE, user="U1", channel="C1")
    fake.add_file("F0AUDIO12", VOICE, user="U1", channel="C1", ts="1700000700.000400")

    async def first_run():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            await post(command("auto on", fake=fake))
            await responses(fake)  # auto mode is stored before the file arrives
            await post(event("Ev7", files=("F0AUDIO11",)), "application/json")
            await wait(fake, "/api/files.completeUploadExternal")
            # accepted just before a crash, never answered
            origin = slack.Origin("T1", "T1", "U1", "C1", "channel", "1700000700.000400")
            req = slack.audio_request(origin, fake.files["F0AUDIO12"][0], None, False, "auto")
            payload = {"origin": vars(origin), "file": "F0AUDIO12", "explicit": False}
            assert await asyncio.to_thread(post.core.history.add_job, "slack", req.ref,
                                           req.sender.key, req.chat, payload) is not None

    async def second_run():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            await post(event("Ev7", files=("F0AUDIO11",)), "application/json",
                       **{"X-Slack-Retry-Num": "3"})
            await wait(fake, "/api/chat.postMessage", 2)
            await asyncio.sleep(1.0)

    run(first_run())
    run(second_run())
    threads = [r.params["thread_ts"] for r in fake.calls("/api/chat.postMessage")]
    assert [SHARE_TS, "1700000700.000400"] == threads

