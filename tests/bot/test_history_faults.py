"""The history database failing from inside: locked, damaged, in a missing folder, a bad user key.

Every case goes through the real command line (``bot.cli.main``) and asserts the one line the
operator reads and the exit status. ``run`` and ``analyze --record`` are refused before any model
loads (the configured model does not exist, so reaching it would fail differently). A damaged
file must be left byte for byte as it was.
"""

import os
import sqlite3

import numpy as np
import pytest

from bot import cli, history_check
from bot.history import History
from engine.labels import EMOTIONS
from engine.types import ClipResult

READERS = ["history", "stats", "export"]
ALL = [*READERS, "forget", "run", "record"]


def clip(emotion="sad"):
    scores = np.full(len(EMOTIONS), 0.2 / 8, dtype=np.float32)
    scores[EMOTIONS.index(emotion)] = 0.8
    return ClipResult(EMOTIONS, scores, np.arange(4, dtype=np.float32))


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    """Write config.toml naming a database; the model directory does not exist."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(history_check, "LOCK_TIMEOUT_S", 0.2)
    for name in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def write(db) -> str:
        path = tmp_path / "config.toml"
        path.write_text(f'[history]\npath = "{db}"\n[engine]\nmodel = "{tmp_path}/no-model"\n',
                        encoding="utf-8")
        return str(path)
    return write


def main(name, config, user="ann"):
    if name == "run":
        return cli.main(["--config", config, "run"])
    if name == "record":
        return cli.main(["--config", config, "analyze", "clip.wav", "--record", "--user", user])
    argv = ["--config", config, name, "--user", user]
    argv += {"export": ["--out", "out"], "forget": ["--yes"]}.get(name, [])
    return cli.main(argv)


def filled(path) -> None:
    h = History(path)
    h.record("cli:ann", clip(), duration_s=1.0, granularity="utterance", model="m")
    h.close()


@pytest.mark.parametrize("name", ALL)
def test_random_bytes_are_refused_and_left_untouched(name, cfg, tmp_path, capsys):
    db = tmp_path / "h.db"
    junk = os.urandom(3 * 4096)
    db.write_bytes(junk)
    assert 2 == main(name, cfg(db))
    assert (f"emotion-bot: the history database {db} is damaged (not a SQLite database); it was "
            f"left untouched. Move it aside, e.g. mv {db} {db}.damaged, and a new empty one is "
            "made at the next start; or restore it from a backup\n") == capsys.readouterr().err
    assert junk == db.read_bytes()
    assert not (tmp_path / "h.db-wal").exists()


@pytest.mark.parametrize("name", ALL)
def test_scrambled_pages_are_refused_and_left_untouched(name, cfg, tmp_path, capsys):
    db = tmp_path / "h.db"
    filled(db)
    data = bytearray(db.read_bytes())
    page = 4096
    data[page:] = os.urandom(len(data) - page)  # every page but the first (header and schema)
    db.write_bytes(bytes(data))
    assert 2 == main(name, cfg(db))
    err = capsys.readouterr().err
    assert err.startswith(f"emotion-bot: the history database {db} is damaged (")
    assert err.endswith(f"); it was left untouched. Move it aside, e.g. mv {db} {db}.damaged, "
                        "and a new empty one is made at the next start; or restore it from a "
                        "backup\n")
    assert 1 == err.count("\n")
    assert bytes(data) == db.read_bytes()


@pytest.mark.parametrize("name", ["run", "record"])
def test_a_missing_folder_is_named_for_writers(name, cfg, tmp_path, capsys):
    db = tmp_path / "nowhere" / "h.db"
    assert 2 == main(name, cfg(db))
    assert (f"emotion-bot: the folder {db.parent} of the history database {db} does not exist: "
            f"create it (mkdir -p {db.parent}) or set [history] path\n") == capsys.readouterr().err
    assert not db.parent.exists()


@pytest.mark.parametrize("name", [*READERS, "forget"])
def test_a_reader_on_a_fresh_path_creates_nothing(name, cfg, tmp_path, capsys):
    db = tmp_path / "nowhere" / "h.db"
    assert 0 == main(name, cfg(db))
    assert (f"emotion-bot: no history database at {db} yet: nothing has been recorded there "
            "([history] path names the file)\n") == capsys.readouterr().err
    assert not db.parent.exists()
    assert ["config.toml"] == sorted(p.name for p in tmp_path.iterdir())


def test_history_on_the_default_path_creates_no_database_in_the_current_folder(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert 0 == cli.main(["history", "--user", "ann"])
    out, err = capsys.readouterr()
    assert "No analyses recorded yet.\n" == out
    assert err.startswith(f"emotion-bot: no history database at {tmp_path}/emotion-bot.db yet")
    assert [] == list(tmp_path.iterdir())


@pytest.mark.parametrize("user", ["", ":", " "])
@pytest.mark.parametrize("name", ALL[:4] + ["record"])
def test_an_invalid_user_key_is_one_line(name, user, cfg, tmp_path, capsys):
    db = tmp_path / "h.db"
    filled(db)
    assert 2 == main(name, cfg(db), user)
    assert (f"emotion-bot: --user {user!r} is not a user key: expected platform:id "
            "(telegram:123, slack:T01:U02) or a bare name for cli:NAME\n") == \
        capsys.readouterr().err


@pytest.fixture
def writer_lock(tmp_path):
    """Another process's write transaction on the database, held for the test."""
    db = tmp_path / "h.db"
    filled(db)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield db
    other.rollback()
    other.close()


@pytest.mark.parametrize("name", ["forget", "run", "record"])
def test_a_write_lock_past_the_timeout_is_one_line(name, cfg, writer_lock, capsys):
    db = writer_lock
    assert 2 == main(name, cfg(db))
    assert (f"emotion-bot: the history database {db} is locked by another program (waited "
            "0.2 s): stop the other program using it, or try again later\n") == \
        capsys.readouterr().err


@pytest.mark.parametrize("name", READERS)
def test_readers_do_not_wait_for_a_writer(name, cfg, writer_lock, capsys):
    assert 0 == main(name, cfg(writer_lock))
    assert "" == capsys.readouterr().err


@pytest.mark.parametrize("name", READERS)
def test_an_exclusive_lock_stops_readers_with_one_line(name, cfg, tmp_path, capsys):
    db = tmp_path / "h.db"
    filled(db)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    try:
        assert 2 == main(name, cfg(db))
    finally:
        other.rollback()
        other.close()
    assert (f"emotion-bot: the history database {db} is locked by another program (waited "
            "0.2 s): stop the other program using it, or try again later\n") == \
        capsys.readouterr().err


def test_a_folder_as_the_database_path(cfg, tmp_path, capsys):
    (tmp_path / "db").mkdir()
    assert 2 == main("history", cfg(tmp_path / "db"))
    assert (f"emotion-bot: the history database {tmp_path}/db is a folder, not a file: set "
            "[history] path to a file name\n") == capsys.readouterr().err


def test_the_check_passes_and_creates_a_new_database(cfg, tmp_path):
    db = tmp_path / "new.db"
    from bot.settings import load

    assert history_check.problem(load(cfg(db))) is None
    assert ["0001_initial"] == History(db).schema_version()[:1]


def test_a_sqlite_error_after_opening_is_one_line(tmp_path):
    err = sqlite3.OperationalError("database or disk is full")
    assert (f"the disk holding the history database {tmp_path}/h.db is full: free some space; "
            "nothing was written") == history_check.describe(err, tmp_path / "h.db")


def test_a_record_that_fails_mid_batch_is_one_line_and_the_batch_goes_on(
        cfg, writer_lock, capsys):
    """``analyze --record`` calls this per file: a lock that outlasts the wait costs that record
    (None, one line), not the rest of the batch."""
    from bot import cli_history
    from bot.settings import load

    settings = load(cfg(writer_lock))
    assert cli_history.record_cli_result(settings, "ann", {"duration_s": 1.0}, clip()) is None
    assert (f"emotion-bot: not recorded: the history database {writer_lock} is locked by another "
            "program (waited 0.2 s): stop the other program using it, or try again later\n") == \
        capsys.readouterr().err
