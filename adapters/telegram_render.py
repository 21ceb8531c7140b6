"""Reply -> Telegram calls, and Telegram messages -> requests, as data. Pure: no network.

``plan(reply)`` returns the calls that show one ``Reply`` in a chat, in order: text messages in
HTML (headline, the ``mono`` block in ``<pre>``, paragraphs), split to fit 4096 characters, the
buttons on the last message, then one photo (PNG charts) or document per attachment.
``audio_of`` / ``audio_request`` / ``sender_of`` translate python-telegram-bot objects into the
platform-neutral requests of ``bot.requests``.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.reply import Attachment, Button, Reply
from bot.requests import AudioRequest, Sender

MESSAGE_LIMIT = 4096  # characters in one message
CAPTION_LIMIT = 1024  # characters in one caption
CALLBACK_LIMIT = 64  # bytes of callback_data
PHOTO_LIMIT = 10 * 1024 * 1024  # sendPhoto accepts up to 10 MB; larger charts go as documents
UPLOAD_LIMIT = 50 * 1024 * 1024  # what a bot may upload through the cloud Bot API
AUDIO_SUFFIXES = (".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".wav", ".flac", ".amr",
                  ".webm", ".wma", ".mka", ".spx", ".3gp", ".caf", ".aiff", ".aif")
GROUP_TYPES = ("group", "supergroup")


@dataclass(frozen=True)
class Call:
    """One Bot API call: ``send_message`` (``text`` in HTML, ``buttons``), ``send_photo`` or
    ``send_document`` (``file``, optional ``text`` as caption)."""

    method: str
    text: str = ""
    buttons: tuple[Button, ...] = ()
    file: Attachment | None = None


def escape(text: str) -> str:
    """HTML parse mode needs only ``<``, ``>`` and ``&`` escaped."""
    return html.escape(text, quote=False)


def plan(reply: Reply, limit: int = MESSAGE_LIMIT) -> list[Call]:
    blocks = [escape(reply.headline)] if reply.headline else []
    if reply.mono:
        blocks += _pre_blocks(reply.mono, limit)
    for part in reply.parts:
        blocks += [escape(piece) for piece in _split_plain(part, limit)]
    messages = _pack(blocks, limit)
    buttons = tuple(b for b in reply.buttons if len(b.action.encode()) <= CALLBACK_LIMIT)
    if buttons and not messages:
        messages = ["…"]
    calls = [Call("send_message", m) for m in messages]
    if buttons:
        calls[-1] = Call("send_message", calls[-1].text, buttons)
    for file in reply.attachments:
        photo = file.mime == "image/png" and file.size <= PHOTO_LIMIT
        calls.append(Call("send_photo" if photo else "send_document", file=file))
    return calls


def _pack(blocks: list[str], limit: int) -> list[str]:
    """Blocks joined by blank lines into as few messages as fit; no block is ever cut."""
    messages: list[str] = []
    for block in blocks:
        if messages and len(messages[-1]) + 2 + len(block) <= limit:
            messages[-1] += "\n\n" + block
        else:
            messages.append(block)
    return messages


def _pre_blocks(mono: str, limit: int) -> list[str]:
    """``<pre>`` blocks of whole lines, each within ``limit`` once escaped and wrapped."""
    room = limit - len("<pre></pre>")
    blocks, lines = [], []
    for line in _split_plain(mono, room, by_words=False):
        candidate = "\n".join([*lines, escape(line)])
        if lines and len(candidate) > room:
            blocks.append("<pre>" + "\n".join(lines) + "</pre>")
            lines = []
        lines.append(escape(line))
    if lines:
        blocks.append("<pre>" + "\n".join(lines) + "</pre>")
    return blocks


def _split_plain(text: str, limit: int, by_words: bool = True) -> list[str]:
    """Raw text cut into pieces whose escaped length is within ``limit``: whole lines when they
    fit, else words, else characters."""
    if len(escape(text)) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        units = line.split(" ") if by_words else [line]
        for i, unit in enumerate(units):
            sep = "" if not current else ("\n" if i == 0 else " ")
            if len(escape(current + sep + unit)) <= limit:
                current += sep + unit
                continue
            if current:
                pieces.append(current)
            current = ""
            for ch in unit:  # one unit alone is too long: cut it by characters
                if len(escape(current + ch)) > limit:
                    pieces.append(current)
                    current = ""
                current += ch
    if current:
        pieces.append(current)
    return pieces


# --- Telegram objects -> requests ----------------------------------------------------------------


@dataclass(frozen=True)
class AudioFile:
    file_id: str
    size: int | None
    duration_s: float | None


def audio_of(message, any_document: bool = False) -> AudioFile | None:
    """The audio in a message: a voice note, an audio file, a video note or video (its sound
    track), or a document that looks like audio (any document when ``any_document``: in a
    private chat the user clearly wants it analysed, and a clear "not audio" beats silence)."""
    if message is None:
        return None
    for media in (message.voice, message.audio, message.video_note, message.video):
        if media is not None:
            with warnings.catch_warnings():  # PTB 22 warns that duration becomes a timedelta
                warnings.simplefilter("ignore")
                duration = _seconds(media.duration)
            return AudioFile(media.file_id, media.file_size, duration)
    doc = message.document
    if doc is None:
        return None
    mime = (doc.mime_type or "").lower()
    name = (doc.file_name or "").lower()
    looks_audio = mime.startswith("audio/") or mime == "application/ogg" or (
        name.endswith(AUDIO_SUFFIXES))
    if looks_audio or any_document:
        return AudioFile(doc.file_id, doc.file_size, None)
    return None


def sender_of(user) -> Sender:
    return sender_of_id(user.id, user.language_code)


def sender_of_id(user_id: int, language_code: str | None) -> Sender:
    return Sender(user_key(user_id), "telegram", language_code)


def user_key(user_id: int) -> str:
    return f"telegram:{user_id}"


def chat_key(chat_id: int) -> str:
    return f"telegram:{chat_id}"


def is_group(chat) -> bool:
    return chat.type in GROUP_TYPES


def audio_request(target, requester, chat, file: AudioFile,
                  fetch: Callable[[int], Awaitable[bytes]], *, explicit: bool,
                  max_download_bytes: int | None, granularity: str | None = None,
                  asked_in: int | None = None) -> AudioRequest:
    """``target`` is the message holding the audio (the voice note itself, or the one a
    ``/emotion`` replies to); ``requester`` the user who asked (or sent it); ``asked_in`` the id
    of the message that asked (the ``/emotion`` command; default: ``target``). The request's
    ``ref`` names the asking message, so a redelivered update is one job while asking twice on
    purpose is two."""
    origin = getattr(target, "forward_origin", None)
    if getattr(target, "is_automatic_forward", False):
        origin = None  # a linked channel's post re-posted by its account: its own, not a forward
    if origin is not None:
        origin_user = getattr(origin, "sender_user", None)  # MessageOriginUser only
        owner = user_key(origin_user.id) if origin_user is not None else None
    else:
        owner = user_key(target.from_user.id) if target.from_user else None
    return AudioRequest(
        sender=sender_of(requester),
        chat=chat_key(chat.id),
        ref=f"telegram:{chat.id}:{asked_in or target.message_id}",
        fetch=fetch,
        declared_size=file.size,
        declared_duration_s=file.duration_s,
        owner=owner,
        forwarded=origin is not None,
        explicit=explicit,
        group=is_group(chat),
        granularity=granularity,
        max_upload_bytes=UPLOAD_LIMIT,
        max_download_bytes=max_download_bytes,
    )


def _seconds(value) -> float | None:
    if value is None:
        return None
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)
