"""Reply -> Slack calls, as data. Pure: no client, no network, easy to test with literal values.

``plan(reply, target, public)`` returns the calls that show one ``Reply`` on Slack, in order:
a message (in the thread, or ephemeral to the requester) and, when there are files, one
``files_upload_v2`` (in the thread, or in the requester's direct message with the app when the
reply is private: an ephemeral message cannot carry files). Files a reply sets aside for the
requester alone (``Reply.aside``: a voice embedding in a shared channel) go to their DM too,
after the channel's message that says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SECTION_LIMIT = 3000  # characters in one Block Kit section
TEXT_LIMIT = 39_000  # chat.postMessage truncates ``text`` at 40,000
BUTTON_PREFIX = "emotion_button_"
# Command names the shared catalogue writes as "/name"; on Slack they are "/emotion name".
COMMANDS = ("start", "help", "mode", "history", "stats", "trend", "export", "forget", "settings",
            "privacy", "language", "consent", "auto", "optin", "optout")
_COMMAND = re.compile(r"(?<![\w/])/(" + "|".join(COMMANDS) + r")\b")

@dataclass(frozen=True)
class Target:
    """Where a reply goes: the channel, the requester and the message thread to answer in."""

    channel: str
    user: str
    thread_ts: str | None = None


@dataclass(frozen=True)
class Call:
    """One Slack operation: ``post`` (chat.postMessage), ``ephemeral`` (to ``user`` only),
    ``upload`` (files_upload_v2 into ``channel``), ``dm_upload`` (files into the user's DM)."""

    kind: str
    kwargs: dict = field(default_factory=dict)


def escape(text: str) -> str:
    """Slack mrkdwn needs exactly ``&``, ``<`` and ``>`` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_commands(text: str) -> str:
    """``/history`` -> ``/emotion history``: Slack has one slash command with sub-commands."""
    return _COMMAND.sub(r"/emotion \1", text)


def mrkdwn(reply) -> str:
    """Headline, then the monospace block in a code fence, then the paragraphs."""
    blocks: list[str] = []
    headline = getattr(reply, "headline", "")
    if headline:
        blocks.append(escape(slack_commands(headline)))
    if reply.mono:
        blocks.append("```\n" + escape(reply.mono) + "\n```")
    blocks.extend(escape(slack_commands(p)) for p in reply.parts if p)
    text = "\n\n".join(blocks) or " "
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def blocks(text: str, buttons) -> list[dict] | None:
    """Block Kit only when there are buttons; each button's ``value`` is its command action."""
    if not buttons:
        return None
    out: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
                       for chunk in _chunks(text, SECTION_LIMIT)][:45]
    out.append({"type": "actions", "elements": [
        {"type": "button", "action_id": f"{BUTTON_PREFIX}{i}", "value": b.action[:2000],
         "text": {"type": "plain_text", "text": b.label[:75]}}
        for i, b in enumerate(buttons[:25])
    ]})
    return out


def files(reply) -> list[dict]:
    return uploads_of(reply.attachments)


def uploads_of(attachments) -> list[dict]:
    return [{"content": a.data, "filename": a.filename, "title": a.filename}
            for a in attachments]


def plan(reply, target: Target, public: bool = True) -> list[Call]:
    """The calls that show ``reply``. Refusals and personal data go to the requester alone."""
    aside = reply.aside
    if aside is not None:
        reply = reply.in_room()
        return [*plan(reply, target, public),
                Call("dm_upload", {"user": target.user, "file_uploads": uploads_of(aside.files)})]
    text = mrkdwn(reply)
    message = {"text": text}
    layout = blocks(text, reply.buttons)
    if layout:
        message["blocks"] = layout
    uploads = files(reply)
    if not reply.ok or reply.private or not public:
        calls = [Call("ephemeral", {"channel": target.channel, "user": target.user, **message})]
        if uploads:
            calls.append(Call("dm_upload", {"user": target.user, "file_uploads": uploads}))
        return calls
    calls = [Call("post", {"channel": target.channel, "thread_ts": target.thread_ts, **message})]
    if uploads:
        calls.append(Call("upload", {"channel": target.channel, "thread_ts": target.thread_ts,
                                     "file_uploads": uploads}))
    return calls


def _chunks(text: str, size: int) -> list[str]:
    """Split at paragraph ends where possible; a paragraph longer than ``size`` is cut."""
    out: list[str] = []
    for para in text.split("\n\n"):
        if out and len(out[-1]) + len(para) + 2 <= size:
            out[-1] += "\n\n" + para
        else:
            out.extend(para[i:i + size] for i in range(0, max(len(para), 1), size))
    return out
