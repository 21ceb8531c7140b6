"""Slack: the /emotion command, the "Analyse emotion" message shortcut, buttons and file events
-> requests; replies -> thread messages, ephemeral messages and ``files_upload_v2``.

slack-bolt's synchronous ``App`` (no aiohttp needed) receives and acks within Slack's 3 s; each
listener hands the work to the asyncio loop that owns the ``Service`` and returns at once.
Transports: HTTP (a threaded server on ``[slack] host:port``, path ``/slack/events``) or Socket
Mode (``SLACK_APP_TOKEN``). ``[slack] api_base_url`` points the Web API client elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from slack_bolt import App, BoltRequest
from slack_sdk import WebClient

from adapters.slack_render import BUTTON_PREFIX
from bot.requests import AudioRequest, Sender

logger = logging.getLogger(__name__)

SHORTCUT = "analyse_emotion"  # callback_id of the message shortcut (slack-app-manifest.yaml)
EVENTS_PATH = "/slack/events"
MAX_UPLOAD = 1024 ** 3  # Slack accepts files up to 1 GB
MAX_BODY = 1024 * 1024  # an event or command payload is a few kB
PUBLIC_COMMANDS = ("auto",)  # the channel should see that auto mode was switched
AUDIO_TYPES = {"mp3", "m4a", "ogg", "oga", "opus", "wav", "webm", "flac", "aac", "amr", "aiff",
               "wma", "weba", "3gp"}
_FILE_ID = re.compile(r"^F[A-Z0-9]{6,}$")


@dataclass(frozen=True)
class Origin:
    """Who asked, where. ``team`` is the workspace of the channel; ``user_team`` the requester's
    own workspace (they differ in channels shared between workspaces)."""

    team: str
    user_team: str
    user: str
    channel: str
    channel_type: str = "channel"  # "channel" | "group" | "im" | "mpim"
    thread_ts: str | None = None
    response_url: str | None = None

    @property
    def sender(self) -> Sender:
        return Sender(f"slack:{self.user_team}:{self.user}", "slack", None)

    @property
    def chat(self) -> str:
        return f"slack:{self.team}:{self.channel}"


def _kind(channel: str) -> str:
    return {"D": "im", "G": "group"}.get(channel[:1], "channel")


def from_command(body: dict) -> Origin:
    channel = body.get("channel_id", "")
    return Origin(body["team_id"], body.get("user_team_id") or body["team_id"], body["user_id"],
                  channel, _kind(channel), None, body.get("response_url"))


def from_interaction(body: dict) -> Origin:
    """A shortcut or button payload."""
    team = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
    channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get("channel_id")
    message = body.get("message") or {}
    return Origin(team, body["user"].get("team_id") or team, body["user"]["id"], channel or "",
                  _kind(channel or ""), message.get("thread_ts") or message.get("ts"),
                  body.get("response_url"))


def from_event(team: str, event: dict) -> Origin:
    user_team = event.get("user_team") or event.get("team") or team
    return Origin(team, user_team, event.get("user", ""), event.get("channel", ""),
                  event.get("channel_type") or _kind(event.get("channel", "")),
                  event.get("thread_ts") or event.get("ts"))


def parse_command(words: str) -> tuple[str, tuple[str, ...]]:
    """``""`` -> analyse the latest file; a file ID or permalink -> analyse it; else a command."""
    parts = words.split()
    if not parts:
        return "analyse", ()
    file_id = file_id_from(parts[0])
    if file_id:
        return "analyse", (file_id,)
    return parts[0].lower(), tuple(parts[1:])


def file_id_from(arg: str) -> str | None:
    """``F0123ABCD`` or a permalink ``https://team.slack.com/files/U01/F0123ABCD/name.m4a``."""
    arg = arg.strip("<>").split("|")[0]
    if _FILE_ID.match(arg):
        return arg
    if arg.startswith(("http://", "https://")):
        for segment in urlparse(arg).path.split("/"):
            if _FILE_ID.match(segment):
                return segment
    return None


def is_audio(file: dict) -> bool:
    return (str(file.get("mimetype", "")).startswith("audio/")
            or file.get("subtype") == "slack_audio"
            or str(file.get("filetype", "")).lower() in AUDIO_TYPES)


def thread_of(file: dict, channel: str) -> str | None:
    """The ts of the message that shared ``file`` in ``channel`` (to reply in its thread)."""
    for scope in ("public", "private"):
        shares = (file.get("shares") or {}).get(scope, {}).get(channel) or []
        if shares:
            return shares[0].get("thread_ts") or shares[0].get("ts")
    return None


def audio_request(origin: Origin, file: dict, fetch, explicit: bool, kind: str) -> AudioRequest:
    owner_user = file.get("user")
    owner_team = file.get("user_team") or (origin.user_team if owner_user == origin.user
                                           else origin.team)
    duration_ms = file.get("duration_ms")
    return AudioRequest(
        sender=origin.sender, chat=origin.chat, ref=f"slack:{origin.team}:{file['id']}:{kind}",
        fetch=fetch, declared_size=file.get("size"),
        declared_duration_s=duration_ms / 1000 if duration_ms else None,
        owner=f"slack:{owner_team}:{owner_user}" if owner_user else None,
        explicit=explicit, group=origin.channel_type != "im", max_upload_bytes=MAX_UPLOAD)




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


async def serve(settings, service, stop: asyncio.Event) -> None:
    """Run Slack (HTTP or Socket Mode) until ``stop`` is set, then let acked work finish."""
    from adapters.slack_work import Bridge

    app = await asyncio.to_thread(build_app, settings)
    bridge = Bridge(service, app.client, asyncio.get_running_loop(),
                    settings.secrets.slack_bot_token)
    register(app, bridge)
    await bridge.resume()
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
