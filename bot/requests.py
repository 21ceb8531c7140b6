"""What a platform asks of the product: platform-neutral requests built by the adapters.

Adapters translate a platform event into one of these and hand it to ``bot.service.Service``;
they never see the engine, the audio decoder or the database. Keys are strings so they can be
stored and compared across platforms: users ``telegram:123``, ``slack:T01:U02``, ``cli:ana``;
chats ``telegram:-100123``, ``slack:T01:C05``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.errors import FetchError  # noqa: F401  (adapters raise it from fetch)


@dataclass(frozen=True)
class Sender:
    key: str  # "telegram:123"
    platform: str  # "telegram" | "slack" | "cli"
    language: str | None = None  # the platform's language code for this user ("en-GB", "zh-hans")


@dataclass(frozen=True)
class AudioRequest:
    """Analyse one audio file that a user sent or pointed at."""

    sender: Sender
    chat: str  # where the reply goes: "telegram:-100123"
    ref: str  # unique per platform message/file, for idempotency: "telegram:-100123:42"
    fetch: Callable[[int], Awaitable[bytes]]  # download the bytes, at most N; raises FetchError
    declared_size: int | None = None  # size the platform reports (checked before fetching)
    declared_duration_s: float | None = None  # only for a "truncated" note, never for sizing
    owner: str | None = None  # user key of who recorded/uploaded the audio, when known
    forwarded: bool = False  # the message was forwarded; ``owner`` is the original author if known
    explicit: bool = True  # the sender asked for this analysis (command, shortcut, own voice note)
    group: bool = False  # the chat has other people in it
    granularity: str | None = None  # "utterance" | "frame"; None = the sender's setting
    max_upload_bytes: int = 50 * 1024 * 1024  # the platform's limit for attachments we send back
    max_download_bytes: int | None = None  # the platform's own download cap (Telegram cloud: 20 MB)


@dataclass(frozen=True)
class CommandRequest:
    """A command: ``history``, ``stats``, ``trend``, ``export``, ``forget``, ``mode``, ``settings``,
    ``language``, ``help``, ``start``, ``privacy``, ``optin``, ``optout``, ``consent``, ``auto``.
    Button presses arrive as commands too (their ``action`` split into command and args)."""

    sender: Sender
    chat: str
    command: str
    args: tuple[str, ...] = field(default_factory=tuple)
    private: bool = True  # the chat is private to the sender (personal data may be shown here)
    max_upload_bytes: int = 50 * 1024 * 1024
