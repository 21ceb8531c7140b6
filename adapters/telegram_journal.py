"""The Telegram side of the job journal: nothing accepted is lost, nothing is answered twice.

An update is journaled when it enters the Application's queue (``JournalQueue.put``), which is
before the Updater confirms it to Telegram (the next ``getUpdates`` carries the new offset) and
before the webhook answers 200. So an update Telegram will not send again is always in the
journal; one it sends again (same chat and message) finds its job there and is ignored. The
journal holds the file's ``file_id`` and where to answer, never audio: a resumed job fetches the
file again with ``getFile``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from adapters import telegram_render as render
from bot.requests import AudioRequest, Sender


# Journal writes get threads of their own: in asyncio's default pool they would queue behind
# audio decodes (up to ``decode_timeout_s`` each), and a reply already delivered would stay
# unfinished (and be sent again after a crash) while they wait.
_POOL = ThreadPoolExecutor(2, thread_name_prefix="telegram-journal")


async def call(fn, *args):
    """``fn(*args)`` (a journal call of the Service) on the journal's own threads."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, fn, *args)


class JournalQueue(asyncio.Queue):
    """The Application's update queue; ``intake(update)`` runs before an update is queued."""

    def __init__(self) -> None:
        super().__init__()
        self.intake: Callable[[object], Awaitable[None]] | None = None

    async def put(self, item) -> None:
        if self.intake is not None:
            await self.intake(item)
        await super().put(item)


@dataclass(frozen=True)
class Ask:
    """An update that asks for an analysis: ``msg`` asked, ``target`` holds the audio."""

    msg: object
    target: object
    file: render.AudioFile
    explicit: bool


def ask_of(update, bot_username: str | None) -> Ask | None:
    """What the handlers will analyse for this update (the same rules as ``register``): a voice
    note, audio, video note or (in a private chat) any document; or ``/emotion`` replying to one."""
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


async def resumable(service) -> list[dict]:
    """Telegram jobs accepted before a restart and never answered, now this process's: those
    left running by a dead process, and pending ones it could claim."""
    if not hasattr(service, "pending"):
        return []
    jobs = []
    for job in await call(service.pending, "telegram"):
        if "file_id" in job["payload"] and (job["status"] == "running" or await call(
                service.claim, job["id"])):
            jobs.append(job)
    return jobs
