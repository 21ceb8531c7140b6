"""The history database's schema: numbered sqlite-utils migrations, applied in order, once.

Add a step at the end for every change; never edit a step that has shipped (existing databases
have already run it).
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("emotion_bot.history")


@migrations(name="0001_initial")
def _initial(db: Database) -> None:
    db["records"].create({
        "id": int, "user": str, "platform": str, "chat": str, "at": str, "duration_s": float,
        "granularity": str, "emotion": str, "confidence": float, "scores": str, "model": str,
        "notes": str, "embedding": bytes, "embedding_dim": int,
    }, pk="id", not_null={"user", "platform", "at", "emotion", "confidence", "scores"})
    db["records"].create_index(["user", "at"])
    db["user_settings"].create({
        "user": str, "granularity": str, "attach_embedding": int, "store_embeddings": int,
        "language": str, "retention_days": int, "updated_at": str,
    }, pk="user")
    db["consents"].create({"user": str, "scope": str, "granted_at": str}, pk=("user", "scope"))
    db["jobs"].create({
        "id": int, "platform": str, "ref": str, "user": str, "chat": str, "status": str,
        "detail": str, "created_at": str, "updated_at": str,
    }, pk="id", not_null={"platform", "ref", "user", "status"})
    db["jobs"].create_index(["platform", "ref"], unique=True)
    db["jobs"].create_index(["status"])
    db["jobs"].create_index(["user"])
    db["channel_settings"].create({
        "platform": str, "channel": str, "key": str, "user": str, "value": str, "set_by": str,
        "updated_at": str,
    }, pk=("platform", "channel", "key", "user"))
    db["channel_settings"].create_index(["user"])
    db["meta"].create({"key": str, "value": str}, pk="key")


@migrations(name="0002_job_payload")
def _job_payload(db: Database) -> None:
    # What an adapter needs to fetch the file again and answer after a restart (never audio).
    db["jobs"].add_column("payload", str)


@migrations(name="0003_float16_embeddings")
def _float16(db: Database) -> None:
    db["user_settings"].add_column("float16_embeddings", int)


@migrations(name="0004_job_delivery")
def _job_delivery(db: Database) -> None:
    # The delivery state that must survive a restart: how often the analysis was started (a
    # poison job is failed after [delivery] max_runs), failed delivery attempts, when the next
    # may be made (the wait a platform asked for), and how many reply parts were already sent.
    for column in ("runs", "attempts", "sent_parts"):
        db["jobs"].add_column(column, int, not_null_default=0)
    db["jobs"].add_column("next_attempt_at", str)
    # The analysed answer until it is delivered (``bot.reply_codec``), deleted with its job.
    db["job_replies"].create({"job_id": int, "reply": bytes}, pk="job_id")


@migrations(name="0005_record_speaker")
def _record_speaker(db: Database) -> None:
    # Whose voice a record is (the requester files it; the speaker may be someone else who
    # consented). Rows from before this step were always the requester's own voice.
    db["records"].add_column("speaker", str)
    db.execute("UPDATE records SET speaker = user")
    db["records"].create_index(["speaker"])
