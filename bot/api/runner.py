"""``emotion-bot serve``: one inference behind the HTTP API until SIGTERM/SIGINT.

The listening socket is bound before the model loads (a taken port fails at once), and accepts
connections only once the model is ready; then ``serving on http://HOST:PORT`` is logged. On
SIGTERM/SIGINT ``/readyz`` turns 503, the listener closes, requests in progress finish within
``[api] drain_timeout_s``, the engine drains its queue, and the process exits 0. Exit 2 on a
configuration problem: a missing ``api`` extra, a non-loopback host without
``EMOTION_BOT_API_TOKEN``, a port that cannot be bound, a model that cannot be loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import signal
import socket
import sys
from collections.abc import Callable

from bot.settings import Settings, SettingsError

logger = logging.getLogger(__name__)
EXTRA = ("starlette", "uvicorn", "python_multipart")
INSTALL_HINT = "pip install 'emotion-bot[api]'"


class StartupError(RuntimeError):
    """``serve`` cannot start; the message says why and what to do."""


def missing_extra() -> list[str]:
    """The ``api`` extra's modules that are not installed."""
    return [name for name in EXTRA if importlib.util.find_spec(name) is None]


def main(args, settings: Settings) -> int:
    """The command: exit 0 after a clean stop, 2 when it cannot start."""
    from bot.inference import Unreachable
    from engine.loader import ModelLoadError

    missing = missing_extra()
    if missing:
        print(f"emotion-bot serve needs the api extra ({', '.join(missing)} not installed): "
              f"{INSTALL_HINT}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(settings))
    except SettingsError as exc:
        print(f"emotion-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    except (StartupError, ModelLoadError, Unreachable) as exc:
        print(f"emotion-bot: {exc}", file=sys.stderr)
        return 2
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A bound socket on ``host:port`` (port 0: a free one). Raises ``StartupError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not socket.create_server's 0: asyncio sets TCP_NODELAY only on sockets
    # that say TCP, and without it every keep-alive answer waited ~40 ms (Nagle + delayed ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        return sock
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): set "
                           "[api] host and port to a free address") from None


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


async def serve(settings: Settings, model=None, *, stop: asyncio.Event | None = None,
                on_listening: Callable[[str], None] | None = None) -> None:
    """Serve until ``stop`` is set (or SIGTERM/SIGINT in the main thread). ``model``: an already
    loaded model (tests); ``on_listening(url)`` is called once requests are answered."""
    import uvicorn

    from bot.api.app import build
    from bot.app import inference
    from bot.health import Health
    from bot.runner import watch_engine
    from bot.settings_network import check_serve

    check_serve(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)  # only in the main thread
    sock = listen(settings.api.host, settings.api.port)
    health = Health()
    try:
        async with inference(settings, model) as backend:
            health.checks["engine"] = backend.ready
            app, api = build(settings, backend, health)
            config = uvicorn.Config(app, lifespan="off", access_log=False, log_config=None,
                                    server_header=False, date_header=False,
                                    timeout_graceful_shutdown=int(settings.api.drain_timeout_s))
            url = address(sock)
            server = _server(config, lambda: _started(url, on_listening))
            serving = asyncio.create_task(server.serve(sockets=[sock]), name="api")
            watcher = asyncio.create_task(watch_engine(backend.stats), name="api-metrics")
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not serving.done():
                logger.info("stopping: finishing requests in progress (up to %.0f s)",
                            settings.api.drain_timeout_s)
                health.draining = True
                server.should_exit = True
            stopping.cancel()
            try:
                await serving
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                api.close()
    finally:
        sock.close()
    logger.info("stopped")


def _started(url: str, on_listening) -> None:
    logger.info("serving on %s (POST /v1/analyze, POST /v1/emotion, GET /v1/info)", url)
    if on_listening is not None:
        on_listening(url)


def _server(config, started: Callable[[], None]):
    """uvicorn's ``Server`` without its signal handling (``serve`` owns SIGTERM: uvicorn would
    re-raise the signal after shutting down, so the process could not exit 0), calling
    ``started()`` once it accepts connections."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            yield

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                started()

    return Server(config)
