import csv
import io
import json
import time
import types
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from bot.analysis import Stats
from bot.history import History, UserSettings, user_key
from engine.labels import EMOTIONS
from engine.types import ClipResult

T0 = datetime(2025, 1, 2, 10, 0, tzinfo=timezone.utc)
ALICE, BOB = "telegram:111", "telegram:222"


def clip(emotion="sad", confidence=0.7, dim=4, seed=0):
    scores = np.full(len(EMOTIONS), (1 - confidence) / (len(EMOTIONS) - 1), dtype=np.float32)
    scores[EMOTIONS.index(emotion)] = confidence
    embedding = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return ClipResult(EMOTIONS, scores, embedding)


def add(h, user, emotion="sad", confidence=0.7, at=T0, chat="group-1", seed=0, notes=()):
    return h.record(user, clip(emotion, confidence, seed=seed), duration_s=3.0,
                    granularity="utterance", model="emotion2vec_plus_large", chat=chat, at=at,
                    notes=notes)


@pytest.fixture
def h(tmp_path):
    history = History(tmp_path / "history.db")
    yield history
    history.close()


def test_record_and_history_newest_first(h):
    note = types.SimpleNamespace(key="audio.note.quiet", params={"db": -42})
    first = add(h, ALICE, "sad", 0.7, T0, notes=[note])
    second = add(h, ALICE, "happy", 0.9, T0 + timedelta(minutes=5))
    rows = h.history(ALICE, 10)
    assert [second, first] == [r["id"] for r in rows]
    expected = {"id": first, "at": "2025-01-02T10:00:00Z", "platform": "telegram",
                "chat": "group-1", "duration_s": 3.0, "granularity": "utterance",
                "emotion": "sad", "model": "emotion2vec_plus_large",
                "notes": [{"key": "audio.note.quiet", "params": {"db": -42}}], "voice": "yours"}
    assert expected == {k: v for k, v in rows[1].items() if k not in ("confidence", "scores")}
    assert (0.7, 0.0375) == (round(rows[1]["confidence"], 6), rows[1]["scores"]["angry"])
    assert [second] == [r["id"] for r in h.history(ALICE, 1)]
    assert ["0001_initial", "0002_job_payload", "0003_float16_embeddings",
            "0004_job_delivery",
            "0005_record_speaker"] == h.schema_version()
    assert "wal" == h.db.journal_mode


def test_two_users_in_the_same_chat_never_see_each_other(h, tmp_path):
    add(h, ALICE, "sad", seed=1)
    add(h, BOB, "happy", seed=2)
    add(h, BOB, "happy", seed=3)
    assert ["sad"] == [r["emotion"] for r in h.history(ALICE)]
    assert ["happy", "happy"] == [r["emotion"] for r in h.history(BOB)]
    assert 1 == h.stats(ALICE, "all").count
    assert (("sad", 1.0),) == h.stats(ALICE, "all").shares
    files, count, stored = h.export_files(ALICE)
    assert (1, 1) == (count, stored)
    assert 1 == len(json.loads(files["history.json"]))
    h.grant_consent(BOB, "group:group-1")
    assert (False, True) == (h.has_consent(ALICE, "group:group-1"),
                             h.has_consent(BOB, "group:group-1"))
    assert 1 == h.forget(ALICE)
    assert ([], 2) == (h.history(ALICE), len(h.history(BOB)))
    assert h.has_consent(BOB, "group:group-1")
    assert [] == h.history("telegram:11")  # no prefix match


def test_stats_over_periods(h):
    now = T0 + timedelta(days=10)
    add(h, ALICE, "sad", 0.6, T0)
    add(h, ALICE, "happy", 0.8, now - timedelta(days=3))
    add(h, ALICE, "happy", 1.0, now - timedelta(hours=2))
    assert Stats("week", 2, (("happy", 1.0),), 0.9,
                 (("2025-01-09", "happy", 1), ("2025-01-12", "happy", 1))) == \
        h.stats(ALICE, "week", now)
    assert 1 == h.stats(ALICE, "day", now).count
    assert 3 == h.stats(ALICE, "all", now).count
    assert (0, None) == (h.stats(BOB, "all").count, h.trend_png(BOB))
    assert h.trend_png(ALICE, "all", now).startswith(b"\x89PNG")
    with pytest.raises(ValueError):
        h.stats(ALICE, "year")


def test_export_round_trips(h, tmp_path):
    ids = [add(h, ALICE, "sad", seed=1), add(h, ALICE, "angry", 0.9, T0 + timedelta(hours=1),
                                              seed=2)]
    h.set_settings(ALICE, store_embeddings=False)
    no_embedding = add(h, ALICE, "happy", at=T0 + timedelta(hours=2), seed=3)
    paths = h.export(ALICE, tmp_path / "out")
    assert ["history.csv", "history.json", "embeddings.npz"] == [p.name for p in paths]
    with np.load(tmp_path / "out" / "embeddings.npz") as z:
        assert sorted(str(i) for i in ids) == sorted(z.files)
        assert clip(seed=1).embedding.tolist() == z[str(ids[0])].tolist()
        assert clip(seed=2).embedding.tolist() == z[str(ids[1])].tolist()
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "history.csv").read_text())))
    assert [str(i) for i in ids + [no_embedding]] == [r["id"] for r in rows]
    assert ["sad", "angry", "happy"] == [r["emotion"] for r in rows]
    assert "0.9" == rows[1]["angry"]
    data = json.loads((tmp_path / "out" / "history.json").read_text())
    assert h.history(ALICE)[::-1] == data


def test_user_settings(h):
    assert UserSettings() == h.get_settings(ALICE)
    assert UserSettings(granularity="frame", language="zh", retention_days=30) == \
        h.set_settings(ALICE, granularity="frame", language="zh", retention_days=30)
    assert UserSettings(granularity="frame", retention_days=30) == \
        h.set_settings(ALICE, language=None)
    assert UserSettings() == h.get_settings(BOB)
    for bad in ({"granularity": "word"}, {"language": "fr"}, {"retention_days": -1}, {"colour": 1}):
        with pytest.raises(ValueError):
            h.set_settings(ALICE, **bad)


def test_defaults_come_from_settings(tmp_path):
    from bot.settings import from_mapping

    s = from_mapping({"history": {"path": str(tmp_path / "x.db"), "store_embeddings": False,
                                  "retention_days": 7}, "reply": {"attach_embedding": False}})
    h = History.from_settings(s)
    assert UserSettings(attach_embedding=False, store_embeddings=False, retention_days=7) == \
        h.get_settings(ALICE)
    add(h, ALICE)
    assert (1, 0) == h.export_files(ALICE)[1:]


def test_retention_purge(tmp_path):
    h = History(tmp_path / "h.db", UserSettings(retention_days=30))
    now = T0 + timedelta(days=100)
    add(h, ALICE, at=now - timedelta(days=40))
    add(h, ALICE, at=now - timedelta(days=10))
    add(h, BOB, at=now - timedelta(days=40))
    add(h, BOB, at=now - timedelta(days=10))
    h.set_settings(BOB, retention_days=5)
    add(h, "cli:keeper", at=now - timedelta(days=400))
    h.set_settings("cli:keeper", retention_days=0)  # 0 keeps for ever
    assert 3 == h.purge(now)
    assert (1, 0, 1) == (len(h.history(ALICE)), len(h.history(BOB)), len(h.history("cli:keeper")))


def test_forget_deletes_every_table_and_leaves_no_trace_in_the_file(h, tmp_path):
    marker = "chat-MARKER-4f1e"
    add(h, ALICE, chat=marker)
    h.set_settings(ALICE, language="zh")
    h.grant_consent(ALICE, f"group:{marker}")
    job = h.add_job("telegram", f"{marker}/1", ALICE, marker)
    h.set_channel_setting("telegram", marker, "opt_in", True, user=ALICE)
    h.set_channel_setting("telegram", "group-2", "auto", True, set_by=ALICE)
    add(h, BOB)
    assert 1 == h.forget(ALICE)
    for table in ("records", "user_settings", "consents", "jobs"):
        assert [] == list(h.db.query(f"SELECT * FROM {table} WHERE user = ?", [ALICE]))
    assert None is h.channel_setting("telegram", marker, "opt_in", user=ALICE)
    assert True is h.channel_setting("telegram", "group-2", "auto")  # the group's, not Alice's
    assert [None] == [r["set_by"] for r in h.db.query("SELECT set_by FROM channel_settings")]
    assert job not in [j["id"] for j in h.pending_jobs()]
    files = [p for p in tmp_path.iterdir() if p.name.startswith("history.db")]
    assert all(ALICE.encode() not in p.read_bytes() for p in files)
    assert all(marker.encode() not in p.read_bytes() for p in files)
    assert 1 == len(h.history(BOB))


def test_job_journal_is_idempotent(h):
    first = h.add_job("slack", "T01/F123", "slack:T01:U02", "C9")
    assert None is h.add_job("slack", "T01/F123", "slack:T01:U02", "C9")
    second = h.add_job("slack", "T01/F124", "slack:T01:U02", "C9")
    assert [first, second] == [j["id"] for j in h.pending_jobs("slack")]
    payload = {"channel": "C9", "file": "F125", "thread_ts": "1.2"}
    third = h.add_job("slack", "T01/F125", "slack:T01:U02", "C9", payload=payload)
    assert payload == [j["payload"] for j in h.pending_jobs("slack") if j["id"] == third][0]
    assert (True, False) == (h.claim_job(first), h.claim_job(first))
    h.finish_job(first)
    h.finish_job(second, ok=False, detail="timeout")
    h.finish_job(third)
    assert [] == h.pending_jobs()
    assert 0 == h.purge(datetime.now(timezone.utc) + timedelta(days=8))
    assert [] == list(h.db.query("SELECT * FROM jobs"))


def test_consents_channel_settings_and_salt(h, tmp_path):
    h.grant_consent(ALICE, "slack_owner")
    assert True is h.has_consent(ALICE, "slack_owner")
    assert (True, False) == (h.revoke_consent(ALICE, "slack_owner"),
                             h.revoke_consent(ALICE, "slack_owner"))
    assert "off" == h.channel_setting("slack", "C1", "auto", default="off")
    h.set_channel_setting("slack", "C1", "auto", {"on": True}, set_by="slack:T01:U02")
    assert {"on": True} == h.channel_setting("slack", "C1", "auto")
    salt = h.salt()
    assert (32, salt) == (len(salt), History(tmp_path / "history.db").salt())


def test_user_keys():
    assert ["telegram:123", "slack:T01:U02", "cli:ann"] == \
        [user_key(k) for k in ("telegram:123", "slack:T01:U02", "ann")]
    for bad in ("", "telegram:", ":1"):
        with pytest.raises(ValueError):
            user_key(bad)


def test_writable_reports_a_locked_database(tmp_path):
    import sqlite3

    history = History(tmp_path / "w.db")
    assert True is history.writable()
    other = sqlite3.connect(tmp_path / "w.db")
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    started = time.monotonic()
    assert False is history.writable(timeout_s=0.2)
    assert time.monotonic() - started < 2  # a probe never waits for the 30 s write timeout
    other.rollback()
    assert True is history.writable()
    other.close()
    history.close()


def test_a_database_from_before_the_delivery_columns_gets_them_with_zero(tmp_path):
    import sqlite3

    from sqlite_utils import Database

    from bot.history_schema import migrations

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    migrations.apply(Database(conn), stop_before="0004_job_delivery")  # as version 0003 left it
    conn.execute("INSERT INTO jobs (platform, ref, user, chat, status, detail, created_at, "
                 "updated_at) VALUES ('slack', 'e1', 'slack:T:U', '', 'pending', '', '', '')")
    conn.commit()
    conn.close()
    h = History(path)
    try:
        (job,) = h.pending_jobs("slack")
        assert ("e1", 0, 0, 0, None) == (job["ref"], job["runs"], job["attempts"],
                                         job["sent_parts"], job["next_attempt_at"])
        assert 1 == h.start_run(job["id"])
    finally:
        h.close()


def test_journal_accepts_once_and_lists_unfinished_work(h):
    job = h.add_job("telegram", "telegram:1:7", ALICE, "telegram:1", {"file_id": "F1", "chat_id": 1})
    assert None is h.add_job("telegram", "telegram:1:7", ALICE, "telegram:1", {})  # a redelivery
    [pending] = h.pending_jobs("telegram")
    assert (job, {"file_id": "F1", "chat_id": 1}) == (pending["id"], pending["payload"])
    assert True is h.claim_job(job)
    assert False is h.claim_job(job)
    h.finish_job(job, True)
    assert [] == h.pending_jobs("telegram")
