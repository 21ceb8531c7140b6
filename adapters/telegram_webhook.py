"""A minimal webhook receiver for Telegram updates on asyncio (no tornado needed).

Telegram POSTs each update as JSON to the webhook URL with the header
``X-Telegram-Bot-Api-Secret-Token``; a request without the right secret gets 403 and is dropped.
Accepted updates are queued (which journals an analysis request) and then answered 200; an
``update_id`` seen recently is not queued twice (Telegram redelivers when an answer is slow).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_BODY = 1024 * 1024  # an update is a few kB; refuse anything absurd
READ_TIMEOUT_S = 10.0
SEEN = 1000  # update_ids remembered for de-duplication


async def start(host: str, port: int, path: str, secret: str,
                accept: Callable[[dict], Awaitable[None]]) -> asyncio.Server:
    """Listen on ``host:port``; await ``accept(update_dict)`` for each new, authentic update
    before answering 200 (a failure answers 500, and Telegram sends the update again)."""
    seen: OrderedDict[int, None] = OrderedDict()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status = await asyncio.wait_for(_serve_one(reader), READ_TIMEOUT_S)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            status = 400
        if isinstance(status, dict):
            update, status = status, 200
            update_id = update.get("update_id")
            if update_id not in seen:
                seen[update_id] = None
                if len(seen) > SEEN:
                    seen.popitem(last=False)
                try:
                    await accept(update)
                except Exception:
                    logger.exception("could not queue a webhook update")
                    seen.pop(update_id, None)  # Telegram will send it again
                    status = 500
        reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
                  405: "Method Not Allowed", 413: "Payload Too Large", 500: "Server Error"}[status]
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n".encode())
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _serve_one(reader: asyncio.StreamReader) -> int | dict:
        request_line = (await reader.readline()).decode("latin-1").split()
        headers = {}
        while True:
            line = (await reader.readline()).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(request_line) < 2:
            return 400
        if request_line[1].split("?")[0] != path:
            return 404
        if request_line[0] != "POST":
            return 405
        if not hmac.compare_digest(headers.get(SECRET_HEADER, "").encode(), secret.encode()):
            logger.warning("webhook request with a missing or wrong secret token rejected")
            return 403
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY:
            return 413
        body = await reader.readexactly(length)
        update = json.loads(body)
        return update if isinstance(update, dict) else 400

    return await asyncio.start_server(handle, host, port)
