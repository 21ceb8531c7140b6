"""How much work runs at once, and when a chat may be spoken to (used by ``bot.jobs``).

``Budget``: the bytes analyses in progress may hold (downloads plus decoded audio); more work
waits for room, as a journaled job, not as audio in memory. ``ChatTurns``: one delivery at a time
per chat, and none while the platform has told the bot to wait there (flood control is per
chat: sending meanwhile prolongs it, and every job of the chat waking at once draws a 429 each).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

MB = 1024 * 1024
DECODED_BYTES_PER_S = 16_000 * 4 * 3  # float32 at 16 kHz, with the decoder's working copies


class Budget:
    """Bytes that analyses in progress may hold (downloads plus decoded audio): ``take`` waits
    until there is room, so excess work waits as a journaled job, not as audio in memory."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0
        self._cond: asyncio.Condition | None = None

    @contextlib.asynccontextmanager
    async def hold(self, size: int):
        size = min(size, self.limit)  # one job larger than the budget still runs, alone
        self._cond = self._cond or asyncio.Condition()
        async with self._cond:
            await self._cond.wait_for(lambda: self.used + size <= self.limit)
            self.used += size
        try:
            yield
        finally:
            async with self._cond:
                self.used -= size
                self._cond.notify_all()


def cost(req, audio) -> int:
    """What one analysis may hold: the file (as declared, else the largest allowed) and its
    decoded audio (as long as declared, else the longest allowed)."""
    largest = int(audio.max_file_mb * MB)
    size = min(req.declared_size or largest, largest)
    seconds = min(req.declared_duration_s or audio.max_seconds, audio.max_seconds)
    return size + int(seconds * DECODED_BYTES_PER_S)


class ChatTurns:
    def __init__(self) -> None:
        self._quiet_until: dict[str, float] = {}  # chat -> when its platform wait ends
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # chat -> (lock, its users)

    @contextlib.asynccontextmanager
    async def turn(self, chat: str, sleep: Callable[[float], Awaitable[None]]):
        """This chat's turn: after the delivery before it, and after the wait the platform
        asked for there (``sleep`` does the waiting)."""
        lock, users = self._locks.get(chat) or (asyncio.Lock(), 0)
        self._locks[chat] = (lock, users + 1)
        try:
            async with lock:
                await sleep(self._quiet_until.get(chat, 0.0) - time.monotonic())
                yield
        finally:
            lock, users = self._locks[chat]
            if users == 1:
                del self._locks[chat]
            else:
                self._locks[chat] = (lock, users - 1)

    def wait_asked(self, chat: str, seconds: float) -> None:
        """The platform said: nothing to this chat for ``seconds``."""
        now = time.monotonic()
        self._quiet_until = {c: t for c, t in self._quiet_until.items() if t > now}
        self._quiet_until[chat] = max(self._quiet_until.get(chat, 0.0), now + seconds)
