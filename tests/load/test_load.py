"""200 voice notes from 50 users at once, on both platforms, through one engine: every note is
answered exactly once, and the history holds one row per successful analysis."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.load.world import World, is_result, jobs, records, slack_answers, telegram_answers

pytestmark = pytest.mark.load

TG_USERS, SLACK_USERS, NOTES_EACH = 40, 10, 4  # 160 + 40 = 200 notes from 50 users


def test_200_notes_from_50_users_are_each_answered_once(tmp_path, tiny_model_dir):
    with World(tmp_path, tiny_model_dir) as w:
        started = time.monotonic()
        notes = [(uid, w.voice(uid, f"v{uid}-{n}")["message_id"])
                 for n in range(NOTES_EACH) for uid in range(1001, 1001 + TG_USERS)]
        users = [f"U{n:02d}" for n in range(SLACK_USERS)]
        with ThreadPoolExecutor(8) as pool:
            threads = list(pool.map(lambda a: ("D" + a[0], w.slack_dm(*a)),
                                    [(u, f"F{u}X{n}") for n in range(NOTES_EACH) for u in users]))
        w.wait(lambda: set(notes) <= set(telegram_answers(w.tg))
               and set(threads) <= set(slack_answers(w.slack)), timeout=150)
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # anything late would be a duplicate
        tg, sl = telegram_answers(w.tg), slack_answers(w.slack)
        status = jobs(w.db)
    answers = [tg[k] for k in notes] + [sl[k] for k in threads]
    assert 200 == len(answers)
    assert [1] * 200 == [len(a) for a in answers]  # exactly once each
    assert 0 == len(tg) + len(sl) - 200  # and nothing else
    successes = sum(is_result(a[0]) for a in answers)
    assert successes == records(w.db)
    assert 200 == successes  # nothing here should fail: limits are off, the queue is deep
    assert {"done": 200} == dict(status)
    print(f"\n200 notes answered in {elapsed:.1f} s")
