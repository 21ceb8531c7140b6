"""What the start-up, reconnection and burst tests share: settings for ``bot.runner.run`` against
the fake platforms, the bot running in the test's loop with its ``/readyz``, and ``Log`` (the
``log`` fixture in conftest: pytest's caplog at DEBUG plus the handler the product installs) with
a check for secrets."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time

import httpx

from bot import runner
from bot.settings import Secrets, from_mapping
from tests.conftest import free_port

FAST = {"start_retry_s": 20.0, "retry_first_wait_s": 0.1, "retry_max_wait_s": 0.4,
        "drain_timeout_s": 5.0}


def settings_for(model_dir, tmp_path, secrets: Secrets, server=None, **sections):
    return from_mapping({
        "engine": {"model": str(model_dir)},
        "history": {"path": str(tmp_path / "h.db")},
        "limits": {"requests_per_minute": 0},
        "server": {"port": free_port(), **FAST, **(server or {})},
        **sections,
    }, secrets=secrets)


class Log:
    def __init__(self, caplog, stream: io.StringIO) -> None:
        self.caplog, self.stream = caplog, stream

    @property
    def written(self) -> str:
        """What the product's handler wrote."""
        return self.stream.getvalue()

    def lines(self, fragment: str) -> list[str]:
        return [line for line in self.written.splitlines() if fragment in line]

    def assert_clean(self, *secrets: str) -> None:
        """No secret in any record at any level (caplog at DEBUG, messages and tracebacks), nor in
        what the product's handler wrote."""
        everything = [self.caplog.text, self.written]
        for record in self.caplog.records:
            everything += [record.getMessage(), record.exc_text or "", str(record.args)]
        for secret in secrets:
            leaks = [text for text in everything if secret in text]
            assert not leaks, f"a secret reached the log: {leaks[0][:500]}"


async def until(predicate, timeout: float = 20.0, what: str = "condition"):
    """A bounded poll of an outcome (sync or async predicate)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        await asyncio.sleep(0.05)


class Bot:
    """``bot.runner.run`` as a task; ``ready()`` reads ``/readyz``; ``stop()`` -> exit status."""

    def __init__(self, settings) -> None:
        self.settings, self.stop_event = settings, asyncio.Event()
        self.task = asyncio.create_task(runner.run(settings, self.stop_event))
        self.http = httpx.AsyncClient(timeout=5)
        self.seen: list[str] = []  # every /readyz body read

    async def ready(self) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.settings.server.port}/readyz"
        try:
            resp = await self.http.get(url)
        except httpx.TransportError:
            return 0, ""
        self.seen.append(resp.text)
        return resp.status_code, resp.text

    async def line(self, name: str) -> str | None:
        for line in (await self.ready())[1].splitlines():
            if line.startswith(name + ": "):
                return line[len(name) + 2:]
        return None

    async def wait_line(self, name: str, want, timeout: float = 20.0) -> str:
        async def check():
            if self.task.done():
                raise AssertionError(f"run ended ({self.task.result()}) before {name}: {want}")
            got = await self.line(name)
            return got if got is not None and (want(got) if callable(want) else got == want) \
                else None
        return await until(check, timeout, f"{name}: {want}")

    async def exit_code(self, timeout: float = 30.0) -> int:
        return await asyncio.wait_for(asyncio.shield(self.task), timeout)

    async def stop(self, timeout: float = 30.0) -> int:
        self.stop_event.set()
        try:
            return await self.exit_code(timeout)
        finally:
            await self.http.aclose()


@contextlib.asynccontextmanager
async def running(settings):
    bot = Bot(settings)
    try:
        yield bot
    finally:
        if not bot.task.done():
            await bot.stop()
        else:
            await bot.http.aclose()
