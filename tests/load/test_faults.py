"""Faults under load, each injected into the whole running bot: every voice note is still
answered exactly once (a result or a clear refusal) and the history matches the results."""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from urllib.parse import urlencode

import pytest

from bot import audio, errors
from bot.messages import describe, text
from tests.adapters import fake_telegram as fake
from tests.load.world import (VOICE, World, is_result, jobs, records, slack_answers,
                              telegram_answers)

pytestmark = pytest.mark.load

N = 16


def send_notes(w: World, n: int = N, first_user: int = 3001) -> list[tuple[int, int]]:
    return [(uid, w.voice(uid, f"f{uid}")["message_id"])
            for uid in range(first_user, first_user + n)]


def settle(w: World, notes, threads=(), timeout: float = 90.0):
    """Wait until every note has an answer and the journal holds no unfinished job (then the
    bot has nothing more to send: a late duplicate or a missing part would be a bug)."""
    w.wait(lambda: set(notes) <= set(telegram_answers(w.tg))
           and set(threads) <= set(slack_answers(w.slack)), timeout)
    w.wait(lambda: not (jobs(w.db).keys() & {"pending", "running"}), timeout)
    tg, sl = telegram_answers(w.tg), slack_answers(w.slack)
    return [tg[k] for k in notes], [sl[k] for k in threads], tg, sl


def test_an_engine_batch_that_fails_costs_one_clear_refusal(tmp_path, tiny_model_dir,
                                                            monkeypatch):
    from engine.engine import Engine

    real, batches = Engine._run, itertools.count(1)

    def fails_once(self, jobs_):
        if next(batches) == 5:
            raise RuntimeError("injected: this batch fails")
        return real(self, jobs_)

    monkeypatch.setattr(Engine, "_run", fails_once)
    with World(tmp_path, tiny_model_dir, engine={"max_batch_size": 1}) as w:
        answers, _, tg, _ = settle(w, send_notes(w))
    assert [1] * N == [len(a) for a in answers] and N == len(tg)
    refusals = [a[0] for a in answers if not is_result(a[0])]
    assert [text("error.internal", "en")] == refusals
    assert N - 1 == records(w.db)
    assert {"done": N - 1, "failed": 1} == dict(jobs(w.db))


def test_a_hanging_ffmpeg_is_killed_at_the_deadline_and_only_its_note_refused(
        tmp_path, tiny_model_dir, monkeypatch):
    real = audio.FFMPEG if os.path.isabs(audio.FFMPEG) else __import__("shutil").which("ffmpeg")
    marker, pid_file = tmp_path / "hung-once", tmp_path / "hung.pid"
    script = tmp_path / "ffmpeg"
    script.write_text(f"#!/bin/sh\nif mkdir {marker} 2>/dev/null; then echo $$ > {pid_file}; "
                      f"exec sleep 600; fi\nexec {real} \"$@\"\n")
    script.chmod(0o755)
    monkeypatch.setattr(audio, "FFMPEG", str(script))
    with World(tmp_path, tiny_model_dir, audio={"decode_timeout_s": 3}) as w:
        answers, _, tg, _ = settle(w, send_notes(w))
    assert [1] * N == [len(a) for a in answers] and N == len(tg)
    refusals = [a[0] for a in answers if not is_result(a[0])]
    assert [describe(errors.DecodeTimeout("injected"), "en")] == refusals
    assert N - 1 == records(w.db)
    hung = int(pid_file.read_text())
    assert not os.path.exists(f"/proc/{hung}"), "the hung ffmpeg is still running"


def test_a_locked_database_delays_work_but_loses_none(tmp_path, tiny_model_dir):
    with World(tmp_path, tiny_model_dir) as w:
        lock = sqlite3.connect(w.db, timeout=30, isolation_level=None)
        try:
            lock.execute("BEGIN EXCLUSIVE")
            notes = send_notes(w)
            threads = [("DU9" + str(n), w.slack_dm(f"U9{n}", f"FLOCK{n}")) for n in range(4)]
            time.sleep(3.0)
            while_locked = len(telegram_answers(w.tg)) + len(slack_answers(w.slack))
        finally:
            lock.execute("COMMIT")
            lock.close()
        answers, slack_, tg, sl = settle(w, notes, threads)
    assert 0 == while_locked  # nothing is worked on before it is journaled
    assert [1] * (N + 4) == [len(a) for a in answers + slack_]
    assert N + 4 == records(w.db) == sum(is_result(a[0]) for a in answers + slack_)


def test_bursts_of_429_and_5xx_are_waited_out_and_every_note_answered_once(tmp_path,
                                                                          tiny_model_dir):
    with World(tmp_path, tiny_model_dir) as w:
        w.tg.fail_next("getUpdates", 502, times=2)
        w.tg.fail_next("sendMessage", 429, retry_after=1, times=6)
        w.tg.fail_next("sendMessage", 500, times=6)
        w.tg.fail_next("sendDocument", 502, times=4)
        w.tg.fail_next("getFile", 500, times=3)
        answers, _, tg, _ = settle(w, send_notes(w), timeout=120)
        statuses = {m: sorted(c.status for c in w.tg.recorded(m) if c.status != 200)
                    for m in ("sendMessage", "sendDocument", "getFile")}
    assert {"sendMessage": [429] * 6 + [500] * 6, "sendDocument": [502] * 4,
            "getFile": [500] * 3} == statuses  # every fault was met
    assert [1] * N == [len(a) for a in answers] and N == len(tg)
    assert N == sum(is_result(a[0]) for a in answers) == records(w.db)
    npy = [c for c in w.tg.sent(method="sendDocument") if c.files["document"][0].endswith(".npy")]
    assert N == len(npy)  # a failed document is sent again, its message is not


def test_redeliveries_are_answered_once_and_asking_again_on_purpose_twice(tmp_path,
                                                                        tiny_model_dir):
    group, owner = -100500, 2001
    with World(tmp_path, tiny_model_dir) as w:
        sent = [w.voice(uid, f"r{uid}") for uid in range(4001, 4009)]
        notes = [(m["chat"]["id"], m["message_id"]) for m in sent]
        for msg in sent[:4]:  # Telegram sends the same messages again
            w.tg.push({"message": msg})
        threads = [("DU7" + str(n), w.slack_dm(f"U7{n}", f"FRETRY{n}", retries=2))
                   for n in range(4)]
        note = w.voice(owner, "fgroup", chat_id=group)  # not opted in: silence
        asks = [fake.command(group, owner, "/emotion", reply_to=note) for _ in range(2)]
        for ask in asks + asks[:1]:  # the first ask arrives twice
            w.tg.push(ask)
        w.slack.add_file("FSLASH01", VOICE, user="U1", channel="C1", ts="1700009999.000001")
        for trigger in ("t1", "t1", "t2"):  # Slack retries t1; the user asks again (t2)
            w.post_slack(urlencode({"command": "/emotion", "text": "FSLASH01", "user_id": "U1",
                                    "team_id": "T1", "channel_id": "C1", "trigger_id": trigger,
                                    "response_url": f"{w.slack.url}/respond/{trigger}"}))
        slash = ("C1", "1700009999.000001")
        answers, slack_, tg, sl = settle(w, notes + [(group, note["message_id"])],
                                         threads + [slash])
    assert [1] * 8 == [len(a) for a in answers[:8]]
    assert 2 == len(answers[8])  # /emotion twice on purpose: two answers, the resend none
    assert [1] * 4 == [len(a) for a in slack_[:4]]
    assert 2 == len(slack_[4])  # trigger t1 once despite the retry, t2 once
    assert 8 + 2 + 4 + 2 == sum(is_result(a) for a in
                                [t for a in answers + slack_ for t in a]) == records(w.db)
