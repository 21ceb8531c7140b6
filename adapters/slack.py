"""Slack: the /emotion command, the "Analyse emotion" message shortcut, buttons and file events
-> requests for the core; replies -> thread messages, ephemeral messages and ``files_upload_v2``.

slack-bolt's synchronous ``App`` (no aiohttp needed) receives and acks within Slack's 3 s; each
listener hands the work to the asyncio loop that owns the core and returns at once
(``slack_work.Bridge``; ``slack_translate`` holds the pure payload -> request translations).
Transports: HTTP (a threaded server on ``[slack] host:port``, path ``/slack/events``) or Socket
Mode (``SLACK_APP_TOKEN``). ``[slack] api_base_url`` points the Web API client elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (RateLimitErrorRetryHandler,
                                                   ServerErrorRetryHandler)

from adapters.slack_render import BUTTON_PREFIX
from adapters.slack_translate import (  # noqa: F401  (the adapter's translations, re-exported)
    MAX_UPLOAD, Origin, audio_request, file_id_from, from_command, from_event, from_interaction,
    is_audio, parse_command, thread_of)
from adapters.slack_work import Bridge
from bot.core import Core

logger = logging.getLogger(__name__)

SHORTCUT = "analyse_emotion"  # callback_id of the message shortcut (slack-app-manifest.yaml)
EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # an event or command payload is a few kB


# --- registration and transports ---------------------------------------------------------------


def register(app: App, bridge) -> None:
    """Every listener acks at once and hands the work to ``bridge`` (Slack's 3 s rule)."""

    @app.command("/emotion")
    def on_command(ack, body):
        ack()
        bridge.submit(bridge.command(body))

    @app.shortcut(SHORTCUT)
    def on_shortcut(ack, body):
        ack()
        bridge.submit(bridge.shortcut(body))

    @app.action(re.compile("^" + BUTTON_PREFIX))
    def on_button(ack, body):
        ack()
        bridge.submit(bridge.button(body))

    @app.event("message")
    def on_message(body, event, context):
        if event.get("subtype") != "file_share" or event.get("bot_id"):
            return
        if event.get("user") == context.bot_user_id:  # the app's own uploads
            return
        if not bridge.events.first(body.get("event_id") or event.get("ts")):
            logger.info("ignoring a redelivered event")
            return
        bridge.submit(bridge.file_share(body.get("team_id") or event.get("team", ""), event,
                                        context.bot_user_id))


def build_app(settings) -> App:
    """The bolt app. ``App()`` calls auth.test at once, so a bad token fails at start-up."""
    secrets = settings.secrets
    client = WebClient(token=secrets.slack_bot_token, base_url=settings.slack.api_base_url,
                       timeout=30)
    # slack_sdk's own retries: a dropped connection, a 5xx, and one wait of Slack's Retry-After
    # (about 1 message/s per channel); a rate limit that outlasts it goes to the core, which
    # waits Retry-After again, keeping the answer in the journal.
    client.retry_handlers.extend([RateLimitErrorRetryHandler(max_retry_count=1),
                                  ServerErrorRetryHandler(max_retry_count=2)])
    return App(client=client, signing_secret=secrets.slack_signing_secret,
               request_verification_enabled=settings.slack.mode == "http")


class _Handler(BaseHTTPRequestHandler):
    server_version = "emotion-bot"

    def do_POST(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if url.path != EVENTS_PATH or length > MAX_BODY:
            self.send_error(404 if url.path != EVENTS_PATH else 413)
            return
        body = self.rfile.read(length).decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        resp = self.server.app.dispatch(BoltRequest(body=body, query=url.query, headers=headers))
        payload = (resp.body or "").encode()
        self.send_response(resp.status)
        for name, values in resp.headers.items():
            for value in values:
                if name.lower() != "content-length":
                    self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, fmt: str, *args) -> None:
        logger.debug("http: " + fmt, *args)


def start_http(app: App, host: str, port: int) -> ThreadingHTTPServer:
    """Serve bolt on ``host:port`` (127.0.0.1 by default; ``app.start()`` would bind 0.0.0.0)."""
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    server.app = app
    threading.Thread(target=server.serve_forever, name="slack-http", daemon=True).start()
    logger.info("slack: listening on http://%s:%d%s", host, port, EVENTS_PATH)
    return server


async def serve(settings, core: Core, stop: asyncio.Event) -> None:
    """Run Slack (HTTP or Socket Mode) until ``stop`` is set, then let acked work finish."""
    app = await asyncio.to_thread(build_app, settings)
    bridge = Bridge(core, app.client, asyncio.get_running_loop(),
                    settings.secrets.slack_bot_token)
    register(app, bridge)
    await core.resume("slack", bridge.revive)
    if settings.slack.mode == "socket":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(app, settings.secrets.slack_app_token)
        await asyncio.to_thread(handler.connect)
        logger.info("slack: connected in Socket Mode")
        close = handler.close
    else:
        server = start_http(app, settings.slack.host, settings.slack.port)

        def close() -> None:
            server.shutdown()
            server.server_close()
    try:
        await stop.wait()
    finally:
        await asyncio.to_thread(close)
        await bridge.drain(settings.server.drain_timeout_s)
