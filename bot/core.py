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


@dataclass(frozen=True)
class Delivered:
    """Every part of the reply reached the platform."""


@dataclass(frozen=True)
class RetryLater:
    """The platform could not take it now (flood control, an outage): try again.
    ``after_s``: the wait the platform asked for, when it said."""

    reason: str
    after_s: float | None = None


@dataclass(frozen=True)
class Undeliverable:
    """The platform refused for good (the bot was blocked, the chat is gone): do not retry."""

    reason: str


Outcome = Delivered | RetryLater | Undeliverable
DELIVERED = Delivered()


@dataclass(frozen=True)
class Job:
    """One analysis an adapter hands the core.

    ``payload``: what the adapter needs to fetch the file and answer again after a restart
    (platform references as JSON; never audio, never a URL that holds a secret).
    ``deliver(reply)``: one attempt to send the reply; it remembers the parts already sent, so a
    later attempt goes on where it stopped. ``working()``: shown while the analysis runs (e.g.
    Telegram's "typing…"); None for nothing."""

    request: AudioRequest
    payload: dict
    deliver: Callable[[Reply], Awaitable[Outcome]]
    working: Callable[[], contextlib.AbstractAsyncContextManager] | None = None


# A journaled job's row (``id``, ``ref``, ``payload``, ``status``) -> the Job again, or None when
# it can no longer be run (then it is closed as failed).
Revive = Callable[[dict], Awaitable[Job | None]]

# What an adapter may ask the core to say, without choosing the words: each maps to one message
# of the catalogue, in the person's language.
NOTICES = ("private_sent", "open_private_chat", "no_audio_in_message", "not_in_channel",
           "missing_scope", "file_not_found", "fetch_failed",
           "send_audio", "no_upload_yet", "message_link")


class Core(Protocol):
    async def submit(self, job: Job) -> bool:
        """Journal ``job`` (return only once it is stored: then the platform may be told it was
        received) and run it in the background. False: this request was journaled before (a
        redelivery), nothing more happens."""

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
