"""`emotion-bot run`: every configured platform in one process, on one engine and one history.

Start-up checks name exactly what is missing before anything connects. Each platform resumes the
jobs its journal holds from before a restart before it takes new work. Each adapter reports its
connection on a ``bot.core.Status`` (``/readyz`` shows it). ``run`` returns the exit status:
0 after a clean stop, 2 at once when a platform rejected a token or secret, 1 when every platform
has failed (unreachable for ``[server] start_retry_s``, or stopped by an error); with one platform
failed and another serving, the process keeps serving and ``/readyz`` says 503. The engine's live figures
(queue depth, batch sizes) are copied into the Prometheus metrics every ``METRICS_PERIOD_S``.
SIGTERM/SIGINT stop intake, let in-flight work finish within ``[server] drain_timeout_s``, then
close the engine and database.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import signal
from collections.abc import Callable

from bot import audio, logs, metrics, preflight
from bot.core import GaveUp, Rejected, Status
from bot.settings import Settings

logger = logging.getLogger(__name__)
METRICS_PERIOD_S = 1.0
PURGE_PERIOD_S = 6 * 3600.0
EXIT_OK, EXIT_FAILED, EXIT_REJECTED = 0, 1, 2


class StartupError(RuntimeError):
    """Something needed to start is missing; the message says what and how to fix it."""


def platforms(settings: Settings) -> list[str]:
    """The platforms to start, from the secrets present. Raises ``StartupError`` naming gaps."""
    s, chosen, problems = settings.secrets, [], []
    if s.telegram_bot_token:
        chosen.append("telegram")
        if settings.telegram.mode == "webhook":
            if not settings.telegram.webhook_url:
                problems.append('telegram.mode = "webhook" needs telegram.webhook_url (the public '
                                "HTTPS address Telegram posts to)")
            if not s.telegram_webhook_secret:
                problems.append("webhook mode needs TELEGRAM_WEBHOOK_SECRET (any random string "
                                "of 1-256 letters, digits, _ and -)")
    if s.slack_bot_token or s.slack_signing_secret or s.slack_app_token:
        chosen.append("slack")
        if not s.slack_bot_token:
            problems.append("Slack needs SLACK_BOT_TOKEN (xoxb-..., from the app's OAuth & "
                            "Permissions page)")
        if settings.slack.mode == "http" and not s.slack_signing_secret:
            problems.append("Slack HTTP mode needs SLACK_SIGNING_SECRET (Basic Information page)")
        if settings.slack.mode == "socket" and not s.slack_app_token:
            problems.append('slack.mode = "socket" needs SLACK_APP_TOKEN (xapp-..., an app-level '
                            "token with connections:write)")
    if not chosen:
        problems.append("no chat platform is configured: set TELEGRAM_BOT_TOKEN (from @BotFather) "
                        "and/or SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN")
    if problems:
        raise StartupError("cannot start:\n  - " + "\n  - ".join(problems))
    return chosen


async def run(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Serve every configured platform until ``stop`` (or SIGTERM/SIGINT); the exit status."""
    from bot import health as health_mod
    from bot.app import inference, running

    names = platforms(settings)
    preflight.check(settings)  # unwritable paths are named before the model loads
    logs.protect(v for v in dataclasses.astuple(settings.secrets) if v)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    state = health_mod.Health()
    server = None
    if settings.server.enabled:
        server = await health_mod.serve(state, settings.server.host, settings.server.port)
    try:
        await asyncio.to_thread(audio.remove_stale_temp)  # voice left by a killed process
        async with inference(settings) as backend, running(settings, backend=backend) as core:
            state.checks["model"] = lambda: True
            if settings.engine.backend == "remote":  # its service answers (local: "model")
                state.checks["engine"] = backend.ready
            logs.set_salt(core.history.salt())
            state.checks["database"] = lambda: core.database_fault() or "ok"
            watcher = asyncio.create_task(watch_engine(backend.stats))
            purger = asyncio.create_task(purge_daily(core.history))
            tasks = []
            for name in names:
                adapter = importlib.import_module(f"adapters.{name}")
                status = Status(name)
                state.checks[name] = status.line
                tasks.append(asyncio.create_task(
                    _serve(adapter, name, settings, core, stop, status), name=name))
            logger.info("running: %s", ", ".join(names))
            code = await supervise(tasks, stop)
            state.draining = True
            logger.info("stopping: finishing work in progress (up to %.0f s)",
                        settings.server.drain_timeout_s)
            done, pending = await asyncio.wait(tasks, timeout=settings.server.drain_timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in (watcher, purger):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        if server is not None:
            server.close()
            await server.wait_closed()
    return code


async def supervise(tasks: list[asyncio.Task], stop: asyncio.Event) -> int:
    """Wait for ``stop`` or the platforms' ends; sets ``stop`` when a platform rejected its
    credentials (2) or when every platform has ended on its own (1). The exit status."""
    code, pending = EXIT_OK, set(tasks)
    stopped = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            done, _ = await asyncio.wait(pending | {stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopped}:
                pending.discard(task)
                if task.result() == EXIT_REJECTED:
                    code = EXIT_REJECTED
                    stop.set()
            if not pending and not stop.is_set():
                logger.error("every platform has failed: stopping")
                code = EXIT_FAILED
                stop.set()
    finally:
        stopped.cancel()
    return code


async def _serve(adapter, name: str, settings: Settings, core, stop: asyncio.Event,
                 status: Status) -> int:
    """Run one platform until ``stop``; its end as an exit status (never raises). A failure is
    one line (a traceback only for an unexpected error) and ends only that platform."""
    try:
        await adapter.serve(settings, core, stop, status)
        if stop.is_set():
            return EXIT_OK
        status.failed("stopped by itself")
        logger.error("platform %s stopped by itself", name)
    except Rejected as err:
        status.failed(f"{err.variable} was rejected")
        logger.error("%s", err)
        return EXIT_REJECTED
    except GaveUp as err:
        status.failed(str(err))
        logger.error("%s: %s; giving up", name, err)
    except Exception as err:
        status.failed(f"stopped by an error ({type(err).__name__})")
        logger.exception("platform %s stopped with an error", name)
    return EXIT_FAILED


async def watch_engine(stats: Callable[[], dict], period_s: float = METRICS_PERIOD_S) -> None:
    """Copy the engine's figures into the metrics until cancelled (then once more)."""
    seen: dict[int, int] = {}
    try:
        while True:
            publish(stats(), seen)
            await asyncio.sleep(period_s)
    finally:
        publish(stats(), seen)


def publish(figures: dict, seen: dict[int, int]) -> None:
    """Queue depth as a gauge; each batch run since the last call into the batch-size histogram
    (``seen`` holds the per-size counts already published)."""
    metrics.QUEUE_DEPTH.set(figures.get("queued_clips", 0))
    for size, count in figures.get("batch_sizes", {}).items():
        for _ in range(count - seen.get(size, 0)):
            metrics.BATCH_SIZE.observe(size)
        seen[size] = count


async def purge_daily(history, period_s: float = PURGE_PERIOD_S) -> None:
    """Apply the retention settings at start and then every ``period_s`` until cancelled."""
    while True:
        try:
            purge = asyncio.get_running_loop().run_in_executor(None, history.purge)
            try:
                deleted = await asyncio.shield(purge)
            except asyncio.CancelledError:  # shutting down: let the purge's thread finish
                await asyncio.wait([purge])  # before the history closes under it
                raise
            if deleted:
                logger.info("retention: deleted %d analyses past their retention", deleted)
        except Exception:  # a locked or full database must not stop the bot; try again later
            logger.exception("retention purge failed")
        await asyncio.sleep(period_s)
