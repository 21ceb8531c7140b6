"""The side tables of the history database: consents, the job journal, channel settings, meta.

A mixin of ``bot.history.History`` (it shares its connections and write transactions); kept apart
so each file stays readable. Every method takes a user key and touches only that user's rows,
except channel-wide settings.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone


def stamp(when: datetime | None = None) -> str:
    """UTC ISO time with seconds, sortable as text: ``2025-01-02T03:04:05Z``."""
    return (when or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def epoch(value) -> float:
    """A journal time (``2025-01-02T03:04:05Z``) or a float as seconds since the epoch; 0 for
    none."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def user_key(raw: str) -> str:
    """A full key stays as is (``telegram:123``); a bare name means ``cli:NAME``."""
    raw = raw.strip()
    if not raw or raw.endswith(":") or raw.startswith(":"):
        raise ValueError(f"not a user key: {raw!r}")
    return raw if ":" in raw else f"cli:{raw}"


class SideTables:
    """Needs ``self.db`` and ``self._write()`` from ``History``."""

    def grant_consent(self, user: str, scope: str, now: datetime | None = None) -> None:
        with self._write() as db:
            db["consents"].upsert({"user": user_key(user), "scope": scope,
                                   "granted_at": stamp(now)}, pk=("user", "scope"))

    def revoke_consent(self, user: str, scope: str) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM consents WHERE user = ? AND scope = ?",
                              [user_key(user), scope]).rowcount > 0

    def has_consent(self, user: str, scope: str) -> bool:
        return bool(list(self.db.query("SELECT 1 FROM consents WHERE user = ? AND scope = ?",
                                       [user_key(user), scope])))

    def add_job(self, platform: str, ref: str, user: str, chat: str = "",
                payload: dict | None = None) -> int | None:
        """Journal accepted work: a message or file reference and what is needed to fetch it
        again (``payload``), never audio. None when (platform, ref) was journaled before: a
        redelivered event."""
        now = stamp()
        with self._write() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO jobs (platform, ref, user, chat, status, detail, payload,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', '', ?, ?, ?)",
                [platform, ref, user_key(user), str(chat), json.dumps(payload or {}), now, now])
            return cur.lastrowid if cur.rowcount else None

    def claim_job(self, job_id: int) -> bool:
        """pending -> running; False when another worker claimed it first."""
        with self._write() as db:
            return db.execute("UPDATE jobs SET status = 'running', updated_at = ? "
                              "WHERE id = ? AND status = 'pending'", [stamp(), job_id]).rowcount > 0

    def finish_job(self, job_id: int, ok: bool = True, detail: str = "") -> None:
        with self._write() as db:
            db.execute("UPDATE jobs SET status = ?, detail = ?, updated_at = ? WHERE id = ?",
                       ["done" if ok else "failed", detail, stamp(), job_id])
            db.execute("DELETE FROM job_replies WHERE job_id = ?", [job_id])

    def probe_write(self) -> None:
        """One small real write (raises what the journal would raise now)."""
        with self._write() as db:
            db["meta"].upsert({"key": "probe", "value": stamp()}, pk="key")

    def start_run(self, job_id: int) -> int:
        """Count one more start of this job's analysis; how many starts have not finished
        (more than one: an earlier process died during the analysis)."""
        with self._write() as db:
            db.execute("UPDATE jobs SET runs = runs + 1, updated_at = ? WHERE id = ?",
                       [stamp(), job_id])
            return db.execute("SELECT runs FROM jobs WHERE id = ?", [job_id]).fetchone()[0]

    def end_run(self, job_id: int, reply: bytes | None = None) -> None:
        """The analysis finished; ``reply`` (its answer, as bytes) is kept until delivered."""
        with self._write() as db:
            db.execute("UPDATE jobs SET runs = 0 WHERE id = ?", [job_id])
            if reply is not None:
                db["job_replies"].upsert({"job_id": job_id, "reply": reply}, pk="job_id")

    def job_reply(self, job_id: int) -> bytes | None:
        """The answer an unfinished job analysed before, if any."""
        rows = list(self.db.query("SELECT reply FROM job_replies WHERE job_id = ?", [job_id]))
        return rows[0]["reply"] if rows else None

    def delivery_failed(self, job_id: int, sent_parts: int, next_at: datetime | None) -> int:
        """One more failed delivery attempt: parts already sent and when to try next are kept
        for a restart. Returns the attempts so far."""
        with self._write() as db:
            db.execute("UPDATE jobs SET attempts = attempts + 1, sent_parts = ?, "
                       "next_attempt_at = ?, updated_at = ? WHERE id = ?",
                       [sent_parts, stamp(next_at) if next_at else None, stamp(), job_id])
            return db.execute("SELECT attempts FROM jobs WHERE id = ?", [job_id]).fetchone()[0]

    def pending_jobs(self, platform: str | None = None) -> list[dict]:
        """Jobs not finished (pending or running), oldest first: what a restart must resume.
        ``payload`` comes back as a dict."""
        sql = "SELECT * FROM jobs WHERE status IN ('pending', 'running')"
        params = []
        if platform is not None:
            sql += " AND platform = ?"
            params.append(platform)
        rows = [dict(r) for r in self.db.query(sql + " ORDER BY id", params)]
        for row in rows:
            row["payload"] = json.loads(row.get("payload") or "{}")
        return rows

    def channel_setting(self, platform: str, channel: str, key: str, default=None,
                        user: str = ""):
        """A channel-wide value (``user=""``) or one member's (e.g. a group opt-in)."""
        rows = list(self.db.query(
            "SELECT value FROM channel_settings WHERE platform = ? AND channel = ? AND key = ? "
            "AND user = ?", [platform, str(channel), key, user_key(user) if user else ""]))
        return json.loads(rows[0]["value"]) if rows else default

    def set_channel_setting(self, platform: str, channel: str, key: str, value, user: str = "",
                            set_by: str | None = None) -> None:
        with self._write() as db:
            db["channel_settings"].upsert({
                "platform": platform, "channel": str(channel), "key": key,
                "user": user_key(user) if user else "", "value": json.dumps(value),
                "set_by": user_key(set_by) if set_by else None, "updated_at": stamp(),
            }, pk=("platform", "channel", "key", "user"))

    def first_time(self, platform: str, key: str, user: str) -> bool:
        """True for the first call with (platform, key, user), False ever after: one atomic
        check-and-set (a user's first notes arriving together see it once)."""
        with self._write() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO channel_settings (platform, channel, key, user, value, "
                "set_by, updated_at) VALUES (?, '', ?, ?, 'true', NULL, ?)",
                [platform, key, user_key(user), stamp()])
            return cur.rowcount > 0

    def salt(self) -> str:
        """A random per-install salt (hex), e.g. for hashing user ids in logs; made once."""
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?)",
                       [secrets.token_hex(16)])
            return list(db.query("SELECT value FROM meta WHERE key = 'salt'"))[0]["value"]
