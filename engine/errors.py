"""The engine's errors, defined once. engine/ knows no reply text: bot/ turns these into words.

    EngineError (RuntimeError)
     +-- EngineBusy     the queue is full (by clips or by queued audio seconds); try again later
     +-- EngineClosed   the engine was closed; no new work is accepted
     +-- BatchError     the batched function broke its contract (wrong number of results)
"""

from __future__ import annotations


class EngineError(RuntimeError):
    """Base class of the engine's own errors."""


class EngineBusy(EngineError):
    """The engine's queue is full. Raised at once, never after a silent wait.

    ``reason`` is ``"clips"`` or ``"audio"``; ``queued`` and ``limit`` are in clips or seconds.
    """

    def __init__(self, reason: str, queued: float, limit: float):
        unit = "clips" if reason == "clips" else "s of audio"
        super().__init__(f"engine busy: {queued:g} {unit} queued, limit {limit:g}")
        self.reason = reason
        self.queued = queued
        self.limit = limit


class EngineClosed(EngineError):
    """The engine has been closed."""


class BatchError(EngineError):
    """The batch function returned a result list of the wrong length."""
