"""What a platform adapter is handed: the ``Core`` protocol and the types of its one seam.

An adapter only translates. A platform event becomes an ``AudioRequest`` (submitted as a ``Job``
with the adapter's ``deliver`` function) or a ``CommandRequest``; a ``Reply`` becomes platform
calls. Everything between (journal, claim, analysis, retries, finish, resume after a restart) is
``bot.jobs.Jobs``, the one implementation, written once for every platform. Adapters import this
module, ``bot.requests``, ``bot.reply`` and ``bot.settings``; nothing else of the product.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bot.reply import Reply
from bot.requests import AudioRequest, CommandRequest, Sender

logger = logging.getLogger(__name__)
T = TypeVar("T")


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


# --- a platform's connection, as its adapter reports it ------------------------------------------


class Rejected(Exception):
    """The platform refused a token or secret: retrying cannot help. ``variable`` names the
    environment variable to fix; the message never holds its value."""

    def __init__(self, platform: str, variable: str) -> None:
        super().__init__(f"{platform} rejected {variable}: check that it is set to the "
                         f"current value (it was revoked, regenerated or mistyped)")
        self.platform, self.variable = platform, variable


class GaveUp(Exception):
    """The platform stayed unreachable for ``[server] start_retry_s``."""


class Status:
    """Where one platform's connection stands, for ``/readyz``: ``starting``, ``ok`` (really
    polling or listening), ``reconnecting`` (lost, the adapter or its library is retrying) or
    ``failed: <reason>``. The adapter's ``serve`` reports; the runner reads ``line()``."""

    def __init__(self, platform: str = "") -> None:
        self.platform, self.state, self.reason = platform, "starting", ""

    def ok(self) -> None:
        if self.state == "reconnecting":
            logger.info("%s: connected again", self.platform)
        self._set("ok")

    def reconnecting(self, reason: str = "") -> None:
        if self.state != "failed":
            self._set("reconnecting", reason)

    def failed(self, reason: str) -> None:
        self._set("failed", reason)

    def _set(self, state: str, reason: str = "") -> None:
        self.state, self.reason = state, reason

    def line(self) -> str:
        return f"failed: {self.reason}" if self.state == "failed" else self.state


@dataclass(frozen=True)
class Backoff:
    """Capped exponential waits between attempts (connecting at start: for at most
    ``give_up_s``; delivering: ``[delivery]``'s waits)."""

    first_s: float = 1.0
    max_s: float = 30.0
    give_up_s: float = 300.0

    def wait(self, attempt: int) -> float:
        """The wait after the ``attempt``-th failure (1, 2, ...): doubling, capped."""
        return min(self.max_s, self.first_s * 2 ** (attempt - 1))

    @classmethod
    def of(cls, server) -> Backoff:
        """From ``[server]``: ``retry_first_wait_s``, ``retry_max_wait_s``, ``start_retry_s``."""
        return cls(server.retry_first_wait_s, server.retry_max_wait_s, server.start_retry_s)


async def connect(platform: str, attempt: Callable[[], Awaitable[T]],
                  transient: Callable[[BaseException], str | None], backoff: Backoff,
                  stop: asyncio.Event) -> T | None:
    """``await attempt()`` until it succeeds. An error ``transient`` names (a reason: network
    down, a 5xx) is one warning line and a wait; any other is raised. After
    ``backoff.give_up_s`` raises ``GaveUp``; returns None when ``stop`` is set meanwhile."""
    deadline = time.monotonic() + backoff.give_up_s
    tries = 0
    while not stop.is_set():
        tries += 1
        try:
            return await attempt()
        except Exception as err:  # noqa: BLE001  (``transient`` decides)
            reason = transient(err)
            if reason is None:
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise GaveUp(f"unreachable for {backoff.give_up_s:g} s ({reason})") from None
            pause = min(backoff.wait(tries), left)
            logger.warning("%s: cannot connect (attempt %d: %s); trying again in %.1f s",
                           platform, tries, reason, pause)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
    return None
