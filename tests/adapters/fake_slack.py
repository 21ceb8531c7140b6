"""A fake Slack on 127.0.0.1: the Web API methods the app calls, file downloads, upload URLs,
response_url endpoints, and a Socket Mode WebSocket endpoint.

Like bolt-python's ``tests/mock_web_api_server``: every request is recorded by path, and tests
wait for the ones they expect with a timeout. ``url_private_download`` without the bot token
answers 200 with an HTML sign-in page, as Slack does. A token other than ``bot_token`` /
``app_token`` gets ``invalid_auth``, as from Slack for a revoked or mistyped token.
``outage(seconds=..., requests=...)`` makes the Web API answer 502 with an HTML page (or, with
``status=0``, drop the connection unanswered) for a while, then recover; ``FakeSocket.drop()``
closes the live Socket Mode connections mid-run.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

from tests.adapters.outages import Outages

LOGIN_PAGE = b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"


@dataclass
class Record:
    path: str
    params: dict
    headers: dict
    body: bytes = b""


@dataclass
class FakeSlack:
    bot_token: str = "xoxb-test-token"
    app_token: str = "xapp-test-token"
    bot_user: str = "UBOT"
    team: str = "T1"
    files: dict = field(default_factory=dict)  # id -> (info dict, bytes)
    not_in_channel: set = field(default_factory=set)  # chat.postMessage fails in these channels
    missing_scope: dict = field(default_factory=dict)  # method -> the scope it says is needed
    ws_url: str = ""
    file_token: str = ""  # the token file downloads accept (default: bot_token)
    records: list = field(default_factory=list)
    outages: Outages = field(default_factory=Outages)  # phases, in order (see ``outage``)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_file(self, file_id: str, data: bytes, user: str, channel: str | None = None,
                 ts: str = "1700000000.000100", **info) -> dict:
        """Register an uploaded audio file as files.info shows it."""
        meta = {"id": file_id, "name": f"{file_id}.ogg", "filetype": "ogg",
                "mimetype": "audio/ogg", "user": user, "size": len(data),
                "url_private_download": f"{self.url}/files/{file_id}/download",
                "permalink": f"https://example.slack.com/files/{user}/{file_id}/clip.ogg",
                "shares": {"public": {channel: [{"ts": ts}]}} if channel else {}, **info}
        self.files[file_id] = (meta, data)
        return meta

    def outage(self, seconds: float | None = None, requests: int | None = None,
               status: int = 502) -> None:
        """Every Web API call fails for ``seconds`` (counted from the first call it meets) or for
        the next ``requests`` calls, then Slack recovers: ``status`` 502 with an HTML page, or 0
        (the connection closed unanswered). Outages queue one after another."""
        self.outages.add(seconds, requests, status)

    def in_outage(self) -> int | None:
        return self.outages.now()

    def record(self, rec: Record) -> None:
        with self._cond:
            self.records.append(rec)
            self._cond.notify_all()

    def calls(self, path: str) -> list[Record]:
        with self._cond:
            return [r for r in self.records if r.path == path]

    def wait(self, path: str, count: int = 1, timeout: float = 30.0) -> list[Record]:
        """The first ``count`` requests to ``path``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [r for r in self.records if r.path == path]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({r.path for r in self.records})
                    raise AssertionError(f"{count} x {path} not seen in {timeout} s; saw {seen}")
                self._cond.wait(left)

    # --- rate limits, as Slack applies them -------------------------------------------------------

    def rate_limit(self, per_s: float = 1.0, method: str = "chat.postMessage") -> None:
        """About one ``method`` call per ``per_s`` seconds per channel, like Slack's posting
        limit: a call too soon gets HTTP 429 ``ratelimited`` with ``Retry-After``."""
        self._limits = getattr(self, "_limits", {})
        self._limits[method] = per_s

    def limited(self, method: str, params: dict) -> int | None:
        """Retry-After (whole seconds) when this call is over its limit, else None."""
        per_s = getattr(self, "_limits", {}).get(method)
        if per_s is None:
            return None
        with self._cond:
            last = getattr(self, "_last_post", {})
            self._last_post = last
            now, channel = time.monotonic(), params.get("channel")
            if channel in last and now - last[channel] < per_s:
                return max(1, round(per_s - (now - last[channel])))
            last[channel] = now
            return None

    def ratelimited(self, path: str) -> list[Record]:
        return [r for r in self.calls(path) if r.headers.get("x-fake-status") == "429"]

    # --- the Web API ------------------------------------------------------------------------------

    def api(self, method: str, params: dict, token: str) -> dict:
        if method == "apps.connections.open":
            if token != self.app_token:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": self.ws_url}
        if token != self.bot_token:
            return {"ok": False, "error": "invalid_auth"}
        if method in self.missing_scope:
            return {"ok": False, "error": "missing_scope", "needed": self.missing_scope[method]}
        n = next(self._ids)
        if method == "auth.test":
            return {"ok": True, "user_id": self.bot_user, "bot_id": "BBOT", "team_id": self.team,
                    "user": "emotion", "team": "Test", "url": "https://example.slack.com/"}
        if method == "files.info":
            entry = self.files.get(params.get("file"))
            return {"ok": True, "file": entry[0]} if entry else {"ok": False,
                                                                 "error": "file_not_found"}
        if method == "chat.postMessage":
            if params.get("channel") in self.not_in_channel:
                return {"ok": False, "error": "not_in_channel"}
            return {"ok": True, "channel": params.get("channel"), "ts": f"1700000100.{n:06d}"}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000200.{n:06d}"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users"))}}
        if method == "files.getUploadURLExternal":
            file_id = f"FUP{n:06d}"
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.url}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            if params.get("channel_id") in self.not_in_channel:
                return {"ok": False, "error": "not_in_channel"}
            return {"ok": True, "files": json.loads(params.get("files", "[]"))}
        return {"ok": True}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlack

    def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802  -- file downloads
        path = urlparse(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.fake.record(Record(path, {}, headers))
        parts = path.strip("/").split("/")
        entry = self.fake.files.get(parts[1]) if len(parts) == 3 and parts[0] == "files" else None
        if entry is None:
            self._reply(404, b"not found", "text/plain")
        elif headers.get("authorization") != "Bearer " + (self.fake.file_token
                                                            or self.fake.bot_token):
            self._reply(200, LOGIN_PAGE, "text/html; charset=utf-8")
        else:
            self._reply(200, entry[1], "application/octet-stream")

    def do_POST(self) -> None:  # noqa: N802
        path = urlparse(self.path).path
        headers = {k.lower(): v for k, v in self.headers.items()}
        raw = self.rfile.read(int(headers.get("content-length") or 0))
        if path.startswith("/api/"):
            if headers.get("content-type", "").startswith("application/json"):
                params = json.loads(raw or b"{}")
            else:
                params = dict(parse_qsl(raw.decode()))
            token = headers.get("authorization", "").removeprefix("Bearer ") or params.get("token")
            retry_after = self.fake.limited(path[len("/api/"):], params)
            if retry_after is not None:
                self.fake.record(Record(path, params, {**headers, "x-fake-status": "429"}, raw))
                body = json.dumps({"ok": False, "error": "ratelimited"}).encode()
                self.send_response(429)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", str(retry_after))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.fake.record(Record(path, params, headers, raw))
            down = self.fake.in_outage()
            if down == 0:  # the network is down: no answer at all
                self.close_connection = True
                return
            if down is not None:
                self._reply(down, b"<html><body>502 Bad Gateway</body></html>", "text/html")
                return
            result = self.fake.api(path[len("/api/"):], params, token or "")
            self._reply(200, json.dumps(result).encode())
            return
        params = json.loads(raw) if path.startswith("/respond/") else {}
        self.fake.record(Record(path, params, headers, raw))
        self._reply(200, b"OK" if path.startswith("/upload/") else b"ok", "text/plain")

    def log_message(self, *args) -> None:
        pass


def signed_headers(body: str, secret: str, timestamp: int | None = None,
                   content_type: str = "application/x-www-form-urlencoded") -> dict:
    """Headers Slack sends: ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": content_type}


class FakeSocket:
    """A Socket Mode endpoint: greets with ``hello``, sends queued envelopes, records acks."""

    def __init__(self) -> None:
        self.acks: list[dict] = []
        self.outbox: list[dict] = []
        self.sessions: set = set()  # the live connections
        self.connections = 0  # how many were ever opened
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        from websockets.asyncio.server import serve

        self._server = await serve(self._session, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/link"

    async def _session(self, ws) -> None:
        self.connections += 1
        self.sessions.add(ws)
        try:
            await ws.send(json.dumps({"type": "hello", "num_connections": 1}))
            for envelope in self.outbox:
                await ws.send(json.dumps(envelope))
            async for message in ws:
                self.acks.append(json.loads(message))
                self._ready.set()
        except Exception:  # noqa: BLE001  (a dropped connection)
            pass
        finally:
            self.sessions.discard(ws)

    def drop(self) -> None:
        """Close every live connection, as Slack does on a refresh or an outage."""
        async def close() -> None:
            for ws in list(self.sessions):
                await ws.close(1001, "going away")

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)

    def send(self, envelope: dict) -> int:
        """Send ``envelope`` on every live connection now; how many got it."""
        async def send() -> int:
            live = list(self.sessions)
            for ws in live:
                await ws.send(json.dumps(envelope))
            return len(live)

        return asyncio.run_coroutine_threadsafe(send(), self._loop).result(10)

    def acked(self, envelope_id: str) -> list[dict]:
        return [a for a in self.acks if a.get("envelope_id") == envelope_id]

    def wait_ack(self, timeout: float = 20.0) -> dict:
        if not self._ready.wait(timeout):
            raise AssertionError(f"no Socket Mode ack in {timeout} s")
        return self.acks[0]

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


# --- file objects as events and shortcuts carry them ------------------------------------------


def file_stub(file_id: str) -> dict:
    """What a ``file_share`` event may carry instead of the file: read it with files.info."""
    return {"id": file_id, "mode": "file_access", "file_access": "check_file_info"}


CLIP = {"mimetype": "video/mp4", "filetype": "mp4", "subtype": "slack_video"}  # a Slack video clip
