"""Logging, configured once by the CLI: text or JSON lines, user ids hashed with a per-install salt.

Never log tokens, audio or file URLs (Telegram file URLs contain the bot token). Log users as
``user_ref(key)``: a short salted hash that links one user's lines without revealing who it is.

Two guards stand behind that rule. The platform libraries' loggers stay at WARNING whatever the
configured level (their DEBUG/INFO lines carry request URLs with the Telegram token and Slack
request bodies; Bolt's per-class loggers copy their level from the logger the adapter hands the
app, so the Slack adapter hands it one at WARNING). And ``Redactor``, a filter on the handler
``configure`` installs, rewrites every record before it is written: each configured secret
(``protect``), anything shaped like a Telegram or Slack token, and the URLs that are secrets
(Telegram's ``/bot<token>/`` and ``/file/bot<token>/``, Slack's ``response_url`` and private
file URLs) become ``[redacted]``, in the message, its arguments and its traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import datetime, timezone

_salt = ""
NOISY = ("httpx", "httpcore", "modelscope", "funasr", "urllib3", "telegram.ext.Updater",
         "slack_bolt", "slack_sdk", "tornado.access", "aiohttp.access", "aiohttp.server",
         "websockets")
MASK = "[redacted]"
_PATTERNS = [
    re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{20,}"),  # a Telegram bot token
    re.compile(r"\bx(?:ox[abposre]|app)-[A-Za-z0-9-]{6,}"),  # Slack bot/user/app tokens
    re.compile(r"https?://hooks\.slack\.com/\S+"),  # response_url: anyone holding it may answer
    re.compile(r"https?://files\.slack\.com/\S+"),  # url_private(_download)
    re.compile(r"/(?:file/)?bot[^/\s]+/"),  # a Bot API path, whatever the token looks like
]
_secrets: set[str] = set()


def set_salt(salt: str) -> None:
    global _salt
    _salt = salt


def user_ref(key: str) -> str:
    """``telegram:123`` -> ``u:3f9a0c1b2d4e`` (stable per install, meaningless elsewhere)."""
    return "u:" + hashlib.sha256(f"{_salt}:{key}".encode()).hexdigest()[:12]


def protect(values: Iterable[str]) -> None:
    """Never write these values (the configured tokens and secrets) in any log line."""
    _secrets.update(v for v in values if v and len(v) >= 4)


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: "/bot" + MASK + "/" if m.group(0).startswith("/")
                           else MASK, text)
    return text


class Redactor(logging.Filter):
    """Rewrites each record (message, arguments, traceback) without secrets. It changes the
    record itself, so any handler after this one sees the redacted text too."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, redacted
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def quiet_platform_libraries() -> None:
    """Keep the libraries whose lower levels print URLs with tokens or request bodies at WARNING."""
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


def handler(fmt: str = "text", stream=None) -> logging.Handler:
    """The product's log handler: text or JSON lines on ``stream`` (stderr), redacted."""
    out = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        out.setFormatter(JsonFormatter())
    else:
        out.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    out.addFilter(Redactor())
    return out


def configure(level: str = "INFO", fmt: str = "text", verbose: bool = False) -> logging.Handler:
    """The root logger writes through ``handler(fmt)`` only, at ``level`` (DEBUG if verbose)."""
    new = handler(fmt)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(new)
    root.setLevel(logging.DEBUG if verbose else getattr(logging, level, logging.INFO))
    quiet_platform_libraries()
    return new
