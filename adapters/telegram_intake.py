"""Telegram updates that ask for an analysis -> journaled jobs, before Telegram hears of them.

``IntakeQueue`` is the Application's update queue. Its ``put`` runs before the Updater confirms an
update (the next ``getUpdates`` carries the new offset) and before PTB's webhook answers 200. An
update that asks for an analysis (``ask_of``) is handed to the core there as a ``Job`` and stored
in its journal, so an update Telegram will not send again is never lost, and one it sends again
(same chat and message) is ignored by the core; every other update goes on to the handlers, once
per ``update_id`` (PTB does not de-duplicate). A journaled job holds the file's ``file_id`` and
where to answer, never audio: a resumed job fetches the file again with ``getFile``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adapters import telegram_render as render
from bot.requests import AudioRequest, Sender

SEEN = 1000  # update_ids remembered for de-duplication


class IntakeQueue(asyncio.Queue):
    """The Application's update queue. ``intake(update)`` runs first and returns True when it
    took the update (an analysis, now journaled); the rest are queued for the handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.intake: Callable[[object], Awaitable[bool]] | None = None
        self._seen: OrderedDict[int, None] = OrderedDict()

    async def put(self, item) -> None:
        update_id = getattr(item, "update_id", None)
        if update_id is not None:
            if update_id in self._seen:
                return  # Telegram sent it again (a slow answer): handled once
            self._seen[update_id] = None
            if len(self._seen) > SEEN:
                self._seen.popitem(last=False)
        try:
            if self.intake is None or not await self.intake(item):
                await super().put(item)
        except BaseException:  # not taken: Telegram will send it again, and then it counts
            self._seen.pop(update_id, None)
            raise


@dataclass(frozen=True)
class Ask:
    """An update that asks for an analysis: ``msg`` asked, ``target`` holds the audio."""

    msg: object
    target: object
    file: render.AudioFile
    explicit: bool


def ask_of(update, bot_username: str | None) -> Ask | None:
    """What the handlers will analyse for this update (the same rules as ``register``): a voice
    note, audio, video note, video (its sound) or (in a private chat) any document; or
    ``/emotion`` replying to one."""
    msg = getattr(update, "message", None)
    if msg is None or msg.from_user is None:
        return None
    private = msg.chat.type == "private"
    if msg.text is not None:
        words = msg.text.split()
        if not words or not words[0].startswith("/"):
            return None
        name, _, addressed = words[0][1:].partition("@")
        if name.lower() != "emotion" or (addressed and bot_username
                                         and addressed.lower() != bot_username.lower()):
            return None
        target = msg.reply_to_message
        if target is None:
            return None
        own = target.from_user is not None and target.from_user.is_bot
        file = render.audio_of(target, any_document=not own)
        return Ask(msg, target, file, True) if file is not None else None
    file = render.audio_of(msg, any_document=private)
    return Ask(msg, msg, file, private) if file is not None else None


def payload(ask: Ask, req: AudioRequest) -> dict:
    """Everything needed to fetch and answer again after a restart; JSON, no audio, no URL."""
    return {"file_id": ask.file.file_id, "size": ask.file.size,
            "duration_s": ask.file.duration_s, "chat_id": ask.msg.chat.id,
            "chat_type": ask.msg.chat.type, "reply_to": ask.target.message_id,
            "user_id": ask.msg.from_user.id, "language": ask.msg.from_user.language_code,
            "owner": req.owner, "forwarded": req.forwarded, "explicit": req.explicit,
            "group": req.group, "granularity": req.granularity,
            "max_download": req.max_download_bytes}


def request_from(job: dict, fetch) -> AudioRequest:
    """The journaled request again, with a fresh ``fetch`` (``getFile`` by ``file_id``)."""
    p = job["payload"]
    return AudioRequest(
        sender=Sender(render.user_key(p["user_id"]), "telegram", p.get("language")),
        chat=render.chat_key(p["chat_id"]), ref=job["ref"], fetch=fetch,
        declared_size=p.get("size"), declared_duration_s=p.get("duration_s"),
        owner=p.get("owner"), forwarded=bool(p.get("forwarded")),
        explicit=bool(p.get("explicit")), group=bool(p.get("group")),
        granularity=p.get("granularity"), max_upload_bytes=render.UPLOAD_LIMIT,
        max_download_bytes=p.get("max_download"))
