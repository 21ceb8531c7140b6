"""Whose voice a record is: the migration, the speaker's history, export and forget, the store
setting of both people, and the absurd declared length that is not a cut-off."""

from __future__ import annotations

import json
import sqlite3

from sqlite_utils import Database

from bot import audio_gate
from bot.audio import Note
from bot.history import History
from bot.history_schema import migrations
from bot.reply import Attachment, Reply
from tests.bot.test_history import T0, clip

ANA, BO = "telegram:1", "telegram:2"  # Ana speaks, Bo asks


def record(h, user, speaker="", seed=0):
    return h.record(user, clip(seed=seed), duration_s=2.0, granularity="utterance", model="m",
                    chat="telegram:-100", at=T0, speaker=speaker)


def test_existing_records_become_their_filers_own_voice(tmp_path):
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="0005_record_speaker")
    db["records"].insert({"user": ANA, "platform": "telegram", "at": "2025-01-01T00:00:00Z",
                          "emotion": "sad", "confidence": 0.7, "scores": "{}", "notes": "[]"})
    db.conn.commit()
    db.conn.close()
    h = History(path)
    try:
        assert [(ANA, ANA)] == h.db.execute("SELECT user, speaker FROM records").fetchall()
        assert ["yours"] == [r["voice"] for r in h.history(ANA)]
    finally:
        h.close()


def test_the_speaker_sees_exports_and_forgets_records_filed_under_the_requester(tmp_path):
    h = History(tmp_path / "h.db")
    try:
        theirs = record(h, BO, speaker=ANA, seed=1)
        record(h, BO, seed=2)  # Bo's own voice
        unknown = record(h, BO, speaker=None, seed=3)  # a forwarded note, allowed by the operator
        assert [theirs] == [r["id"] for r in h.history(ANA)]
        files, count, stored = h.export_files(ANA)
        rows = json.loads(files["history.json"])
        assert (1, 1, "yours") == (count, stored, rows[0]["voice"])
        assert ["unknown", "yours", "someone else"] == [r["voice"] for r in h.history(BO)]
        assert 1 == h.forget(ANA)
        assert [] == h.history(ANA)
        assert 2 == len(h.history(BO)) and unknown in [r["id"] for r in h.history(BO)]
        left = h.db.execute("SELECT speaker FROM records ORDER BY id").fetchall()
        assert [(BO,), (None,)] == left
    finally:
        h.close()


def test_an_embedding_is_kept_only_when_both_people_allow_it(tmp_path):
    h = History(tmp_path / "h.db")
    try:
        h.set_settings(ANA, store_embeddings=False)
        record(h, BO, speaker=ANA)
        record(h, BO)
        stored = h.db.execute("SELECT speaker, embedding IS NOT NULL FROM records").fetchall()
        assert [(ANA, 0), (BO, 1)] == stored
    finally:
        h.close()


def test_a_declared_length_no_cut_explains_is_not_a_cut_off():
    assert [] == audio_gate.completeness_notes(2.0, 3.6e7, 0)  # 10,000 hours declared
    assert [] == audio_gate.completeness_notes(2.0, 25.0, 0)  # more than 10x
    assert [] == audio_gate.completeness_notes(9_000.0, 90_000.0, 0)  # over a day
    assert [Note("audio.note.truncated", {"heard_s": 3.0, "declared_s": 20.0})] == \
        audio_gate.completeness_notes(3.0, 20.0, 0)


def test_a_reply_sets_embeddings_aside_and_the_room_is_told():
    npy = Attachment("e.npy", b"x", "application/octet-stream", "embedding")
    png = Attachment("timeline.png", b"p", "image/png", "chart")
    reply = Reply(("caveat",), "chart", (png, npy), "happy").set_aside(
        ("embedding",), "yours alone", "sent to you", "open a chat")
    assert (png,) == reply.attachments
    assert ("caveat", "sent to you") == reply.in_room().parts
    assert ("caveat", "open a chat") == reply.in_room(reached=False).parts
    assert Reply((), headline="yours alone", attachments=(npy,), private=True) == \
        reply.privately()
    plain = Reply(("caveat",), attachments=(png,))
    assert plain is plain.set_aside(("embedding",), "h", "s", "m") and plain.privately() is None


def test_the_service_files_the_speaker_and_refuses_shared_identities(make_service):
    from bot.messages import text
    from bot.requests import CommandRequest, Sender
    from tests.bot.test_service import ANA as ana, BO as bo, GROUP, request, run

    service = make_service()
    service.history.grant_consent(bo.key, f"chat:{GROUP}")
    reply = run(service.analyze(request(owner=bo.key, chat=GROUP, group=True)))
    assert [(ana.key, bo.key)] == service.history.db.execute(
        "SELECT user, speaker FROM records").fetchall()
    assert [] == [a for a in reply.attachments if a.kind == "embedding"]  # set aside in a group
    assert reply.aside is not None and reply.aside.files[0].filename.endswith(".npy")
    anonymous = Sender("telegram:1087968824", "telegram", "en")
    refused = run(service.analyze(request(sender=anonymous, chat=GROUP, group=True)))
    assert (False, text("privacy.shared_sender", "en")) == (refused.ok, refused.headline)
    silent = run(service.analyze(request(sender=anonymous, chat=GROUP, group=True,
                                         explicit=False)))
    channel = run(service.analyze(request(owner="telegram:777000", chat=GROUP, group=True)))
    assert (None, text("privacy.shared_speaker", "en")) == (silent, channel.headline)
    optin = run(service.command(CommandRequest(anonymous, GROUP, "optin", private=False)))
    assert text("privacy.shared_sender", "en") == optin.headline
    assert not service.history.has_consent(anonymous.key, f"chat:{GROUP}")
    slack = Sender("slack:T1:U2", "slack", "en")
    other = run(service.analyze(request(sender=slack, owner="slack:T1:U1",
                                        chat="slack:T1:C1", group=True)))
    assert text("privacy.not_owner.slack", "en") == other.headline
