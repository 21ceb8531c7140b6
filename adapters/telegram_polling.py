"""How the Telegram adapter watches its connection: the ``getUpdates`` request that reports on a
``bot.core.Status`` (``ok`` when a poll was answered, ``reconnecting`` while PTB's polling loop
retries an outage, ``failed`` and ``revoked`` for a token Telegram refuses), which errors at start
are worth another attempt, and the one line logged per failed poll (PTB's own is a traceback).
"""

from __future__ import annotations

import asyncio
import logging

from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.core import Status

logger = logging.getLogger(__name__)


class Polling(HTTPXRequest):
    """PTB's ``getUpdates`` connection (one, like PTB's own), reporting on ``status``: ``ok``
    when Telegram answered a poll, ``reconnecting`` when a poll failed."""

    def __init__(self, status: Status) -> None:
        super().__init__(connection_pool_size=1)
        self.status, self.revoked = status, asyncio.Event()

    async def do_request(self, *args, **kwargs) -> tuple[int, bytes]:
        try:
            code, payload = await super().do_request(*args, **kwargs)
        except Exception as err:
            self.status.reconnecting(type(err).__name__)
            raise
        if code == 200:
            self.status.ok()
        elif code in (401, 404):  # Telegram's answers for a revoked or malformed token
            self.status.failed("TELEGRAM_BOT_TOKEN was rejected")
            self.revoked.set()
        elif code >= 500 or code == 429:
            self.status.reconnecting(f"HTTP {code}")
        return code, payload


def transient(err: BaseException) -> str | None:
    """Why an attempt to connect may succeed later (network down, a 5xx), or None."""
    if isinstance(err, RetryAfter):
        return "flood control"
    if isinstance(err, NetworkError):  # TimedOut and 5xx included; InvalidToken is not one
        return f"{type(err).__name__}: {err.message}"
    return None


def poll_failed(err: TelegramError, status: Status) -> None:
    """PTB's polling loop retries by itself (1 s, then 1.5 x longer, up to 30 s): one line."""
    status.reconnecting(type(err).__name__)
    logger.warning("telegram: polling failed (%s: %s); retrying", type(err).__name__,
                   getattr(err, "message", ""))
