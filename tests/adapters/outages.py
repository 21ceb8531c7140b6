"""Outages for the fake platforms: phases that make every call fail for a while, then recover."""

from __future__ import annotations

import threading
import time


class Outages(list):
    """Phases in order, each ``{"seconds" | "left", "status", "until"}``: a phase lasts
    ``seconds`` from the first call it meets, or the next ``left`` calls. ``clear()`` ends them
    (the network comes up)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def add(self, seconds: float | None, requests: int | None, status: int) -> None:
        with self._lock:
            self.append({"seconds": seconds, "left": requests, "status": status, "until": None})

    def now(self) -> int | None:
        """The status a call gets now (0: the connection is dropped), or None: no outage."""
        with self._lock:
            while self:
                phase = self[0]
                if phase["left"] is not None:
                    if phase["left"] > 0:
                        phase["left"] -= 1
                        return phase["status"]
                else:
                    if phase["until"] is None:
                        phase["until"] = time.monotonic() + phase["seconds"]
                    if time.monotonic() < phase["until"]:
                        return phase["status"]
                self.pop(0)
            return None
