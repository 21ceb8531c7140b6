"""Finishing an erasure: deleted rows must leave the database file and its WAL, not just the tables.

``secure_delete`` zeroes deleted content in the page versions SQLite writes, but those versions go
to the write-ahead log first; the database file keeps the old pages (with the data) until a
checkpoint copies the WAL back, and the WAL keeps older frames until it is truncated. A checkpoint
cannot pass a reader's snapshot: while another connection holds a read transaction opened before
the delete, the old pages stay. So ``checkpoint`` is retried for a bounded time and says whether it
finished; the caller tells the user the truth and tries again later.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

from bot.history_tables import stamp, user_key

logger = logging.getLogger(__name__)

ERASE_WAIT_S = 2.0  # how long forget retries a blocked checkpoint before reporting "pending"
PENDING_KEY = "erasure_pending"  # a meta row while a forget's erasure waits on a reader


def checkpoint(path: str, wait_s: float = ERASE_WAIT_S) -> bool:
    """Copy every WAL frame into the database file and truncate the WAL, retrying with backoff
    for up to ``wait_s`` seconds. True when nothing of the old pages is left in the WAL or behind
    it; False when a reader (or a writer) still holds an older snapshot."""
    deadline = time.monotonic() + max(0.0, wait_s)
    delay = 0.02
    while True:
        if _checkpoint_once(path, busy_wait_s=min(0.05, wait_s)):
            return True
        if time.monotonic() + delay > deadline:
            return False
        time.sleep(delay)  # a bounded backoff between tries, not a wait for an event
        delay = min(delay * 2, 0.25)


def _checkpoint_once(path: str, busy_wait_s: float) -> bool:
    # Its own connection with a short busy wait: TRUNCATE waits on readers through the busy
    # handler, and the History connections wait 30 s.
    try:
        conn = sqlite3.connect(path, timeout=busy_wait_s)
    except sqlite3.Error:
        return False
    try:
        busy, log, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0 and log == done
    except sqlite3.Error as exc:
        logger.debug("checkpoint of %s failed: %s", path, exc)
        return False
    finally:
        conn.close()


@dataclass(frozen=True)
class Forgotten:
    """What ``forget`` did: ``records`` analyses deleted; ``erased`` is False while another
    connection's read snapshot keeps the old pages in the file (finished at a later write)."""

    records: int
    erased: bool


ORPHAN_REPLIES = "DELETE FROM job_replies WHERE job_id NOT IN (SELECT id FROM jobs)"


class Erasure:
    """A mixin of ``bot.history.History``: needs ``self.db``, ``self._write()``, ``self.path`` and
    ``self._erase_pending``."""

    def forget(self, user: str) -> int:
        """Delete everything of one user in every table; returns the analyses deleted. See
        ``forget_report`` for whether the bytes have left the file yet."""
        return self.forget_report(user).records

    def forget_report(self, user: str, wait_s: float | None = None) -> Forgotten:
        """Delete everything of one user, then erase it from the file: deleted content is zeroed
        (``secure_delete``), free pages are dropped (``VACUUM``, only when there are any) and the
        WAL is checkpointed and truncated, retried for up to ``wait_s`` seconds while a reader
        holds an older snapshot. If it still cannot finish, ``erased`` is False and every later
        write (or ``finish_erasure``) tries again."""
        user = user_key(user)
        with self._write() as db:
            # their voice's records too, wherever they were filed
            count = db.execute("DELETE FROM records WHERE user = ? OR speaker = ?",
                               [user, user]).rowcount
            for table in ("user_settings", "consents", "jobs", "channel_settings"):
                db.execute(f"DELETE FROM {table} WHERE user = ?", [user])
            # someone else's journaled request for this person's voice (Telegram's ``owner``)
            db.execute("DELETE FROM jobs WHERE json_extract(payload, '$.owner') = ?", [user])
            db.execute(ORPHAN_REPLIES)  # kept answers of the jobs just deleted
            db.execute("UPDATE channel_settings SET set_by = NULL WHERE set_by = ?", [user])
        if self.db.execute("PRAGMA freelist_count").fetchone()[0]:
            try:
                self.db.conn.execute("VACUUM")
            except sqlite3.Error as exc:  # no room for the copy, or locked: the delete stands
                logger.warning("VACUUM after forget failed (%s); deleted content is zeroed "
                               "but free pages remain in %s", exc, self.path)
        self._erase_pending = True
        if self.finish_erasure(ERASE_WAIT_S if wait_s is None else wait_s):
            return Forgotten(count, True)
        # Still pending: say so in the file too, so whichever process writes next finishes it.
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                       [PENDING_KEY, stamp()])
        return Forgotten(count, not self._erase_pending)

    def finish_erasure(self, wait_s: float = 0.0) -> bool:
        """Finish a forget's erasure, this process's or another's (checkpoint and truncate the
        WAL), trying for ``wait_s`` seconds. True when nothing is pending."""
        if not (self._erase_pending or self._pending_in_file()):
            return True
        if not checkpoint(self.path, wait_s):
            self._erase_pending = True
            return False
        self._erase_pending = False
        if self._pending_in_file():
            with self._write() as db:
                db.execute("DELETE FROM meta WHERE key = ?", [PENDING_KEY])
        logger.info("erasure finished in %s", self.path)
        return True

    def _pending_in_file(self) -> bool:
        return bool(list(self.db.query("SELECT 1 FROM meta WHERE key = ?", [PENDING_KEY])))

    @property
    def erasure_pending(self) -> bool:
        return self._erase_pending
