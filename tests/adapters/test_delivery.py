"""Every answer delivered exactly once, however long the platform makes it wait: the real
python-telegram-bot and slack-bolt against fake servers that rate-limit the way Telegram and
Slack do, with the real core (``bot.app.running``) and the tiny model. Waits are scaled down:
the platform names a few seconds where the real ones name minutes; the bot's own backoff is
set far below them, so every wait seen here is the one the platform asked for."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import httpx

from adapters import slack
from adapters.telegram import serve
from bot import app
from bot.history import History
from bot.settings import Secrets, from_mapping
from tests.adapters import fake_telegram as fake
from tests.adapters.fake_slack import FakeSlack, signed_headers
from tests.conftest import SAMPLES, free_port

VOICE = (SAMPLES / "03a02Wc__telegram_voice.oga").read_bytes()
QUICK = {"first_wait_s": 0.05, "max_wait_s": 0.1}  # far below any wait the fakes ask for


def telegram_settings(tg, tmp_path, **delivery):
    return from_mapping({
        "engine": {"model": "tiny", "device": "cpu"},
        "history": {"path": str(tmp_path / "h.db")},
        "limits": {"requests_per_minute": 0, "daily_audio_seconds": 0},
        "telegram": {"base_url": tg.base_url, "base_file_url": tg.base_file_url},
        "delivery": {**QUICK, **delivery},
    }, secrets=Secrets(telegram_bot_token=fake.TOKEN))


async def telegram_bot(settings, model, tg, body):
    """Run the bot until ``body()`` returns; then stop it (a restart, when called again)."""
    async with app.running(settings, model) as core:
        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, core, stop))
        try:
            await asyncio.to_thread(tg.wait_for, lambda: tg.recorded("setMyCommands"), 30)
            return await body(core)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


def delivered(tg, chat_id):
    """(messages, documents) that reached the chat; a document by its kind (its name less the
    time stamp)."""
    return ([c.params["text"] for c in tg.sent(chat_id)],
            [c.files["document"][0].rsplit("_", 1)[0] for c in tg.sent(chat_id, "sendDocument")])


def test_flood_control_is_waited_out_across_a_restart_and_no_part_is_sent_twice(
        tmp_path, tiny_model):
    with fake.FakeTelegram() as tg:
        tg.flood_control(per_chat_s=3.0)  # the chart goes; the embedding must wait 3 s
        tg.add_file("v1", VOICE)
        settings = telegram_settings(tg, tmp_path)

        async def until_refused(core):
            tg.push({"message": fake.message(5, 5, **fake.voice("v1", len(VOICE)))})
            await asyncio.to_thread(tg.wait_for, lambda: tg.refused(5), 60)
            return delivered(tg, 5)

        first = asyncio.run(telegram_bot(settings, tiny_model, tg, until_refused))
        history = History.from_settings(settings)
        try:  # the wait Telegram asked for and the part already sent are in the journal
            (job,) = history.pending_jobs("telegram")
        finally:
            history.close()
        refused_at = tg.refused(5)[0].at

        async def until_delivered(core):
            await asyncio.to_thread(tg.wait_for, lambda: tg.sent(5, "sendDocument"), 60)
            for _ in range(500):  # a bounded poll until the journal closes the job
                if await core.idle():
                    return delivered(tg, 5)
                await asyncio.sleep(0.02)
            raise AssertionError("the job never finished")

        second = asyncio.run(telegram_bot(settings, tiny_model, tg, until_delivered))

    assert (1, [], 1) == (len(first[0]), first[1], job["sent_parts"])
    assert (first[0], ["embedding_utterance_32d"]) == second  # each part once, in order
    assert 1 == len(tg.refused(5))  # nothing was sent while Telegram said wait
    assert tg.sent(5, "sendDocument")[0].at - refused_at >= 2.0  # the 3 s wait, less rounding


def test_a_ban_longer_than_the_old_patience_is_waited_out_in_one_wait(tmp_path, tiny_model):
    """Telegram says retry_after 4 s; the bot's own backoff would retry after 0.05 s: it must
    send nothing for those 4 s, then everything once."""
    with fake.FakeTelegram() as tg:
        tg.add_file("v1", VOICE)
        tg.ban(6, 4.0)
        settings = telegram_settings(tg, tmp_path)

        async def body(core):
            tg.push({"message": fake.message(6, 6, **fake.voice("v1", len(VOICE)))})
            await asyncio.to_thread(tg.wait_for, lambda: tg.sent(6, "sendDocument"), 60)
            return delivered(tg, 6)

        messages, documents = asyncio.run(telegram_bot(settings, tiny_model, tg, body))

    assert (1, ["embedding_utterance_32d"]) == (len(messages), documents)
    assert 1 == len(tg.refused(6))


# --- Slack ------------------------------------------------------------------------------------

SECRET = "signing-secret"


def test_slack_rate_limit_on_posting_is_waited_out_and_never_called_a_failed_download(
        tmp_path, tiny_model):
    slack_fake = FakeSlack()
    slack_fake.rate_limit(per_s=3.0)  # Slack allows about one message per second per channel
    slack_fake.add_file("F0AUDIO01", VOICE, user="U1", channel="C1")
    slack_fake.add_file("F0AUDIO02", VOICE, user="U1", channel="C1", ts="1700000700.000400")
    port = free_port()
    settings = from_mapping({
        "engine": {"model": "tiny"},
        "history": {"path": str(tmp_path / "h.db")},
        "limits": {"requests_per_minute": 0},
        "slack": {"mode": "http", "port": port, "api_base_url": slack_fake.api_url},
        "delivery": QUICK,
    }, secrets=Secrets(slack_bot_token=slack_fake.bot_token, slack_signing_secret=SECRET))
    url = f"http://127.0.0.1:{port}{slack.EVENTS_PATH}"

    def share(event_id, file_id, ts):
        return json.dumps({
            "type": "event_callback", "team_id": "T1", "api_app_id": "A1",
            "event_id": event_id, "event_time": int(time.time()),
            "event": {"type": "message", "subtype": "file_share", "user": "U1", "channel": "D1",
                      "channel_type": "im", "ts": ts, "text": "",
                      "files": [{"id": file_id, "mimetype": "audio/ogg", "filetype": "ogg"}]}})

    async def main():
        async with app.running(settings, tiny_model) as core:
            stop = asyncio.Event()
            task = asyncio.create_task(slack.serve(settings, core, stop))
            try:
                async with httpx.AsyncClient(timeout=10) as http:
                    for _ in range(400):  # until the listener answers
                        with contextlib.suppress(httpx.TransportError):
                            await http.post(url, content=b"")
                            break
                        await asyncio.sleep(0.05)
                    for n, (file_id, ts) in enumerate((("F0AUDIO01", "1700000600.000100"),
                                                       ("F0AUDIO02", "1700000700.000400"))):
                        body = share(f"Ev{n}", file_id, ts)
                        headers = signed_headers(body, SECRET, None, "application/json")
                        assert 200 == (await http.post(url, content=body.encode(),
                                                       headers=headers)).status_code
                for _ in range(3000):  # a bounded poll: both answered, nothing left to do
                    posted = [r for r in slack_fake.calls("/api/chat.postMessage")
                              if r not in slack_fake.ratelimited("/api/chat.postMessage")]
                    if len(posted) >= 2 and await core.idle():
                        return posted
                    await asyncio.sleep(0.02)
                raise AssertionError("the answers never arrived")
            finally:
                stop.set()
                await asyncio.wait_for(task, 30)

    try:
        posted = asyncio.run(main())
    finally:
        slack_fake.close()
    texts = [r.params.get("text", "") for r in posted]
    assert 2 == len(posted)  # each answer once
    assert ["1700000600.000100", "1700000700.000400"] == sorted(
        r.params.get("thread_ts") for r in posted)
    assert [] == [t for t in texts if "couldn't download" in t]
    assert slack_fake.ratelimited("/api/chat.postMessage")  # Slack did say wait


