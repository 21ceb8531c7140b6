"""A tiny local HTTP server for operators: ``/livez``, ``/readyz`` and ``/metrics``.

``/livez`` answers 200 while the process runs. ``/readyz`` answers 200 only when every readiness
line is ``ok`` (model loaded, database writable, each platform really polling or listening) and
503 while starting, reconnecting, failed or draining, with one line per check: ``model: ok``,
``telegram: starting | ok | reconnecting | failed: <reason>``. ``/metrics`` is Prometheus' text format. Binds to
``[server] host`` (default 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.metrics import REGISTRY

logger = logging.getLogger(__name__)

Check = Callable[[], "bool | str"]  # True/"ok" passes; False or any other text is the line
_READ_TIMEOUT_S = 5.0


class Health:
    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}
        self.draining = False

    def ready(self) -> tuple[bool, str]:
        lines, ok = [], not self.draining
        if self.draining:
            lines.append("draining: shutting down")
        for name, check in self.checks.items():
            try:
                state = check()
            except Exception:  # a failing check means not ready, never a crash
                logger.debug("readiness check %s raised", name, exc_info=True)
                state = False
            if isinstance(state, bool):
                state = "ok" if state else "not ready"
            ok &= state == "ok"
            lines.append(f"{name}: {state}")
        return ok and bool(self.checks), "\n".join(lines) + "\n"


async def serve(health: Health, host: str, port: int) -> asyncio.AbstractServer:
    """Start the server; the caller closes it. Returns once listening."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT_S)
            parts = request.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) >= 2 else ""
            # Readiness checks may touch the database: keep them off the event loop.
            status, body, ctype = await asyncio.to_thread(
                _route, health, parts[0] if parts else "", path)
            head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    logger.info("health and metrics on http://%s:%d (/livez /readyz /metrics)", host, port)
    return server


def _route(health: Health, method: str, path: str) -> tuple[str, bytes, str]:
    text = "text/plain; charset=utf-8"
    if method not in ("GET", "HEAD"):
        return "405 Method Not Allowed", b"GET only\n", text
    if path == "/livez":
        return "200 OK", b"ok\n", text
    if path == "/readyz":
        ok, detail = health.ready()
        return ("200 OK" if ok else "503 Service Unavailable"), detail.encode(), text
    if path == "/metrics":
        return "200 OK", generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    return "404 Not Found", b"not found: try /livez, /readyz or /metrics\n", text
