"""`emotion-bot healthcheck`: the container's HEALTHCHECK, probing the listener this container has.

One image runs different commands, so a fixed URL misfires. This command finds what the
container's main process runs (``--command auto`` reads ``/proc/1/cmdline``: with tini as PID 1 that
is ``tini -- emotion-bot run ...``), reads the same settings it reads (its ``--config`` too), and:

- ``run``: GETs ``/readyz`` on ``[server] host:port`` (a wildcard host is probed on loopback);
  exit 0 when it answers 200, else 1 with the listener's own explanation;
- ``serve``: the same on ``[api] host:port``, once settings have an ``[api]`` section;
- one-off commands (``analyze``, ``history``, ``export``...): exit 0, there is nothing to probe.

Docker reads exit 0 as healthy and 1 as unhealthy (2 is reserved), so this never exits 2.
"""

from __future__ import annotations

import argparse
import http.client
import logging
from dataclasses import dataclass
from pathlib import Path

from bot import settings as settings_mod

logger = logging.getLogger(__name__)
HEALTHY, UNHEALTHY = 0, 1
LISTENING = ("run", "serve")  # commands that keep a listener; anything else is a one-off
_OPTIONS_WITH_VALUE = ("--config",)


@dataclass(frozen=True)
class MainCommand:
    name: str  # "run", "serve", "analyze", ... or "" when unknown
    config: str | None = None  # the --config it was given


def register(commands) -> None:
    """Add ``healthcheck`` to ``bot.cli``'s subparsers."""
    p = commands.add_parser(
        "healthcheck", help="exit 0 when this container's service is ready (for HEALTHCHECK)",
        description="Probe the listener of this container's main command: /readyz on [server] "
        "host:port for `run`, on [api] host:port for `serve`; one-off commands such as "
        "`analyze` are always healthy. Exit 0 healthy, 1 not.",
    )
    p.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                   help="settings file (default: the main process's --config, else as usual)")
    p.add_argument("--command", dest="main_command", default="auto",
                   choices=("auto", "run", "serve", "analyze"),
                   help="what the container runs (default auto: read from /proc/1/cmdline)")
    p.add_argument("--timeout", type=float, default=4.0, metavar="S",
                   help="seconds to wait for the answer (default 4)")
    p.set_defaults(func=healthcheck_command)


def healthcheck_command(args: argparse.Namespace, settings: settings_mod.Settings) -> int:
    chosen = args.main_command  # not "command": that is the sub-command's own name
    main = MainCommand(chosen) if chosen != "auto" else main_command()
    if main.config and not getattr(args, "config", None):
        try:
            settings = settings_mod.load(main.config)
        except settings_mod.SettingsError as exc:
            print(f"unhealthy: configuration error: {exc}")
            return UNHEALTHY
    healthy, detail = probe(main.name or "run", settings, args.timeout)
    print(detail)
    return HEALTHY if healthy else UNHEALTHY


def main_command(cmdline: Path = Path("/proc/1/cmdline")) -> MainCommand:
    """What PID 1 (or the program it starts) runs, from its command line; "" when unknown."""
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except OSError:
        return MainCommand("")
    return parse_command([a.decode("utf-8", "replace") for a in argv if a])


def parse_command(argv: list[str]) -> MainCommand:
    """``[..., "emotion-bot", "--config", "x.toml", "run"]`` -> ``MainCommand("run", "x.toml")``.
    Also understands ``python -m bot``."""
    for start, word in enumerate(argv):
        if Path(word).name == "emotion-bot" or (word == "bot" and argv[start - 1:start] == ["-m"]):
            break
    else:
        return MainCommand("")
    name, config, rest = "", None, iter(argv[start + 1:])
    for word in rest:
        if word in _OPTIONS_WITH_VALUE:
            config = next(rest, None)
        elif word.startswith("--config="):
            config = word.split("=", 1)[1]
        elif not word.startswith("-") and not name:
            name = word
    return MainCommand(name, config)


def target(command: str, settings: settings_mod.Settings) -> tuple[str, int] | str:
    """``(host, port)`` to probe for ``command``, or a line saying why nothing is probed."""
    if command not in LISTENING:
        return f"healthy: `{command}` is a one-off command with no listener to probe"
    if command == "serve":
        api = getattr(settings, "api", None)
        if api is None:
            return "unhealthy: `serve` needs an [api] section, which this version's settings lack"
        return _loopback(api.host), api.port
    if not settings.server.enabled:
        return "healthy: not probed, the health server is off ([server] enabled = false)"
    return _loopback(settings.server.host), settings.server.port


def probe(command: str, settings: settings_mod.Settings, timeout_s: float) -> tuple[bool, str]:
    where = target(command, settings)
    if isinstance(where, str):
        return where.startswith("healthy"), where
    host, port = where
    url = f"http://{host}:{port}/readyz"
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/readyz")
        response = conn.getresponse()
        body = response.read(4096).decode("utf-8", "replace").strip()
    except OSError as exc:
        return False, f"unhealthy: {url} does not answer ({exc.strerror or exc})"
    finally:
        conn.close()
    state = "healthy" if response.status == 200 else "unhealthy"
    detail = "; ".join(line for line in body.splitlines() if line)
    answer = f"{state}: {url} answered {response.status}" + (f": {detail}" if detail else "")
    return response.status == 200, answer


def _loopback(host: str) -> str:
    """A wildcard listen address is reached on loopback from inside the same container."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host in ("::", "[::]"):
        return "::1"
    return host
