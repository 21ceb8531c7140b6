"""``forget`` tells the truth about the bytes: the raw database and WAL files are searched for a
unique marker after forget, while another connection holds a read snapshot and after it lets go."""

import sqlite3

import numpy as np
import pytest

from bot import cli
from bot.history import History
from engine.labels import EMOTIONS
from engine.types import ClipResult

MARKER = "ZQXJ-forget-me-7731"


def clip():
    scores = np.full(len(EMOTIONS), 0.2 / 8, dtype=np.float32)
    scores[0] = 0.8
    return ClipResult(EMOTIONS, scores, np.arange(256, dtype=np.float32))


def raw_hits(db) -> dict[str, int]:
    """How often the marker appears in the database file and its WAL, read as bytes."""
    hits = {}
    for path in (db, db.with_name(db.name + "-wal")):
        hits[path.name] = path.read_bytes().count(MARKER.encode()) if path.exists() else 0
    return hits


def fill(db) -> History:
    h = History(db)
    for i in range(40):  # other users' rows around the one to forget
        h.record(f"cli:other{i % 3}", clip(), duration_s=1.0, granularity="utterance", model="m")
    h.record(f"cli:{MARKER}", clip(), duration_s=1.0, granularity="utterance", model="m",
             chat=MARKER, notes=[MARKER])
    h.set_settings(f"cli:{MARKER}", language="zh")
    h.grant_consent(f"cli:{MARKER}", "others")
    h.add_job("cli", MARKER, f"cli:{MARKER}", MARKER, {"file": MARKER})
    for i in range(40):
        h.record(f"cli:other{i % 3}", clip(), duration_s=1.0, granularity="utterance", model="m")
    return h


@pytest.fixture
def reader(tmp_path):
    """Another program with a read transaction open on the database (a snapshot of it)."""
    db = tmp_path / "h.db"
    fill(db).close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    assert 81 == conn.execute("SELECT count(*) FROM records").fetchone()[0]
    yield db, conn
    conn.close()


def test_forget_without_readers_leaves_no_byte(tmp_path):
    db = tmp_path / "h.db"
    h = fill(db)
    assert 0 < sum(raw_hits(db).values())
    done = h.forget_report(f"cli:{MARKER}")
    assert (1, True) == (done.records, done.erased)
    assert {"h.db": 0, "h.db-wal": 0} == raw_hits(db)
    assert 80 == len(h.history("cli:other0", 100)) + len(h.history("cli:other1", 100)) + \
        len(h.history("cli:other2", 100))


def test_forget_with_a_reader_says_pending_then_finishes_when_it_lets_go(reader):
    db, other = reader
    h = History(db)
    done = h.forget_report(f"cli:{MARKER}", wait_s=0.3)
    assert (1, False) == (done.records, done.erased)
    assert sum(raw_hits(db).values()) > 0  # the reader's snapshot keeps the old pages
    assert h.erasure_pending
    other.execute("COMMIT")  # the reader lets go
    h.set_settings("cli:other0", language="en")  # the next write finishes the erasure
    assert not h.erasure_pending
    assert {"h.db": 0, "h.db-wal": 0} == raw_hits(db)
    assert [] == h.history(f"cli:{MARKER}")


def test_forget_command_reports_the_pending_erasure(reader, tmp_path, monkeypatch, capsys):
    db, other = reader
    monkeypatch.setattr("bot.history_erase.ERASE_WAIT_S", 0.3)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[history]\npath = "{db}"\n', encoding="utf-8")
    assert 0 == cli.main(["--config", str(cfg), "forget", "--user", MARKER, "--yes"])
    out, err = capsys.readouterr()
    assert "Deleted: 1 analysis and everything else stored about you.\n" == out
    assert (f"emotion-bot: the deleted data is still in {db} because another program is reading "
            "the database; the erasure finishes at the next write once it lets go (the bot's "
            "next analysis, or run forget again)\n") == err
    assert sum(raw_hits(db).values()) > 0
    other.execute("COMMIT")  # the reader lets go; the next write, by any process, finishes it
    bot = History(db)  # e.g. the running bot, recording someone's analysis
    bot.record("cli:other0", clip(), duration_s=1.0, granularity="utterance", model="m")
    assert {"h.db": 0, "h.db-wal": 0} == raw_hits(db)
    assert [] == list(bot.db.query("SELECT * FROM meta WHERE key = 'erasure_pending'"))
    assert 0 == cli.main(["--config", str(cfg), "forget", "--user", MARKER, "--yes"])
    out, err = capsys.readouterr()
    assert ("Deleted: 0 analyses and everything else stored about you.\n", "") == (out, err)
