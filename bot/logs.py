"""Logging, configured once by the CLI: text or JSON lines, user ids hashed with a per-install salt.

Never log tokens, audio or file URLs (Telegram file URLs contain the bot token). Log users as
``user_ref(key)``: a short salted hash that links one user's lines without revealing who it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from datetime import datetime, timezone

_salt = ""
NOISY = ("httpx", "httpcore", "modelscope", "funasr", "urllib3", "telegram.ext.Updater",
         "slack_bolt", "slack_sdk", "tornado.access")


def set_salt(salt: str) -> None:
    global _salt
    _salt = salt


def user_ref(key: str) -> str:
    """``telegram:123`` -> ``u:3f9a0c1b2d4e`` (stable per install, meaningless elsewhere)."""
    return "u:" + hashlib.sha256(f"{_salt}:{key}".encode()).hexdigest()[:12]


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
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text", verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else getattr(logging, level, logging.INFO))
    for name in NOISY:  # httpx logs every request URL, and Telegram's URLs contain the token
        logging.getLogger(name).setLevel(logging.WARNING)
