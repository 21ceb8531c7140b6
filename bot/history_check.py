"""Opening the history database with one clear line for each way it can fail.

``open_checked(settings)`` is what ``run``, ``analyze --record`` and the history commands call
before anything heavy (the model) loads. It never changes a file it refuses: the checks that can
fail on a damaged file (the header, ``PRAGMA quick_check``) run on a read-only connection before
``History`` enables WAL or applies a migration. Every refusal is a ``HistoryUnavailable`` whose
message names the file and what to do; ``describe`` turns a later ``sqlite3`` error (a lock that
outlasted the busy timeout, a full disk) into the same kind of line.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from bot.history import History, UserSettings
from bot.history_tables import user_key

logger = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 30.0  # how long a locked database is waited on, said in the message
SQLITE_HEADER = b"SQLite format 3\x00"


class HistoryUnavailable(Exception):
    """The history database cannot be used. ``str(exc)`` is one line for the operator."""


class BadUserKey(ValueError):
    """``--user`` is not a user key. ``str(exc)`` is one line for the operator."""


def checked_user(raw: str) -> str:
    """``user_key`` with a message that says what a key looks like."""
    try:
        return user_key(raw)
    except ValueError:
        raise BadUserKey(f"--user {raw!r} is not a user key: expected platform:id (telegram:123, "
                         "slack:T01:U02) or a bare name for cli:NAME") from None


def open_checked(settings, *, write: bool = True,
                 timeout_s: float | None = None) -> History | None:
    """Open ``[history] path`` or raise ``HistoryUnavailable`` naming the file and the fix.

    ``write``: the caller will write (``run``, ``analyze --record``), so a missing file is created
    and the write lock is taken once (waiting at most ``timeout_s``, default ``LOCK_TIMEOUT_S``).
    A reader (``history``, ``stats``, ``export``, and ``forget``, which has nothing to delete in a
    database that does not exist) gets None for a missing database, and nothing is created.
    """
    timeout_s = LOCK_TIMEOUT_S if timeout_s is None else timeout_s
    path = Path(settings.history.path)
    shown = path.absolute()
    if path.is_dir():
        raise HistoryUnavailable(f"the history database {shown} is a folder, not a file: set "
                                 "[history] path to a file name")
    if not path.exists():
        if not write:
            return None
        if not path.parent.is_dir():
            raise HistoryUnavailable(
                f"the folder {shown.parent} of the history database {shown} does not exist: "
                f"create it (mkdir -p {shown.parent}) or set [history] path")
    else:
        _check_file(path, shown, timeout_s)
    h = settings.history
    history = None
    try:
        history = History(path, UserSettings(attach_embedding=settings.reply.attach_embedding,
                                             store_embeddings=h.store_embeddings,
                                             retention_days=h.retention_days), timeout_s)
        if write:
            with history._write():
                pass
    except sqlite3.Error as exc:
        if history is not None:
            history.close()
        raise HistoryUnavailable(describe(exc, path, timeout_s)) from None
    return history


def check(settings) -> None:
    """For ``run`` and ``analyze --record``, before the model loads: the database opens, is not
    damaged and can be written. Raises ``HistoryUnavailable``."""
    open_checked(settings, write=True).close()


def problem(settings, user: str | None = None) -> str | None:
    """``check`` (and ``checked_user(user)`` when given) as the line to print before exiting with
    status 2, or None when all is well. What ``run`` and ``analyze --record`` call first."""
    try:
        if user is not None:
            checked_user(user)
        check(settings)
    except (BadUserKey, HistoryUnavailable) as exc:
        return f"emotion-bot: {exc}"
    return None


def describe(exc: BaseException, path: str | Path, timeout_s: float | None = None) -> str:
    """One line for an ``sqlite3`` (or ``OSError``) failure on the history database ``path``."""
    timeout_s = LOCK_TIMEOUT_S if timeout_s is None else timeout_s
    shown = Path(path).absolute()
    msg = str(exc).lower()
    if "locked" in msg or "busy" in msg:
        return (f"the history database {shown} is locked by another program (waited "
                f"{timeout_s:g} s): stop the other program using it, or try again later")
    if "full" in msg:
        return (f"the disk holding the history database {shown} is full: free some space; "
                "nothing was written")
    if "readonly" in msg or "read-only" in msg:
        return (f"the history database {shown} is read-only: give this user write access to it "
                "and to its folder")
    if "not a database" in msg or "malformed" in msg or "corrupt" in msg:
        return _damaged(shown, str(exc))
    if "unable to open" in msg and not shown.parent.is_dir():
        return (f"the folder {shown.parent} of the history database {shown} does not exist: "
                f"create it (mkdir -p {shown.parent}) or set [history] path")
    if "unable to open" in msg or isinstance(exc, PermissionError):
        return (f"cannot open the history database {shown}: check that it and its folder can "
                "be read and written by this user")
    return f"the history database {shown} cannot be used: {exc}"


def _check_file(path: Path, shown: Path, timeout_s: float) -> None:
    """The header and ``quick_check``, read-only: a damaged file is refused and left untouched."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise HistoryUnavailable(describe(exc, path, timeout_s)) from None
    if not head:
        return  # an empty file is a new database
    if head != SQLITE_HEADER:
        raise HistoryUnavailable(_damaged(shown, "not a SQLite database"))
    # Read-only; with no WAL beside it (the database is closed) also immutable, so the check
    # leaves no -wal or -shm file behind.
    mode = "mode=ro" if Path(f"{path}-wal").exists() else "immutable=1"
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?{mode}", uri=True, timeout=timeout_s)
    except sqlite3.Error as exc:
        raise HistoryUnavailable(describe(exc, path, timeout_s)) from None
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.Error as exc:
        raise HistoryUnavailable(describe(exc, path, timeout_s)) from None
    finally:
        conn.close()
    if problems != ["ok"]:
        detail = "; ".join(line.strip() for p in problems for line in str(p).splitlines()
                           if line.strip() and not line.startswith("***"))
        raise HistoryUnavailable(_damaged(shown, "quick_check: " + detail))


def _damaged(shown: Path, detail: str) -> str:
    extra = [p.name for p in (Path(f"{shown}-wal"), Path(f"{shown}-shm")) if p.exists()]
    also = f" (and {' and '.join(extra)} beside it)" if extra else ""
    detail = " ".join(detail.split())
    detail = detail if len(detail) <= 100 else detail[:99] + "…"
    return (f"the history database {shown} is damaged ({detail}); it was left "
            f"untouched. Move it aside{also}, e.g. mv {shown} {shown}.damaged, and a new empty "
            "one is made at the next start; or restore it from a backup")
