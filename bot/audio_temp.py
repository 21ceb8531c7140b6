"""Temporary folders for bytes handed to ffmpeg, and removing the ones a killed process left behind.

Bytes are spooled into ``TMPDIR/emotion-bot-<pid>-<random>/input`` for the length of one decode and
removed when it ends, whatever happens, short of the process being killed (``kill -9``, the OOM
killer, a power cut). Such a folder holds someone's voice, so ``remove_stale`` deletes, at start,
the folders of this program whose process no longer runs: only folders named like ours, owned by
this user, whose PID is dead or belongs to a process started after the folder was made (a reused
PID). Folders of earlier versions (``emotion-bot-<random>``, no PID) go once they are older than
the longest decode can last. Nothing else in the temporary folder is touched.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = "emotion-bot-"
_OURS = re.compile(r"^emotion-bot-(\d+)-[A-Za-z0-9_]{8}$")
_LEGACY = re.compile(r"^emotion-bot-[A-Za-z0-9_]{8}$")
LEGACY_MAX_AGE_S = 3600.0 + 60  # the longest decode_timeout_s, and a margin
_cleaned: set[str] = set()
_cleaned_lock = threading.Lock()


@contextmanager
def spooled(data: bytes, where: str | None = None):
    """Yield the path of a file holding ``data``; the file and its folder go when the block ends."""
    remove_stale_once(where)
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-", dir=where) as tmp:
        path = Path(tmp) / "input"
        path.write_bytes(data)
        yield path


def remove_stale_once(where: str | None = None) -> None:
    """``remove_stale`` the first time a process spools into ``where``."""
    key = where or tempfile.gettempdir()
    with _cleaned_lock:
        if key in _cleaned:
            return
        _cleaned.add(key)
    remove_stale(where)


def remove_stale(where: str | None = None) -> list[Path]:
    """Remove this program's temporary folders left by processes that no longer run; returns
    them. Never raises: a folder that cannot be removed is logged and left."""
    base = Path(where or tempfile.gettempdir())
    removed = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for entry in entries:
        try:
            if _stale(entry):
                shutil.rmtree(entry)
                removed.append(entry)
        except OSError as exc:
            logger.warning("could not remove the stale temporary folder %s: %s", entry, exc)
    if removed:
        logger.info("removed %d temporary folder(s) left by a stopped emotion-bot process",
                    len(removed))
    return removed


def _stale(entry: Path) -> bool:
    name = entry.name
    if not name.startswith(PREFIX):
        return False
    info = entry.lstat()
    if not os.path.stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False  # a link, a file, or someone else's
    ours = _OURS.match(name)
    if ours:
        return not _alive_since(int(ours.group(1)), info.st_mtime)
    if _LEGACY.match(name):
        contents = {p.name for p in entry.iterdir()}
        return contents <= {"input"} and time.time() - info.st_mtime > LEGACY_MAX_AGE_S
    return False


def _alive_since(pid: int, made_at: float) -> bool:
    """True when process ``pid`` runs and was started before ``made_at`` (so it may own it)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    started = _start_time(pid)
    return started is None or started <= made_at + 1.0


def _start_time(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch), from /proc; None where there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
