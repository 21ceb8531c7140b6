"""The history behind the history commands: the only user of sqlite-utils.

One SQLite file (``[history] path``) in WAL mode. Every connection is per thread, waits for locks
(``busy_timeout``) and zeroes deleted content (``secure_delete``). Every write is one
``BEGIN IMMEDIATE`` transaction, so a killed process leaves either the whole record or none of it,
and writers in several threads and processes queue instead of failing. The schema is built by
numbered sqlite-utils ``Migrations`` steps, applied under the same write lock.

Users are keys ``platform:id`` (``telegram:123``, ``slack:T01:U02``, ``cli:NAME``). Every query
that returns user data takes the key and filters by it: no query returns another user's rows,
whatever chat they shared. A record is filed under the user who asked (``user``) and knows whose
voice it is (``speaker``; NULL when unknown): both see it, export it, and forget it. Audio is
never stored.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlite_utils import Database

from bot import analysis, charts, embeddings
from bot.history_erase import ORPHAN_REPLIES, Erasure, Forgotten  # noqa: F401 - re-exported
from bot.history_schema import migrations
from bot.history_tables import SideTables, stamp, user_key

JOB_KEEP_DAYS = 7  # finished jobs are purged after this many days
GRANULARITIES = ("utterance", "frame")
EXPORT_FIELDS = ("id", "at", "platform", "chat", "duration_s", "granularity", "emotion",
                 "confidence", "model", "notes", "voice")
MINE = "(user = ? OR speaker = ?)"  # a person's records: those they asked for and their voice's

@dataclass(frozen=True)
class UserSettings:
    granularity: str = "utterance"
    attach_embedding: bool = True
    store_embeddings: bool = True
    language: str | None = None  # None: the user's platform language
    retention_days: int = 0  # 0: keep for ever
    float16_embeddings: bool = False  # halve an embedding that is too big to upload


class History(SideTables, Erasure):
    def __init__(self, path: str | Path, defaults: UserSettings = UserSettings(),
                 timeout_s: float = 30.0) -> None:
        self.path = str(path)
        self.defaults = defaults
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._erase_pending = False
        db = self.db
        self._enable_wal(db)
        if migrations.pending(db):  # a reader never waits for the write lock once up to date
            with self._write() as db:
                migrations.apply(db)

    @classmethod
    def from_settings(cls, settings) -> History:
        h, r = settings.history, settings.reply
        return cls(h.path, UserSettings(attach_embedding=r.attach_embedding,
                                        store_embeddings=h.store_embeddings,
                                        retention_days=h.retention_days))

    # --- connections and transactions ----------------------------------------------------------

    @property
    def db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, check_same_thread=False)
            for pragma in ("foreign_keys=ON", "secure_delete=ON", "synchronous=FULL"):
                conn.execute(f"PRAGMA {pragma}")
            db = self._local.db = Database(conn)
            with self._all_lock:
                self._all.append(conn)
        return db

    def _enable_wal(self, db: Database) -> None:
        deadline = time.monotonic() + self.timeout_s
        while db.journal_mode != "wal":
            try:
                db.enable_wal()
            except sqlite3.OperationalError:  # another process holds a lock; try again
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def _write(self):
        """One write transaction, taken up front so concurrent writers queue on the busy timeout."""
        db = self.db
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.conn.rollback()
            raise
        db.conn.commit()
        if self._erase_pending or self._pending_in_file():  # a forget waited on a reader
            self.finish_erasure(wait_s=0)  # try again, without waiting

    def writable(self, timeout_s: float = 0.5) -> bool:
        """For /readyz: a write transaction can start within ``timeout_s`` (the file is not
        locked or read-only). Its own short-lived connection, so a probe never waits 30 s."""
        try:
            conn = sqlite3.connect(self.path, timeout=timeout_s)
        except sqlite3.Error:
            return False
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
            return True
        except sqlite3.Error:
            return False
        finally:
            conn.close()

    def close(self) -> None:
        """Close every connection. Callers first let the threads using this history finish
        (closing a connection under a running query crashes sqlite3)."""
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def schema_version(self) -> list[str]:
        return [m.name for m in migrations.applied(self.db)]

    # --- analyses ------------------------------------------------------------------------------

    def record(self, user: str, result, *, duration_s: float, granularity: str, model: str,
               chat: str = "", notes=(), at: datetime | None = None,
               speaker: str | None = "") -> int:
        """Store one analysis (a ``ClipResult``) filed under ``user`` and return its id.
        ``speaker``: whose voice it is (default: ``user``'s own; None: unknown). The utterance
        embedding is kept only when the ``store_embeddings`` of both allow it."""
        user = user_key(user)
        speaker = user if speaker == "" else (user_key(speaker) if speaker else None)
        people = {user, speaker} - {None}
        keep = result.embedding is not None and all(
            self.get_settings(who).store_embeddings for who in people)
        emb = np.asarray(result.embedding, dtype=np.float32) if keep else None
        row = {
            "user": user, "speaker": speaker, "platform": user.split(":", 1)[0],
            "chat": str(chat), "at": stamp(at),
            "duration_s": float(duration_s), "granularity": granularity,
            "emotion": result.emotion, "confidence": round(float(result.confidence), 6),
            "scores": json.dumps({k: round(v, 6) for k, v in result.score_map().items()}),
            "model": model, "notes": json.dumps([_note(n) for n in notes], ensure_ascii=False),
            "embedding": emb.tobytes() if emb is not None else None,
            "embedding_dim": int(emb.shape[-1]) if emb is not None else None,
        }
        with self._write() as db:
            return db["records"].insert(row).last_pk

    def _rows(self, user: str, since: datetime | None = None, limit: int | None = None,
              embedding: bool = False) -> list[dict]:
        cols = "id, at, platform, chat, duration_s, granularity, emotion, confidence, scores, " \
               "model, notes, CASE WHEN speaker = ? THEN 'yours' WHEN speaker IS NULL " \
               "THEN 'unknown' ELSE 'someone else' END AS voice" + (
                   ", embedding" if embedding else "")
        key = user_key(user)
        rows = [dict(r) for r in self.db.query(
            f"SELECT {cols} FROM records WHERE {MINE} AND at >= ? ORDER BY at DESC, id DESC "
            "LIMIT ?", [key, key, key, stamp(since) if since else "", -1 if limit is None
                        else int(limit)])]
        for r in rows:
            r["scores"] = json.loads(r["scores"])
            r["notes"] = json.loads(r["notes"] or "[]")
        return rows

    def history(self, user: str, n: int = 10) -> list[dict]:
        """The user's last ``n`` analyses, newest first."""
        return self._rows(user, limit=max(0, n))

    def stats(self, user: str, period: str = "week", now: datetime | None = None):
        since = analysis.period_start(period, now or datetime.now(timezone.utc))
        return analysis.stats(self._rows(user, since), period)

    def trend_png(self, user: str, period: str = "month", now: datetime | None = None):
        """Daily shares per emotion as a PNG, or None without analyses in the period."""
        since = analysis.period_start(period, now or datetime.now(timezone.utc))
        rows = self._rows(user, since)
        return charts.trend_png(*analysis.daily_shares(rows)) if rows else None

    def export_files(self, user: str) -> tuple[dict[str, bytes], int, int]:
        """``history.csv``, ``history.json`` and ``embeddings.npz`` (keyed by record id), oldest
        first; with the number of records and of stored embeddings."""
        rows = self._rows(user, embedding=True)[::-1]
        vectors = {str(r["id"]): np.frombuffer(r.pop("embedding"), dtype=np.float32)
                   for r in rows if r.get("embedding") is not None}
        for r in rows:
            r.pop("embedding", None)
        labels = sorted({k for r in rows for k in r["scores"]})
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*EXPORT_FIELDS, *labels])
        for r in rows:
            values = [json.dumps(r[f], ensure_ascii=False) if f == "notes" else r[f]
                      for f in EXPORT_FIELDS]
            writer.writerow([*values, *(r["scores"].get(k, "") for k in labels)])
        files = {
            "history.csv": out.getvalue().encode("utf-8"),
            "history.json": json.dumps(rows, ensure_ascii=False, indent=1).encode("utf-8"),
            "embeddings.npz": embeddings.npz_bytes(vectors),
        }
        return files, len(rows), len(vectors)

    def export(self, user: str, out_dir: str | Path) -> list[Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files, _, _ = self.export_files(user)
        for name, data in files.items():
            (out / name).write_bytes(data)
        return [out / name for name in files]

    def purge(self, now: datetime | None = None) -> int:
        """Delete analyses older than each user's retention (their own, else the default; 0 keeps
        them) and finished jobs older than ``JOB_KEEP_DAYS``. Returns the analyses deleted."""
        now = now or datetime.now(timezone.utc)
        deleted = 0
        with self._write() as db:
            own = "SELECT user FROM user_settings WHERE retention_days IS NOT NULL"
            if self.defaults.retention_days > 0:
                cut = stamp(now - timedelta(days=self.defaults.retention_days))
                deleted += db.execute(f"DELETE FROM records WHERE at < ? AND user NOT IN ({own})",
                                      [cut]).rowcount
            for row in list(db.query("SELECT user, retention_days FROM user_settings "
                                     "WHERE retention_days > 0")):
                cut = stamp(now - timedelta(days=row["retention_days"]))
                deleted += db.execute("DELETE FROM records WHERE user = ? AND at < ?",
                                      [row["user"], cut]).rowcount
            db.execute("DELETE FROM jobs WHERE status IN ('done', 'failed') AND updated_at < ?",
                       [stamp(now - timedelta(days=JOB_KEEP_DAYS))])
            db.execute(ORPHAN_REPLIES)
        return deleted

    # --- per-user settings ---------------------------------------------------------------------

    def get_settings(self, user: str) -> UserSettings:
        rows = list(self.db.query("SELECT * FROM user_settings WHERE user = ?", [user_key(user)]))
        if not rows:
            return self.defaults
        own = {k: v for k, v in rows[0].items()
               if k not in ("user", "updated_at") and v is not None}
        for flag in ("attach_embedding", "store_embeddings", "float16_embeddings"):
            if flag in own:
                own[flag] = bool(own[flag])
        return dataclasses.replace(self.defaults, **own)

    def set_settings(self, user: str, **changes) -> UserSettings:
        """Change some of a user's settings (``None`` returns one to the default)."""
        for key, value in changes.items():
            check = _SETTING_CHECKS.get(key)
            if check is None:
                raise ValueError(f"unknown user setting {key!r}; expected one of "
                                 f"{', '.join(_SETTING_CHECKS)}")
            if value is not None and not check[0](value):
                raise ValueError(f"{key} must be {check[1]}, not {value!r}")
        row = {k: int(v) if isinstance(v, bool) else v for k, v in changes.items()}
        with self._write() as db:
            db["user_settings"].upsert({"user": user_key(user), **row, "updated_at": stamp()},
                                       pk="user")
        return self.get_settings(user)


_SETTING_CHECKS = {
    "granularity": (lambda v: v in GRANULARITIES, " or ".join(GRANULARITIES)),
    "attach_embedding": (lambda v: isinstance(v, bool), "true or false"),
    "store_embeddings": (lambda v: isinstance(v, bool), "true or false"),
    "float16_embeddings": (lambda v: isinstance(v, bool), "true or false"),
    "language": (lambda v: v in ("en", "zh"), "en or zh"),
    "retention_days": (lambda v: type(v) is int and v >= 0, "a whole number >= 0"),
}


def _note(note) -> dict:
    if hasattr(note, "key"):
        return {"key": note.key, "params": dict(getattr(note, "params", {}) or {})}
    return {"text": str(note)}
