"""Slack: the /emotion command, the "Analyse emotion" message shortcut, buttons and file events
-> requests for the core; replies -> thread messages, ephemeral messages and ``files_upload_v2``.

slack-bolt's ``AsyncApp`` receives and acks within Slack's 3 s on an event loop of its own (a
thread), so that an ack never queues behind the core's work; each listener hands the work to
``slack_work.Bridge`` on the core's loop and returns at once (``slack_translate`` holds the pure
payload -> request translations). Transports: HTTP (an
aiohttp server on ``[slack] host:port``, path ``/slack/events``: a listen backlog of 1024 and
keep-alive, so a burst of slash commands is never reset) or Socket Mode (``SLACK_APP_TOKEN``,
slack_sdk's aiohttp client, which reconnects by itself). ``[slack] api_base_url`` points the Web
API client elsewhere.

``serve`` reports on a ``bot.core.Status``: ``ok`` only once ``auth.test`` succeeded and the
listener listens (Socket Mode: while its WebSocket is connected, ``reconnecting`` meanwhile).
Network errors and 5xx at start are retried with capped backoff for ``[server] start_retry_s``;
a rejected token is ``bot.core.Rejected`` naming the variable. Bolt's and slack_sdk's loggers get
a base logger at WARNING that writes one line per record (Bolt's per-class loggers copy its level
and filters), so neither request bodies nor tracebacks of transient errors reach the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (RateLimitErrorRetryHandler,
                                                   ServerErrorRetryHandler)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack_render import BUTTON_PREFIX
from adapters.slack_translate import (  # noqa: F401  (the adapter's translations, re-exported)
    MAX_UPLOAD, Origin, audio_request, file_id_from, from_command, from_event, from_interaction,
    is_audio, parse_command, thread_of)
from adapters.slack_work import Bridge
from bot.core import Backoff, Core, Rejected, Status, connect

logger = logging.getLogger(__name__)

SHORTCUT = "analyse_emotion"  # callback_id of the message shortcut (slack-app-manifest.yaml)
EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # an event or command payload is a few kB
BACKLOG = 1024
REJECTED = ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
            "not_allowed_token_type", "invalid_token")
WATCH_PERIOD_S = 0.25  # how often Socket Mode's connection is looked at for /readyz


# --- registration and transports ---------------------------------------------------------------


def register(app: AsyncApp, bridge) -> None:
    """Every listener acks at once and hands the work to ``bridge`` (Slack's 3 s rule)."""

    @app.command("/emotion")
    async def on_command(ack, body):
        await ack()
        bridge.submit(bridge.command(body))

    @app.shortcut(SHORTCUT)
    async def on_shortcut(ack, body):
        await ack()
        bridge.submit(bridge.shortcut(body))

    @app.action(re.compile("^" + BUTTON_PREFIX))
    async def on_button(ack, body):
        await ack()
        bridge.submit(bridge.button(body))

    @app.event("message")
    async def on_message(body, event, context):
        if event.get("subtype") != "file_share" or event.get("bot_id"):
            return
        if event.get("user") == context.bot_user_id:  # the app's own uploads
            return
        if not bridge.events.first(body.get("event_id") or event.get("ts")):
            logger.info("ignoring a redelivered event")
            return
        bridge.submit(bridge.file_share(body.get("team_id") or event.get("team", ""), event,
                                        context.bot_user_id))


class _OneLine(logging.Filter):
    """A platform library's record as one line: the message's first line, and instead of a
    traceback the exception's type and first line."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        lines = text.splitlines() or [""]
        if record.exc_info and record.exc_info[1] is not None:
            err = record.exc_info[1]
            first = (str(err).splitlines() or [""])[0]
            lines[0] += f" ({type(err).__name__}: {first})"
        record.msg, record.args, record.exc_info, record.exc_text = lines[0], None, None, None
        return True


def library_logger() -> logging.Logger:
    """The base logger handed to Bolt and slack_sdk: WARNING whatever the root level (their
    DEBUG and INFO lines hold request bodies, response URLs and file URLs), one line each."""
    base = logging.getLogger(__name__ + ".library")
    base.setLevel(logging.WARNING)
    if not any(isinstance(f, _OneLine) for f in base.filters):
        base.addFilter(_OneLine())
    for name in ("slack_bolt", "slack_sdk", "aiohttp.access", "aiohttp.server"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return base


def web_client(settings) -> WebClient:
    """The Web API client the work after the ack uses (in worker threads), with slack_sdk's own
    retries: a dropped connection, a 5xx, and one wait of Slack's Retry-After (about 1 message/s
    per channel); a rate limit that outlasts it goes to the core, which waits Retry-After again,
    keeping the answer in the journal."""
    client = WebClient(token=settings.secrets.slack_bot_token,
                       base_url=settings.slack.api_base_url, timeout=30)
    client.retry_handlers.extend([RateLimitErrorRetryHandler(max_retry_count=1),
                                  ServerErrorRetryHandler(max_retry_count=2)])
    return client


def build_app(settings, auth: dict) -> AsyncApp:
    """The bolt app, authorized by the ``auth.test`` answer already fetched (no Web API call per
    request; each request's client gets the bot token from it)."""
    client = AsyncWebClient(base_url=settings.slack.api_base_url, timeout=30,
                            logger=library_logger())
    result = AuthorizeResult.from_auth_test_response(
        bot_token=settings.secrets.slack_bot_token, auth_test_response=auth)

    async def authorize(enterprise_id=None, team_id=None, user_id=None) -> AuthorizeResult:
        return result

    return AsyncApp(client=client, signing_secret=settings.secrets.slack_signing_secret,
                    authorize=authorize, logger=library_logger(),
                    request_verification_enabled=settings.slack.mode == "http")


def events_handler(app: AsyncApp):
    """aiohttp handler for ``/slack/events``. A missing or malformed signature header is a 401
    here (Bolt would raise on a non-numeric timestamp); Bolt checks the signature itself."""

    async def handle(request: web.Request) -> web.Response:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not (timestamp.isascii() and timestamp.isdigit()) \
                or not request.headers.get("X-Slack-Signature"):
            return web.Response(status=401, text="invalid request")
        body = (await request.read()).decode("utf-8", "replace")
        resp = await app.async_dispatch(AsyncBoltRequest(
            body=body, query=request.query_string, headers=dict(request.headers)))
        if resp.status == 401:
            logger.warning("slack: refused a request with a bad signature (if every request is "
                           "refused, check SLACK_SIGNING_SECRET)")
        return await to_aiohttp_response(resp)

    return handle


async def start_http(app: AsyncApp, host: str, port: int) -> web.AppRunner:
    """Serve bolt on ``host:port`` (127.0.0.1 by default); returns once listening."""
    webapp = web.Application(client_max_size=MAX_BODY)
    webapp.router.add_post(EVENTS_PATH, events_handler(app))
    runner = web.AppRunner(webapp, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=BACKLOG, reuse_address=True).start()
    logger.info("slack: listening on http://%s:%d%s", host, port, EVENTS_PATH)
    return runner


def _transient(err: BaseException) -> str | None:
    """Why an attempt to reach Slack may succeed later (network down, a 5xx), or None."""
    if isinstance(err, SlackApiError):
        code = getattr(err.response, "status_code", 200)
        error = err.response.get("error") if isinstance(err.response.data, dict) else None
        if code >= 500 or code == 429 or error in ("ratelimited", "fatal_error",
                                                   "internal_error", "service_unavailable"):
            return f"HTTP {code}" + (f" {error}" if error else "")
        return None
    if isinstance(err, (aiohttp.ClientError, asyncio.TimeoutError, OSError)):
        return type(err).__name__
    return None


async def _call(stop: asyncio.Event, settings, variable: str, call):
    """``call()`` retried while Slack is unreachable; a refused token is ``Rejected``."""
    try:
        return await connect("slack", call, _transient, Backoff.of(settings.server), stop)
    except SlackApiError as err:
        if err.response.get("error") in REJECTED:
            raise Rejected("Slack", variable) from None
        raise


class _Loop:
    """An event loop in a thread of its own, for the listener and the Socket Mode client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="slack", daemon=True)
        self.thread.start()

    async def run(self, coro):
        """``await coro`` there, from the core's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


async def serve(settings, core: Core, stop: asyncio.Event, status: Status | None = None) -> None:
    """Run Slack (HTTP or Socket Mode) until ``stop`` is set, then let acked work finish."""
    status = status or Status("slack")
    secrets = settings.secrets
    client = AsyncWebClient(token=secrets.slack_bot_token, base_url=settings.slack.api_base_url,
                            timeout=30, logger=library_logger())
    auth = await _call(stop, settings, "SLACK_BOT_TOKEN", client.auth_test)
    if auth is None:
        return  # stopped while waiting for Slack
    if settings.slack.mode == "socket":
        opened = await _call(stop, settings, "SLACK_APP_TOKEN", lambda: client.apps_connections_open(
            app_token=secrets.slack_app_token))
        if opened is None:
            return
    bridge = Bridge(core, web_client(settings), asyncio.get_running_loop(),
                    secrets.slack_bot_token)
    await core.resume("slack", bridge.revive)
    there = _Loop()
    watcher = None
    try:
        app = await there.run(_app(settings, auth, bridge))
        if settings.slack.mode == "socket":
            handler = await there.run(_socket(app, settings, opened["url"]))
            logger.info("slack: connected in Socket Mode")
            watcher = asyncio.create_task(_watch(there, handler.client, status, stop))
            close = handler.close_async
        else:
            runner = await there.run(start_http(app, settings.slack.host, settings.slack.port))
            status.ok()
            close = runner.cleanup
        await stop.wait()
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await there.run(close())
        await bridge.drain(settings.server.drain_timeout_s)
    finally:
        there.close()


async def _app(settings, auth: dict, bridge) -> AsyncApp:
    app = build_app(settings, auth)
    register(app, bridge)
    return app


async def _socket(app: AsyncApp, settings, url: str):
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(
        app, settings.secrets.slack_app_token, logger=library_logger(),
        web_client=AsyncWebClient(token=settings.secrets.slack_bot_token,
                                  base_url=settings.slack.api_base_url, timeout=30,
                                  logger=library_logger()),
        ping_interval=min(10.0, settings.server.retry_max_wait_s))
    handler.client.wss_uri = url  # opened (with retries) by serve
    await handler.connect_async()
    return handler


async def _watch(there: _Loop, client, status: Status, stop: asyncio.Event) -> None:
    """Socket Mode's connection on ``status``; slack_sdk reconnects by itself."""
    while not stop.is_set():
        if await there.run(client.is_connected()):
            status.ok()
        elif status.state != "reconnecting":
            status.reconnecting("disconnected")
            logger.warning("slack: the Socket Mode connection was lost; reconnecting")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), WATCH_PERIOD_S)
