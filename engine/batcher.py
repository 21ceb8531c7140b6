"""A dynamic batcher: callers await their items, one worker thread runs ``fn(list) -> list``.

It knows nothing of tensors. Each item has a *cost* (the engine uses seconds of audio):

- A batch is flushed when it holds ``max_batch_size`` items, when the next queued item would push the
  padded cost (items x largest cost) over ``max_batch_cost``, or ``max_wait_s`` after its oldest item
  was queued. A single item larger than the cap still runs, alone.
- The queue is bounded by requests and by total cost. A full queue raises ``EngineBusy`` at once.
  One request (one ``submit`` call) may carry several items; it is admitted or refused as a whole
  and counts as one request while any of its items waits.
- An exception raised by ``fn`` reaches every caller in that batch and no other. ``fn`` must return
  one result per item (else ``BatchError`` for the whole batch).
- A cancelled caller's items leave the queue; if they are already running, the batch finishes for
  the others and the result is dropped.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import BatchError, EngineBusy, EngineClosed

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class _Request:
    pending: int  # items still in the queue


@dataclass(eq=False)
class _Entry:
    item: Any
    cost: float
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    request: _Request
    queued_at: float = field(default_factory=time.monotonic)


class Batcher:
    def __init__(
        self,
        fn: Callable[[list], list],
        *,
        max_batch_size: int = 1,
        max_wait_s: float = 0.0,
        max_batch_cost: float = float("inf"),
        max_queue_requests: int = 64,
        max_queue_cost: float = float("inf"),
        name: str = "batcher",
    ):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be >= 1")
        self.fn = fn
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_batch_cost = max_batch_cost
        self.max_queue_requests = max_queue_requests
        self.max_queue_cost = max_queue_cost
        self.name = name
        self._cond = threading.Condition()
        self._queue: collections.deque[_Entry] = collections.deque()
        self._requests = 0  # requests with at least one queued item
        self._cost = 0.0
        self._running = 0
        self._closing = False
        self._thread: threading.Thread | None = None
        self._batches = 0
        self._items = 0
        self._errors = 0
        self._rejected = 0
        self._sizes: collections.Counter[int] = collections.Counter()

    # --- caller side (event loop) -----------------------------------------------------------

    async def start(self) -> None:
        with self._cond:
            if self._closing:
                raise EngineClosed(f"{self.name} is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()

    async def submit(self, items: Sequence, costs: Sequence[float]) -> list:
        """Queue ``items`` as one request and wait for their results, in order."""
        if len(items) != len(costs) or not items:
            raise ValueError("submit needs one cost per item and at least one item")
        loop = asyncio.get_running_loop()
        request = _Request(pending=len(items))
        entries = [_Entry(i, float(c), loop.create_future(), loop, request)
                   for i, c in zip(items, costs)]
        total = sum(e.cost for e in entries)
        with self._cond:
            if self._closing or self._thread is None:
                raise EngineClosed(f"{self.name} is {'closed' if self._closing else 'not started'}")
            if self._requests + 1 > self.max_queue_requests:
                self._rejected += 1
                raise EngineBusy("clips", self._requests, self.max_queue_requests)
            if self._cost + total > self.max_queue_cost:
                self._rejected += 1
                raise EngineBusy("audio", round(self._cost, 3), self.max_queue_cost)
            self._queue.extend(entries)
            self._requests += 1
            self._cost += total
            self._cond.notify()
        try:
            return list(await asyncio.gather(*(e.future for e in entries)))
        except BaseException:
            self._withdraw(entries)  # cancelled, or another item failed: free the queue slots
            raise

    def _withdraw(self, entries: list[_Entry]) -> None:
        with self._cond:
            for entry in entries:
                try:
                    self._queue.remove(entry)
                except ValueError:
                    continue  # already taken into a batch
                self._release(entry)
                entry.future.cancel()

    async def close(self) -> None:
        """Refuse new work, let queued and running batches finish, stop the worker."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            await asyncio.to_thread(thread.join)

    def stats(self) -> dict:
        with self._cond:
            return {
                "queued_clips": self._requests,
                "queued_items": len(self._queue),
                "queued_cost": round(self._cost, 3),
                "running_items": self._running,
                "batches": self._batches,
                "items": self._items,
                "errors": self._errors,
                "rejected": self._rejected,
                "batch_sizes": dict(sorted(self._sizes.items())),
            }

    # --- worker side (one thread) ------------------------------------------------------------

    def _release(self, entry: _Entry) -> None:
        """Account for an entry leaving the queue (caller holds the lock)."""
        self._cost = max(0.0, self._cost - entry.cost)
        entry.request.pending -= 1
        if entry.request.pending == 0:
            self._requests -= 1

    def _select(self) -> tuple[list[_Entry], bool]:
        """The next batch in queue order, and whether it is full (no reason to wait for more)."""
        batch: list[_Entry] = []
        largest = 0.0
        for entry in self._queue:
            if len(batch) == self.max_batch_size:
                return batch, True
            if entry.future.done():  # cancelled before the caller withdrew it
                continue
            cost = max(largest, entry.cost) * (len(batch) + 1)
            if batch and cost > self.max_batch_cost:
                return batch, True
            batch.append(entry)
            largest = max(largest, entry.cost)
        return batch, len(batch) == self.max_batch_size

    def _next_batch(self) -> list[_Entry] | None:
        with self._cond:
            while True:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return None  # closing and drained
                batch, full = self._select()
                if not full and batch and not self._closing:
                    remaining = batch[0].queued_at + self.max_wait_s - time.monotonic()
                    if remaining > 0:
                        self._cond.wait(remaining)
                        continue
                for entry in list(self._queue):
                    if entry.future.done() and entry not in batch:
                        self._queue.remove(entry)
                        self._release(entry)
                for entry in batch:
                    self._queue.remove(entry)
                    self._release(entry)
                if batch:
                    self._running = len(batch)
                    return batch

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._running = 0

    def _run(self, batch: list[_Entry]) -> None:
        items = [e.item for e in batch]
        try:
            results = self.fn(items)
            if len(results) != len(items):
                raise BatchError(f"{self.name}: {len(results)} results for {len(items)} items")
        except BaseException as exc:  # reaches exactly this batch's callers
            logger.warning("%s: a batch of %d failed: %r", self.name, len(items), exc)
            with self._cond:
                self._errors += 1
            for entry in batch:
                _resolve(entry, None, exc)
            if not isinstance(exc, Exception):
                raise
            return
        with self._cond:
            self._batches += 1
            self._items += len(items)
            self._sizes[len(items)] += 1
        for entry, result in zip(batch, results):
            _resolve(entry, result, None)


def _resolve(entry: _Entry, result, exc: BaseException | None) -> None:
    def settle() -> None:
        if entry.future.done():  # the caller was cancelled
            return
        if exc is not None:
            entry.future.set_exception(exc)
        else:
            entry.future.set_result(result)

    try:
        entry.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the caller's event loop is closed
        pass
