"""The batcher with a fake list -> list function: no tensors, no model."""

import asyncio
import threading
import time

import pytest

from engine.batcher import Batcher
from engine.errors import BatchError, EngineBusy, EngineClosed


class Recorder:
    """A fake batch function: doubles numbers, records every batch, fails on request."""

    def __init__(self, delay=0.0, gate: threading.Event | None = None):
        self.batches = []
        self.delay = delay
        self.gate = gate

    def __call__(self, items):
        if self.gate is not None:
            self.gate.wait(5)
        time.sleep(self.delay)
        self.batches.append(list(items))
        if "boom" in items:
            raise ValueError("boom")
        return [2 * i for i in items]


async def started(fn, **kw):
    batcher = Batcher(fn, **kw)
    await batcher.start()
    return batcher


@pytest.mark.asyncio
async def test_batch_flushes_when_full():
    fn = Recorder()
    b = await started(fn, max_batch_size=3, max_wait_s=10.0)
    start = time.monotonic()
    results = await asyncio.gather(*(b.submit([i], [1.0]) for i in (1, 2, 3)))
    assert [[2], [4], [6]] == results
    assert [[1, 2, 3]] == fn.batches
    assert time.monotonic() - start < 2  # did not wait for the 10 s timeout
    await b.close()


@pytest.mark.asyncio
async def test_partial_batch_flushes_after_max_wait():
    fn = Recorder()
    b = await started(fn, max_batch_size=8, max_wait_s=0.2)
    start = time.monotonic()
    assert [[2], [4]] == await asyncio.gather(b.submit([1], [1.0]), b.submit([2], [1.0]))
    assert 0.15 < time.monotonic() - start < 2
    assert [[1, 2]] == fn.batches
    assert {2: 1} == b.stats()["batch_sizes"]
    await b.close()


@pytest.mark.asyncio
async def test_padded_cost_cap_splits_batches():
    fn = Recorder()
    b = await started(fn, max_batch_size=8, max_wait_s=0.05, max_batch_cost=20.0)
    # 3 items of 5 s fit (3 x 5 = 15); a 10 s item would make it 4 x 10 = 40 > 20.
    await asyncio.gather(*(b.submit([i], [c]) for i, c in ((1, 5), (2, 5), (3, 5), (4, 10))))
    assert [[1, 2, 3], [4]] == fn.batches
    await b.close()


@pytest.mark.asyncio
async def test_an_item_over_the_cap_runs_alone():
    fn = Recorder()
    b = await started(fn, max_batch_size=4, max_batch_cost=10.0)
    assert [2] == await b.submit([1], [50.0])
    assert [[1]] == fn.batches
    await b.close()


@pytest.mark.asyncio
async def test_exception_reaches_exactly_the_callers_of_that_batch():
    gate = threading.Event()
    fn = Recorder(gate=gate)
    b = await started(fn, max_batch_size=2, max_wait_s=0.0)
    first = asyncio.ensure_future(b.submit([0], [1.0]))  # blocks the worker until the gate opens
    await asyncio.sleep(0.1)
    bad = [asyncio.ensure_future(b.submit([x], [1.0])) for x in ("boom", 7)]
    await asyncio.sleep(0.05)
    good = [asyncio.ensure_future(b.submit([x], [1.0])) for x in (8, 9)]
    await asyncio.sleep(0.05)
    gate.set()
    assert [0] == await first
    for task in bad:
        with pytest.raises(ValueError, match="boom"):
            await task
    assert [[16], [18]] == [await t for t in good]
    assert [[0], ["boom", 7], [8, 9]] == fn.batches
    assert 1 == b.stats()["errors"]
    await b.close()


@pytest.mark.asyncio
async def test_wrong_number_of_results_fails_the_batch():
    b = await started(lambda items: items[:-1], max_batch_size=2, max_wait_s=0.5)
    results = await asyncio.gather(b.submit([1], [1.0]), b.submit([2], [1.0]),
                                   return_exceptions=True)
    assert 2 == sum(isinstance(r, BatchError) for r in results)
    assert "1 results for 2 items" in str(results[0])
    await b.close()


@pytest.mark.asyncio
async def test_cancelled_caller_does_not_break_the_batch():
    gate = threading.Event()
    fn = Recorder(gate=gate)
    b = await started(fn, max_batch_size=3, max_wait_s=0.0)
    blocker = asyncio.ensure_future(b.submit([0], [1.0]))
    await asyncio.sleep(0.1)
    tasks = [asyncio.ensure_future(b.submit([x], [1.0])) for x in (1, 2, 3)]
    await asyncio.sleep(0.05)
    tasks[1].cancel()  # still queued: it leaves the queue
    await asyncio.sleep(0.05)
    assert 2 == b.stats()["queued_clips"]
    gate.set()
    assert [0] == await blocker
    assert [2] == await tasks[0]
    assert [6] == await tasks[2]
    assert tasks[1].cancelled()
    assert [[0], [1, 3]] == fn.batches
    await b.close()


@pytest.mark.asyncio
async def test_caller_cancelled_while_its_batch_runs():
    gate = threading.Event()
    fn = Recorder(gate=gate)
    b = await started(fn, max_batch_size=2, max_wait_s=0.5)
    tasks = [asyncio.ensure_future(b.submit([x], [1.0])) for x in (1, 2)]
    await asyncio.sleep(0.1)  # both are in the running batch, blocked on the gate
    tasks[0].cancel()
    gate.set()
    assert [4] == await tasks[1]
    assert tasks[0].cancelled()
    assert [5 * 2] == await b.submit([5], [1.0])  # the worker is alive
    await b.close()


@pytest.mark.asyncio
async def test_full_queue_by_clips_is_busy_at_once():
    gate = threading.Event()
    b = await started(Recorder(gate=gate), max_batch_size=1, max_queue_requests=2)
    running = asyncio.ensure_future(b.submit([0], [1.0]))
    await asyncio.sleep(0.1)  # taken by the worker: no longer queued
    queued = [asyncio.ensure_future(b.submit([x], [1.0])) for x in (1, 2)]
    await asyncio.sleep(0.05)
    start = time.monotonic()
    with pytest.raises(EngineBusy) as err:
        await b.submit([3], [1.0])
    assert time.monotonic() - start < 0.1
    assert ("clips", 2, 2) == (err.value.reason, err.value.queued, err.value.limit)
    gate.set()
    assert [[0], [2], [4]] == [await running] + [await q for q in queued]
    assert 1 == b.stats()["rejected"]
    await b.close()


@pytest.mark.asyncio
async def test_full_queue_by_audio_seconds_is_busy():
    gate = threading.Event()
    b = await started(Recorder(gate=gate), max_batch_size=1, max_queue_cost=100.0)
    running = asyncio.ensure_future(b.submit([0], [1.0]))
    await asyncio.sleep(0.1)
    queued = asyncio.ensure_future(b.submit([1, 2], [30.0, 30.0]))  # one request, two items
    await asyncio.sleep(0.05)
    with pytest.raises(EngineBusy) as err:
        await b.submit([3], [50.0])
    assert ("audio", 60.0, 100.0) == (err.value.reason, err.value.queued, err.value.limit)
    assert 1 == b.stats()["queued_clips"]
    fits = asyncio.ensure_future(b.submit([5], [40.0]))  # 60 + 40 = 100: admitted
    await asyncio.sleep(0.05)
    assert 100.0 == b.stats()["queued_cost"]
    gate.set()
    assert [0] == await running
    assert [2, 4] == await queued
    assert [10] == await fits
    await b.close()


@pytest.mark.asyncio
async def test_close_finishes_queued_work_then_refuses():
    fn = Recorder(delay=0.05)
    b = await started(fn, max_batch_size=1)
    tasks = [asyncio.ensure_future(b.submit([x], [1.0])) for x in (1, 2, 3)]
    await asyncio.sleep(0.01)
    await b.close()
    assert [[2], [4], [6]] == [await t for t in tasks]
    with pytest.raises(EngineClosed):
        await b.submit([4], [1.0])
