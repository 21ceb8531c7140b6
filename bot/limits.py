"""Per-user fairness: a token-bucket rate limit and a daily audio-seconds quota. Pure and in memory.

The bucket holds up to ``burst`` requests and refills at ``requests_per_minute``; a refused request
learns how long to wait. The quota counts audio seconds per user per UTC day. Both are per process;
a restart forgives everyone, which is the friendly failure for a chat bot.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float = 0.0  # when refused by the rate limit
    quota_left_s: float = math.inf  # audio seconds left today


class Limiter:
    def __init__(
        self,
        requests_per_minute: float,
        burst: int,
        daily_audio_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], str] = lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    ) -> None:
        self.rate = requests_per_minute / 60.0
        self.burst = float(burst)
        self.daily = daily_audio_seconds
        self._clock, self._today = clock, today
        self._buckets: dict[str, tuple[float, float]] = {}  # user -> (tokens, at)
        self._used: dict[str, float] = {}  # user -> audio seconds today
        self._day = ""
        self._lock = threading.Lock()

    def take(self, user: str) -> Decision:
        """Spend one request token for ``user`` if the bucket and the quota allow it."""
        with self._lock:
            self._roll_day()
            left = self._quota_left(user)
            if left <= 0:
                return Decision(False, 0.0, 0.0)
            if self.rate <= 0:  # requests_per_minute = 0 disables the rate limit
                return Decision(True, 0.0, left)
            now = self._clock()
            tokens, at = self._buckets.get(user, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[user] = (tokens, now)
                return Decision(False, (1.0 - tokens) / self.rate, left)
            self._buckets[user] = (tokens - 1.0, now)
            return Decision(True, 0.0, left)

    def spend_audio(self, user: str, seconds: float) -> None:
        with self._lock:
            self._roll_day()
            self._used[user] = self._used.get(user, 0.0) + seconds

    def _quota_left(self, user: str) -> float:
        if self.daily <= 0:
            return math.inf
        return max(0.0, self.daily - self._used.get(user, 0.0))

    def _roll_day(self) -> None:
        day = self._today()
        if day != self._day:
            self._day, self._used = day, {}
