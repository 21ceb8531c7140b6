"""``emotion-bot run``'s exit status and platform lines, with stand-in adapters: a rejected token
stops everything with 2, a platform that failed for good leaves the others serving, and when every
platform has failed the process ends with 1."""

from __future__ import annotations

import asyncio
import types

from bot import runner
from bot.core import GaveUp, Rejected, Status
from bot.health import Health


def adapter(outcome):
    """A stand-in ``adapters.X``: ``serve`` reports ok, then ends as ``outcome`` says."""

    async def serve(settings, core, stop, status):
        if outcome == "serves":
            status.ok()
            await stop.wait()
        elif outcome == "rejected":
            raise Rejected("Telegram", "TELEGRAM_BOT_TOKEN")
        elif outcome == "unreachable":
            raise GaveUp("unreachable for 300 s (NetworkError: Bad Gateway)")
        elif outcome == "bug":
            raise KeyError("a bug")

    return types.SimpleNamespace(serve=serve)


def start(outcomes: dict[str, str]):
    stop, health, tasks = asyncio.Event(), Health(), []
    for name, outcome in outcomes.items():
        status = Status(name)
        health.checks[name] = status.line
        tasks.append(asyncio.create_task(
            runner._serve(adapter(outcome), name, None, None, stop, status)))
    return stop, health, tasks


def test_a_rejected_token_stops_everything_with_2():
    async def scenario():
        stop, health, tasks = start({"telegram": "rejected", "slack": "serves"})
        code = await asyncio.wait_for(runner.supervise(tasks, stop), 10)
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        return code, stop.is_set(), health.ready()

    code, stopped, (ok, lines) = asyncio.run(scenario())
    assert (2, True, False) == (code, stopped, ok)
    assert "telegram: failed: TELEGRAM_BOT_TOKEN was rejected\nslack: ok\n" == lines


def test_one_platform_failed_for_good_leaves_the_other_serving():
    async def scenario():
        stop, health, tasks = start({"telegram": "unreachable", "slack": "serves"})
        supervisor = asyncio.create_task(runner.supervise(tasks, stop))
        await asyncio.wait_for(tasks[0], 10)
        during = health.ready()
        assert not supervisor.done() and not stop.is_set()
        stop.set()
        return during, await asyncio.wait_for(supervisor, 10)

    (ok, lines), code = asyncio.run(scenario())
    assert (False, 0) == (ok, code)
    assert ("telegram: failed: unreachable for 300 s (NetworkError: Bad Gateway)\n"
            "slack: ok\n") == lines


def test_every_platform_failed_ends_with_1():
    async def scenario():
        stop, health, tasks = start({"telegram": "unreachable", "slack": "bug"})
        return await asyncio.wait_for(runner.supervise(tasks, stop), 10), health.ready()

    code, (ok, lines) = asyncio.run(scenario())
    assert (1, False) == (code, ok)
    assert "slack: failed: stopped by an error (KeyError)" in lines


def test_status_lines():
    status = Status("telegram")
    assert "starting" == status.line()
    status.ok()
    assert "ok" == status.line()
    status.reconnecting("NetworkError")
    assert "reconnecting" == status.line()
    status.failed("unreachable for 1 s")
    status.reconnecting("late news")  # a failed platform stays failed
    assert "failed: unreachable for 1 s" == status.line()


def test_connect_waits_with_capped_backoff_then_gives_up(caplog):
    import logging

    import pytest

    from bot.core import Backoff, connect

    caplog.set_level(logging.WARNING, logger="bot.core")
    calls = []

    async def attempt():
        calls.append(1)
        if len(calls) <= 3:
            raise OSError("network is unreachable")
        if len(calls) == 4:
            return "connected"
        raise ValueError("not a network problem")

    def transient(err):
        return "OSError" if isinstance(err, OSError) else None

    async def scenario():
        stop = asyncio.Event()
        first = await connect("x", attempt, transient, Backoff(0.1, 0.2, 30), stop)
        with pytest.raises(ValueError):  # not transient: at once
            await connect("x", attempt, transient, Backoff(0.01, 0.02, 30), stop)

        async def down():
            raise OSError("down")

        with pytest.raises(GaveUp, match=r"unreachable for 0.1 s \(OSError\)"):
            await connect("x", down, transient, Backoff(0.01, 0.02, 0.1), stop)
        stop.set()
        return first, await connect("x", down, transient, Backoff(0.01, 0.02, 30), stop)

    first, stopped = asyncio.run(scenario())
    assert ("connected", None) == (first, stopped)
    waits = [r.getMessage().rsplit("in ", 1)[1] for r in caplog.records][:3]
    assert ["0.1 s", "0.2 s", "0.2 s"] == waits  # doubled, capped at retry_max_wait_s
    assert caplog.records[0].getMessage() == (
        "x: cannot connect (attempt 1: OSError); trying again in 0.1 s")
