"""Before the model loads: can this process write every path its configuration names?

A container started with a root-owned bind mount at ``/data`` used to load 2 GB of model and only
then die in SQLite with a traceback. ``check`` probes, in seconds and before anything heavy, the
history database's folder (and the file when it exists), the model cache when the model may still
have to be downloaded into it, and any output folders a command will write. Each problem names
the path, what the configuration uses it for, the uid and gid this process runs as, who owns the
path, and the two fixes that work: ``chown`` it to this uid, or use a named volume.

Probing means doing: a folder is created when missing (as the command would) and a probe file is
created and removed in it, so read-only mounts, ACLs and user namespaces all answer truthfully.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings

logger = logging.getLogger(__name__)
EXIT_CODE = 2  # a configuration problem, like every other start-up check


class UnwritablePath(RuntimeError):
    """One or more configured paths cannot be written; the message says which and how to fix."""


@dataclass(frozen=True)
class Target:
    path: Path  # a folder that must be writable
    role: str  # what the configuration uses it for, e.g. "database folder ([history] path)"
    file: Path | None = None  # an existing file in it that must be writable too


@dataclass(frozen=True)
class Problem:
    target: Target
    reason: str  # e.g. "Permission denied"
    blocked: Path | None  # the path that refused permission (folder, nearest parent or file)


def targets(settings: Settings, outputs: Iterable[str | Path] = (),
            environ: Mapping[str, str] | None = None) -> list[Target]:
    """Every folder the configuration will write, in the order a user should fix them."""
    environ = os.environ if environ is None else environ
    found: list[Target] = []
    db = Path(settings.history.path).expanduser()
    if settings.history.path != ":memory:":
        found.append(Target(_absolute(db.parent), f"database folder ([history] path = {db})",
                            _absolute(db) if db.exists() else None))
    cache = model_cache(settings, environ)
    if cache is not None:
        found.append(Target(cache, "model cache ([engine] cache_dir)"))
    for out in outputs:
        found.append(Target(_absolute(Path(out).expanduser()), "output folder (--out)"))
    return found


def model_cache(settings: Settings, environ: Mapping[str, str]) -> Path | None:
    """The folder a hub model is downloaded into, or None when nothing will be written there
    (a local model directory, or a cache that already holds this model)."""
    engine = settings.engine
    if Path(engine.model).expanduser().is_dir():
        return None
    if engine.cache_dir:
        cache = Path(engine.cache_dir).expanduser()
    elif engine.hub == "huggingface":
        cache = Path(environ.get("HF_HUB_CACHE") or Path(
            environ.get("HF_HOME") or Path(environ.get("HOME", "~")) / ".cache/huggingface") / "hub")
    else:
        cache = Path(environ.get("MODELSCOPE_CACHE")
                     or Path(environ.get("HOME", "~")) / ".cache/modelscope") / "hub"
    cache = _absolute(cache.expanduser())
    return None if _holds(cache, engine.model.rstrip("/").rsplit("/", 1)[-1]) else cache


def _holds(cache: Path, name: str) -> bool:
    """Whether a (possibly read-only) cache already has a download of the model ``name``
    (ModelScope: ``<cache>/[models/]<org>/<name>``, Hugging Face: ``<cache>/models--<org>--<name>``)."""
    patterns = (f"*/{name}", f"models/*/{name}", f"models--*--{name}", f"hub/models--*--{name}")
    try:
        return any(p.is_dir() for pattern in patterns for p in cache.glob(pattern))
    except OSError:
        return False


def problems(found: Iterable[Target]) -> list[Problem]:
    seen, result = set(), []
    for target in found:
        if target.path in seen:
            continue
        seen.add(target.path)
        problem = _probe(target)
        if problem is not None:
            result.append(problem)
    return result


def check(settings: Settings, outputs: Iterable[str | Path] = ()) -> None:
    """Raise ``UnwritablePath`` naming every unwritable path; return quietly when all are fine."""
    found = problems(targets(settings, outputs))
    if found:
        raise UnwritablePath(describe(found, os.geteuid(), os.getegid()))


def describe(found: list[Problem], uid: int, gid: int) -> str:
    lines = [f"cannot write where the configuration says (this process runs as uid {uid}, "
             f"gid {gid}):"]
    for p in found:
        lines.append(f"  - {p.target.path}: {p.target.role}: {p.reason}{_owner(p.blocked, uid)}")
    first = found[0].target.path
    lines += [
        "Fix it in one of two ways:",
        f"  - give the folder to uid {uid} on the host: sudo chown -R {uid}:{gid} <host folder "
        f"mounted at {first}> (for example: sudo chown -R {uid}:{gid} ./data)",
        f"  - or use a named volume instead of a bind mount (docker run -v "
        f"emotion-{first.name or 'data'}:{first} ...); Docker creates it owned by the image's user",
    ]
    return "\n".join(lines)


def _owner(path: Path | None, uid: int) -> str:
    if path is None:
        return ""
    try:
        st = path.stat()
    except OSError:
        return ""
    if st.st_uid == uid:
        return f" ({path} belongs to this uid: is it mounted read-only?)"
    return f" ({path} belongs to uid {st.st_uid}, mode {st.st_mode & 0o7777:o})"


def _probe(target: Target) -> Problem | None:
    folder = target.path
    if folder.exists() and not folder.is_dir():
        return Problem(target, "exists but is not a folder", None)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Problem(target, _reason(exc, "cannot create it"), _denied(exc, _parent(folder)))
    try:
        fd, probe = tempfile.mkstemp(prefix=".emotion-bot-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return Problem(target, _reason(exc, "cannot create files in it"), _denied(exc, folder))
    if target.file is not None and target.file.exists():
        try:
            with open(target.file, "r+b"):
                pass
        except OSError as exc:
            return Problem(target, _reason(exc, f"cannot write {target.file}"),
                           _denied(exc, target.file))
    logger.debug("%s is writable (%s)", folder, target.role)
    return None


def _reason(exc: OSError, what: str) -> str:
    return f"{what} ({exc.strerror or exc})"


def _denied(exc: OSError, path: Path) -> Path | None:
    """``path`` when ``exc`` is about permissions (then its owner helps), else None."""
    return path if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else None


def _parent(path: Path) -> Path:
    """The nearest folder of ``path`` that exists (the one that refused to hold it)."""
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return path


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))
