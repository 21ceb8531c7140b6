"""Reply -> Telegram calls and Telegram messages -> requests, with literal data (no network)."""

from __future__ import annotations

from telegram import Message

from adapters import telegram_render as render
from bot.reply import Attachment, Button, Reply
from tests.adapters import fake_telegram as fake


def test_a_reply_is_one_html_message_with_the_chart_in_pre_then_its_files():
    npy = Attachment("e.npy", b"\x93NUMPY", "application/octet-stream", "embedding")
    png = Attachment("timeline.png", b"\x89PNG", "image/png", "chart")
    reply = Reply(("a < b & c",), "happy  |####|", (png, npy), "Sounds happy (80 %)")

    calls = render.plan(reply)

    assert [c.method for c in calls] == ["send_message", "send_photo", "send_document"]
    assert calls[0].text == "Sounds happy (80 %)\n\n<pre>happy  |####|</pre>\n\na &lt; b &amp; c"
    assert (calls[1].file, calls[2].file) == (png, npy)


def test_long_text_is_split_within_4096_characters_without_cutting_a_pre_block():
    mono = "\n".join(f"row {i:04d} " + "#" * 40 for i in range(200))  # ~10,000 characters
    reply = Reply(("x" * 5000,), mono, (), "title")

    calls = render.plan(reply)

    texts = [c.text for c in calls]
    assert all(len(t) <= render.MESSAGE_LIMIT for t in texts)
    pres = [t for t in texts if "<pre>" in t]
    assert all(t.count("<pre>") == t.count("</pre>") for t in texts)
    rows = "\n".join(t.split("<pre>", 1)[1].split("</pre>")[0] for t in pres).split("\n")
    assert rows == mono.split("\n")  # every chart row survives, in order, whole
    assert "".join(t for t in texts if t.startswith("x")) == "x" * 5000


def test_escaping_counts_towards_the_limit():
    calls = render.plan(Reply(("&" * 1000,)))  # 5000 characters once escaped

    assert [len(c.text) for c in calls] == [4095, 905]


def test_buttons_ride_on_the_last_message_and_oversized_callback_data_is_dropped():
    reply = Reply((), headline="Delete everything?", buttons=(
        Button("Yes", "forget confirm"), Button("Too long", "x" * 65)))

    calls = render.plan(reply)

    assert calls == [render.Call("send_message", "Delete everything?",
                                 (Button("Yes", "forget confirm"),))]


def _msg(update: dict) -> Message:
    return Message.de_json(update["message"], None)


def test_a_private_voice_note_is_an_explicit_request_owned_by_its_sender():
    msg = _msg({"message": fake.message(5, 5, **fake.voice("v1", 4000, duration=3))})
    file = render.audio_of(msg)

    req = render.audio_request(msg, msg.from_user, msg.chat, file, None, explicit=True,
                               max_download_bytes=20 * 1024 * 1024)

    assert file == render.AudioFile("v1", 4000, 3.0)
    assert (req.sender.key, req.chat, req.ref) == ("telegram:5", "telegram:5",
                                                   f"telegram:5:{msg.message_id}")
    assert (req.owner, req.forwarded, req.explicit, req.group) == ("telegram:5", False, True, False)
    assert req.sender.language == "en"
    assert req.declared_size == 4000 and req.max_download_bytes == 20 * 1024 * 1024


def test_a_forwarded_voice_is_owned_by_its_origin_user_or_nobody():
    from_user = {"type": "user", "date": 1, "sender_user": fake.user(6)}
    hidden = {"type": "hidden_user", "date": 1, "sender_user_name": "Someone"}
    for origin, owner in ((from_user, "telegram:6"), (hidden, None)):
        msg = _msg({"message": fake.message(5, 5, forward_origin=origin,
                                            **fake.voice("v1", 10))})
        req = render.audio_request(msg, msg.from_user, msg.chat, render.audio_of(msg), None,
                                   explicit=True, max_download_bytes=None)
        assert (req.forwarded, req.owner) == (True, owner)


def test_audio_documents_count_and_other_documents_only_in_private():
    audio_doc = _msg({"message": fake.message(-1, 5, **fake.document("d", 9, "a.M4A", ""))})
    pdf = _msg({"message": fake.message(-1, 5, **fake.document("p", 9, "x.pdf",
                                                                "application/pdf"))})
    text_only = _msg({"message": fake.message(-1, 5, text="hi")})

    assert render.audio_of(audio_doc) == render.AudioFile("d", 9, None)
    assert render.audio_of(pdf) is None
    assert render.audio_of(pdf, any_document=True) == render.AudioFile("p", 9, None)
    assert render.audio_of(text_only) is None
    assert render.is_group(audio_doc.chat) is True
