"""What a platform adapter is handed: the ``Core`` protocol and the types of its one seam.

An adapter only translates. A platform event becomes an ``AudioRequest`` (submitted as a ``Job``
with the adapter's ``deliver`` function) or a ``CommandRequest``; a ``Reply`` becomes platform
calls. Everything between (journal, claim, analysis, retries, finish, resume after a restart) is
``bot.jobs.Jobs``, the one implementation, written once for every platform. Adapters import this
module, ``bot.requests``, ``bot.reply`` and ``bot.settings``; nothing else of the product.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.reply import Reply
from bot.requests import AudioRequest, CommandRequest, Sender


# What one delivery attempt came to. ``sent``: how many of the reply's parts (platform calls, in
# order) have reached the platform so far, counting those sent by earlier attempts; the next
# attempt starts there, so no part is sent twice (the core keeps it in the journal).


@dataclass(frozen=True)
class Delivered:
    """Every part of the reply reached the platform."""

    sent: int = 0


@dataclass(frozen=True)
class RetryLater:
    """The platform could not take it now (flood control, an outage): try again.
    ``after_s``: the wait the platform asked for, when it said (always honoured)."""

    reason: str
    after_s: float | None = None
    sent: int = 0


@dataclass(frozen=True)
class Undeliverable:
    """The platform refused for good (the bot was blocked, the chat is gone): do not retry."""

    reason: str
    sent: int = 0


Outcome = Delivered | RetryLater | Undeliverable
DELIVERED = Delivered()


class NotAccepted(RuntimeError):
    """``submit`` could not store the job (the database is locked, full or read-only). The
    platform must not be told the request arrived, so that it sends it again."""


@dataclass(frozen=True)
class Job:
    """One analysis an adapter hands the core.

    ``payload``: what the adapter needs to fetch the file and answer again after a restart
    (platform references as JSON; never audio, never a URL that holds a secret).
    ``deliver(reply, sent)``: one attempt to send the reply, starting after its first ``sent``
    parts (already delivered); it makes each platform call once and reports what happened,
    never waiting out flood control itself (the core does). ``working()``: shown while the
    analysis runs (e.g. Telegram's "typing…"); None for nothing."""

    request: AudioRequest
    payload: dict
    deliver: Callable[[Reply, int], Awaitable[Outcome]]
    working: Callable[[], contextlib.AbstractAsyncContextManager] | None = None


# A journaled job's row (``id``, ``ref``, ``payload``, ``status``) -> the Job again, or None when
# it can no longer be run (then it is closed as failed).
Revive = Callable[[dict], Awaitable[Job | None]]

# What an adapter may ask the core to say, without choosing the words: each maps to one message
# of the catalogue, in the person's language.
NOTICES = ("private_sent", "open_private_chat", "no_audio_in_message", "not_in_channel",
           "missing_scope", "file_not_found", "fetch_failed", "post_failed",
           "send_audio", "no_upload_yet", "message_link")


class Core(Protocol):
    async def submit(self, job: Job) -> bool:
        """Journal ``job`` (return only once it is stored: then the platform may be told it was
        received) and run it in the background. False: this request was journaled before (a
        redelivery), nothing more happens. Raises ``NotAccepted`` when it cannot be stored."""

    async def resume(self, platform: str, revive: Revive) -> int:
        """Run the jobs of ``platform`` left unfinished by an earlier process; how many."""

    async def command(self, req: CommandRequest) -> Reply:
        """The reply to a command or button press (never raises)."""

    async def notice(self, name: str, sender: Sender, **params: object) -> Reply:
        """One of ``NOTICES`` as a reply in the sender's language."""

    def command_list(self, platform: str, lang: str) -> list[tuple[str, str]]:
        """(name, description) of the commands for the platform's menu."""

    async def remember_file(self, user_key: str, chat: str, file_ref: str) -> None:
        """``file_ref`` is the user's latest upload in ``chat`` (Slack's ``/emotion``)."""

    async def latest_file(self, user_key: str, chat: str) -> str | None: ...

    async def auto_enabled(self, chat: str) -> bool:
        """Automatic analysis of every voice note is on in ``chat``."""

    async def drain(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) for the jobs in progress."""
