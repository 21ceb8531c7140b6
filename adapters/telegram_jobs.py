"""Telegram analyses as the core's jobs: the ``Job`` for one voice note (deliver its reply in
order, the private files first, "typing…" meanwhile), a journaled job rebuilt after a restart,
and private replies asked for in a group. Each Bot API call is made once; a 429 goes back to
the core as ``RetryLater`` with Telegram's ``retry_after``.
"""

from __future__ import annotations

from telegram.constants import ChatAction
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError

from adapters import telegram_calls as calls
from adapters import telegram_intake as intake
from adapters import telegram_render as render
from bot.core import Core, Delivered, Job, RetryLater, Undeliverable
from bot.reply import Reply
from bot.settings import Settings

MB = 1024 * 1024


def job_of(bot, core: Core, req, payload: dict) -> Job:
    """The job for one analysis: deliver into the chat (privately for a private reply asked
    for in a group; a reply's ``aside``, its private files, to the requester's private chat
    first), "typing…" meanwhile for an explicit request. The aside's calls count as the first
    parts of the reply, so a later attempt goes on after whatever was sent."""

    async def deliver(reply: Reply, sent: int):
        if reply.private and payload["chat_type"] in render.GROUP_TYPES:
            try:
                await send_private(bot, core, reply, payload["chat_id"], payload["reply_to"],
                                   req.sender)
                return Delivered(1)
            except RetryAfter as err:
                return RetryLater("flood control", calls.seconds(err))
            except TelegramError as err:
                return Undeliverable(type(err).__name__)
        progress = [sent]
        try:
            room = reply
            if reply.aside is not None:  # the files for the requester's private chat first
                room = reply.in_room(await _send_aside(bot, reply, payload["user_id"], progress))
            first = progress[1] if len(progress) > 1 else 0
            box = calls.Outbox(room, payload["chat_id"], payload["reply_to"],
                               progress[0] - first, patient=False)
            try:
                await box.flush(bot)  # from the first part not yet sent
            finally:
                progress[0] = first + box.sent
            return Delivered(progress[0])
        except RetryAfter as err:  # flood control: the core waits as long as Telegram said
            return RetryLater("flood control", calls.seconds(err), progress[0])
        except NetworkError as err:  # TimedOut included: the rest still goes
            return RetryLater(type(err).__name__, sent=progress[0])
        except TelegramError as err:  # refused for good (blocked, chat gone)
            return Undeliverable(type(err).__name__, progress[0])
        except Exception as err:  # e.g. the HTTP client closed under a shutdown: try again
            return RetryLater(type(err).__name__, sent=progress[0])  # from what did go

    def working():
        return calls.chat_action(bot, payload["chat_id"], ChatAction.TYPING)

    return Job(req, payload, deliver, working if req.explicit else None)


async def _send_aside(bot, reply: Reply, user_id: int, progress: list[int]) -> bool:
    """The reply's private files in the requester's private chat, from part ``progress[0]``
    on; False when they never opened one. Appends the aside's length to ``progress``."""
    aside = calls.Outbox(reply.privately(), user_id, None, progress[0],
                         patient=False)
    length = len(aside.calls)
    reached = True
    if progress[0] < length:
        try:
            await aside.flush(bot)
        except Forbidden:
            reached = False
        finally:
            progress[0] = max(progress[0], aside.sent) if reached else length
    progress.append(length)
    return reached


async def revive(bot, core: Core, row: dict, settings: Settings) -> Job | None:
    """A journaled analysis again: ``getFile`` by its ``file_id``, answered where it was asked."""
    p = row["payload"]
    if "file_id" not in p:
        return None
    fetch = calls.fetcher(bot, p["file_id"], p.get("max_download") or 20 * MB,
                          settings.audio.download_timeout_s)
    return job_of(bot, core, intake.request_from(row, fetch), p)


async def send_private(bot, core: Core, reply: Reply, chat_id: int, reply_to: int | None,
                       sender) -> None:
    """``reply`` in the person's private chat, and a short pointer (or "open a chat with me
    first") in the group."""
    user_id = int(sender.key.split(":", 1)[1])
    try:
        await calls.send(bot, reply, user_id, None)
        note = "private_sent"
    except Forbidden:
        note = "open_private_chat"
    await calls.send(bot, await core.notice(note, sender), chat_id, reply_to)
