"""Slack payloads -> requests, as data. Pure: no network.

``Origin`` is who asked and where; ``from_command`` / ``from_interaction`` / ``from_event`` read
it from a slash command, a shortcut or button, or a ``file_share`` event; ``audio_request`` makes
the platform-neutral request for one file; ``parse_command`` and ``file_id_from`` read
``/emotion``'s words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from bot.requests import AudioRequest, Sender

MAX_UPLOAD = 1024 ** 3  # Slack accepts files up to 1 GB
PUBLIC_COMMANDS = ("auto",)  # the channel should see that auto mode was switched
AUDIO_TYPES = {"mp3", "m4a", "ogg", "oga", "opus", "wav", "webm", "flac", "aac", "amr", "aiff",
               "wma", "weba", "3gp"}
_FILE_ID = re.compile(r"^F[A-Z0-9]{6,}$")
# A message's permalink: https://team.slack.com/archives/C0123ABCD/p1700000000000100
_MESSAGE_LINK = re.compile(r"^https?://[^/]+/archives/[A-Z0-9]+/p\d+")
MESSAGE_LINK = "message_link"  # what parse_command calls a pasted message link


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
    """``""`` -> analyse the latest file; a file ID or permalink -> analyse it; a message's
    link -> ``MESSAGE_LINK`` (the app never reads channel history); else a command."""
    parts = words.split()
    if not parts:
        return "analyse", ()
    file_id = file_id_from(parts[0])
    if file_id:
        return "analyse", (file_id,)
    if _MESSAGE_LINK.match(parts[0].strip("<>").split("|")[0]):
        return MESSAGE_LINK, ()
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
    """Audio, or a Slack clip (a recorded voice or video message: subtype ``slack_audio`` /
    ``slack_video``)."""
    return (str(file.get("mimetype", "")).startswith("audio/")
            or file.get("subtype") in ("slack_audio", "slack_video")
            or str(file.get("filetype", "")).lower() in AUDIO_TYPES)


def has_sound(file: dict) -> bool:
    """What the message shortcut (an explicit request) analyses: audio, a clip, or any video."""
    return is_audio(file) or str(file.get("mimetype", "")).startswith("video/")


def is_stub(file: dict) -> bool:
    """A ``file_share`` event may carry only a stub; the file is then read with files.info."""
    return file.get("file_access") == "check_file_info"


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
