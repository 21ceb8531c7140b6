"""The whole bot as users meet it: ``bot.runner.run`` (both platforms, one engine, one history)
in a thread of its own, the fake Telegram and fake Slack on 127.0.0.1, the tiny model. Plus what
the load and fault tests count: answers per voice note, history rows, open jobs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from adapters import slack
from bot.settings import Secrets, from_mapping
from tests.adapters import fake_telegram as fake
from tests.adapters.fake_slack import FakeSlack, signed_headers
from tests.conftest import SAMPLES, free_port

VOICE = (SAMPLES / "03a02Wc__telegram_voice.oga").read_bytes()
SECRET = "load-signing-secret"
_ts = iter(range(1, 10**9))




def config(tmp_path: Path, model_dir: Path, tg: fake.FakeTelegram, sl: FakeSlack,
           **sections) -> dict:
    """Settings for the load world: limits off (they are not what is measured), short polls."""
    base = {
        "engine": {"model": str(model_dir), "device": "cpu", "max_queue_clips": 512},
        "history": {"path": str(tmp_path / "h.db")},
        "limits": {"requests_per_minute": 0, "daily_audio_seconds": 0},
        "telegram": {"base_url": tg.base_url, "base_file_url": tg.base_file_url,
                     "poll_timeout_s": 1},
        "slack": {"port": free_port(), "api_base_url": sl.api_url},
        "server": {"port": free_port(), "drain_timeout_s": 20},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return base


class World:
    """``with World(tmp_path, model_dir, audio={...}) as w:`` runs the bot until the block ends."""

    def __init__(self, tmp_path: Path, model_dir: Path, **sections) -> None:
        self.tg = fake.FakeTelegram()
        self.slack = FakeSlack()
        self.raw = config(tmp_path, model_dir, self.tg, self.slack, **sections)
        self.settings = from_mapping(self.raw, secrets=Secrets(
            telegram_bot_token=fake.TOKEN, slack_bot_token=self.slack.bot_token,
            slack_signing_secret=SECRET))
        self.db = self.raw["history"]["path"]
        self.slack_url = f"http://127.0.0.1:{self.raw['slack']['port']}{slack.EVENTS_PATH}"
        self.error: BaseException | None = None

    def __enter__(self) -> World:
        from bot.runner import run

        self.tg.__enter__()
        ready = threading.Event()

        def main() -> None:
            async def go() -> None:
                self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
                ready.set()
                await run(self.settings, self.stop)

            try:
                asyncio.run(go())
            except BaseException as err:  # surfaced by __exit__
                self.error = err
                ready.set()

        self.thread = threading.Thread(target=main, name="bot", daemon=True)
        self.thread.start()
        assert ready.wait(30), "the bot's loop did not start"
        self.tg.wait_for(lambda: self.tg.recorded("setMyCommands") or self.error, 60)
        deadline = time.monotonic() + 30
        while self.error is None:  # until the Slack listener answers
            try:
                httpx.post(self.slack_url, content=b"", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "slack listener did not start"
                time.sleep(0.05)
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.thread.is_alive():
                self.loop.call_soon_threadsafe(self.stop.set)
            self.thread.join(60)
            assert not self.thread.is_alive(), "the bot did not stop within 60 s"
        finally:
            self.tg.__exit__()
            self.slack.close()
        if self.error is not None and exc[0] is None:
            raise self.error

    # --- what users do ---------------------------------------------------------------------------

    def voice(self, user_id: int, file_id: str, chat_id: int | None = None) -> dict:
        """A voice note from ``user_id`` in their private chat; returns the message dict."""
        self.tg.add_file(file_id, VOICE)
        msg = fake.message(chat_id or user_id, user_id, **fake.voice(file_id, len(VOICE)))
        self.tg.push({"message": msg})
        return msg

    def slack_dm(self, user: str, file_id: str, retries: int = 0) -> str:
        """``user`` shares an audio file in their DM with the app; returns the thread ts. With
        ``retries`` Slack delivers the same event that many more times."""
        ts = f"1700000000.{next(_ts):06d}"
        channel = "D" + user
        self.slack.add_file(file_id, VOICE, user=user, channel=channel, ts=ts)
        body = json.dumps({
            "type": "event_callback", "team_id": "T1", "api_app_id": "A1",
            "event_id": f"Ev{file_id}", "event_time": int(time.time()),
            "event": {"type": "message", "subtype": "file_share", "user": user,
                      "channel": channel, "channel_type": "im", "ts": ts, "text": "",
                      "files": [{"id": file_id, "mimetype": "audio/ogg", "filetype": "ogg"}]}})
        for n in range(retries + 1):
            extra = {"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"} if n else {}
            self.post_slack(body, "application/json", **extra)
        return ts

    def post_slack(self, body: str, ctype: str = "application/x-www-form-urlencoded",
                   **headers) -> int:
        sig = signed_headers(body, SECRET, None, ctype)
        return httpx.post(self.slack_url, content=body.encode(), headers={**sig, **headers},
                          timeout=10).status_code

    # --- what the tests count --------------------------------------------------------------------

    def wait(self, predicate, timeout: float = 90.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.error is None, self.error
            result = predicate()
            if result:
                return result
            time.sleep(0.1)
        raise AssertionError(f"not done within {timeout} s")


def telegram_answers(tg: fake.FakeTelegram) -> dict[tuple[int, int], list[str]]:
    """(chat, replied-to message) -> the texts of the messages sent in reply."""
    found: dict[tuple[int, int], list[str]] = {}
    for call in tg.sent():
        params = call.params.get("reply_parameters")
        if isinstance(params, dict):
            key = (int(call.params["chat_id"]), int(params["message_id"]))
            found.setdefault(key, []).append(call.params["text"])
    return found


def slack_answers(sl: FakeSlack) -> dict[tuple[str, str], list[str]]:
    """(channel, thread) -> the texts posted in that thread."""
    found: dict[tuple[str, str], list[str]] = {}
    for rec in sl.calls("/api/chat.postMessage"):
        key = (rec.params.get("channel"), rec.params.get("thread_ts"))
        found.setdefault(key, []).append(rec.params.get("text", ""))
    return found


def is_result(text: str) -> bool:
    """A reply with a result shows the chart (``<pre>`` on Telegram, a code block on Slack)."""
    return "<pre>" in text or "```" in text


def records(db: str) -> int:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return conn.execute("SELECT count(*) FROM records").fetchone()[0]


def jobs(db: str) -> Counter:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return Counter(row[0] for row in conn.execute("SELECT status FROM jobs"))
