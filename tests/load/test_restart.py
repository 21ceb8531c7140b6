"""Killed mid-queue and started again: a real ``python -m bot run`` against the fake Telegram and
Slack is SIGKILLed while accepted notes wait for ffmpeg, then started again. Every note is
answered exactly once: journaled ones are resumed, answered ones are not repeated, and updates
Telegram sends again are ignored."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.adapters import fake_telegram as fake
from tests.adapters.fake_slack import FakeSlack
from tests.conftest import ROOT
from tests.load.world import (SECRET, VOICE, config, is_result, jobs, records, slack_answers,
                              telegram_answers)

pytestmark = pytest.mark.load

TG_NOTES, SLACK_NOTES = 40, 6


def toml(raw: dict) -> str:
    return "".join(f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
                   for name, values in raw.items())


def gated_ffmpeg(folder: Path, gate: Path) -> None:
    """An ``ffmpeg`` first on PATH that waits (at most 30 s) while ``gate`` exists."""
    folder.mkdir()
    real = shutil.which("ffmpeg")
    (folder / "ffmpeg").write_text(
        f"#!/bin/sh\nn=0\nwhile [ -e {gate} ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); "
        f"done\nexec {real} \"$@\"\n")
    (folder / "ffmpeg").chmod(0o755)


def start(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own group: the kill takes ffmpeg too


def wait(predicate, timeout: float, proc: subprocess.Popen | None = None, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the bot exited with {proc.returncode} while waiting: {what}")
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def quiet(tg, sl, for_s: float = 1.5, timeout: float = 30.0) -> None:
    """Until nothing new has been sent for ``for_s`` seconds."""
    def count():
        return len(tg.sent()) + len(sl.calls("/api/chat.postMessage"))
    last, since = count(), time.monotonic()
    deadline = since + timeout
    while time.monotonic() - since < for_s:
        assert time.monotonic() < deadline, "the bot kept sending"
        time.sleep(0.1)
        if count() != last:
            last, since = count(), time.monotonic()


def post_dm(sl: FakeSlack, url: str, user: str, file_id: str, ts: str, retry: int = 0) -> None:
    import httpx

    from tests.adapters.fake_slack import signed_headers

    body = json.dumps({
        "type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": f"Ev{file_id}",
        "event_time": int(time.time()),
        "event": {"type": "message", "subtype": "file_share", "user": user, "channel": "D" + user,
                  "channel_type": "im", "ts": ts, "text": "",
                  "files": [{"id": file_id, "mimetype": "audio/ogg", "filetype": "ogg"}]}})
    headers = signed_headers(body, SECRET, None, "application/json")
    if retry:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    assert 200 == httpx.post(url, content=body.encode(), headers=headers, timeout=10).status_code


def listening(url: str) -> bool:
    """The Slack listener answers HTTP (any status): a readiness probe, retried by ``wait``."""
    import httpx

    try:
        httpx.post(url, content=b"", timeout=2)
        return True
    except httpx.TransportError:
        return False


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


def test_killed_mid_queue_then_restarted_answers_every_note_once(tmp_path, tiny_model_dir):
    gate = tmp_path / "gate"
    gated_ffmpeg(tmp_path / "bin", gate)
    procs: list[subprocess.Popen] = []
    with fake.FakeTelegram() as tg:
        sl = FakeSlack()
        try:
            raw = config(tmp_path, tiny_model_dir, tg, sl, audio={"decode_timeout_s": 60},
                         telegram={"concurrent_updates": 8})
            (tmp_path / "config.toml").write_text(toml(raw))
            env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
                   "EMOTION_BOT_CONFIG": str(tmp_path / "config.toml"),
                   "TELEGRAM_BOT_TOKEN": fake.TOKEN, "SLACK_BOT_TOKEN": sl.bot_token,
                   "SLACK_SIGNING_SECRET": SECRET}
            slack_url = f"http://127.0.0.1:{raw['slack']['port']}/slack/events"
            db, log = raw["history"]["path"], tmp_path / "bot.log"

            procs.append(start(env, log))
            wait(lambda: tg.recorded("setMyCommands"), 90, procs[0], "first start")
            wait(lambda: listening(slack_url), 60, procs[0], "the Slack listener")
            sent = []
            for n in range(TG_NOTES):
                uid = 5001 + n % 20
                tg.add_file(f"k{n}", VOICE)
                sent.append(fake.message(uid, uid, **fake.voice(f"k{n}", len(VOICE))))
                tg.push({"message": sent[-1]})
            dms = []
            for n in range(SLACK_NOTES):
                user, ts = f"UK{n}", f"1700001000.{n:06d}"
                sl.add_file(f"FKILL{n}", VOICE, user=user, channel="D" + user, ts=ts)
                post_dm(sl, slack_url, user, f"FKILL{n}", ts)
                dms.append(("D" + user, ts))
            wait(lambda: len(telegram_answers(tg)) >= 10, 60, procs[0], "first answers")
            gate.touch()  # from now on every decode waits: accepted notes queue up
            quiet(tg, sl)
            before = telegram_answers(tg), slack_answers(sl)
            waiting = jobs(db)
            os.killpg(procs[0].pid, signal.SIGKILL)
            procs[0].wait(10)
            gate.unlink()

            for msg in sent[:3] + sent[-3:]:  # Telegram sends some again, answered or not
                tg.push({"message": msg})
            procs.append(start(env, log))
            wait(lambda: tg.recorded("setMyCommands") and len(tg.recorded("setMyCommands")) >= 4,
                 90, procs[1], "second start")
            wait(lambda: listening(slack_url), 60, procs[1], "the Slack listener again")
            post_dm(sl, slack_url, "UK0", "FKILL0", dms[0][1], retry=1)  # a late Slack retry
            notes = [(m["chat"]["id"], m["message_id"]) for m in sent]
            wait(lambda: set(notes) <= set(telegram_answers(tg))
                 and set(dms) <= set(slack_answers(sl)), 120, procs[1], "all answered")
            quiet(tg, sl)
            after_tg, after_sl = telegram_answers(tg), slack_answers(sl)
            batches = metric(raw["server"]["port"], "emotion_bot_batch_size_count")
            procs[1].send_signal(signal.SIGTERM)
            assert 0 == procs[1].wait(40)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
            sl.close()
    answered_before = len(before[0]) + len(before[1])
    print(f"\nkilled with {answered_before} answered, open jobs {dict(waiting)}; {batches:.0f} batches")
    assert 0 < answered_before < TG_NOTES + SLACK_NOTES  # killed mid-queue
    assert waiting["running"] + waiting["pending"] == TG_NOTES + SLACK_NOTES - answered_before
    answers = [after_tg[k] for k in notes] + [after_sl[k] for k in dms]
    assert [1] * (TG_NOTES + SLACK_NOTES) == [len(a) for a in answers]
    assert TG_NOTES + SLACK_NOTES == len(after_tg) + len(after_sl)  # nothing else was sent
    assert TG_NOTES + SLACK_NOTES == sum(is_result(a[0]) for a in answers) == records(db)
    assert {"done": TG_NOTES + SLACK_NOTES} == dict(jobs(db))
    assert batches >= TG_NOTES + SLACK_NOTES - answered_before  # the engine's figures, live
