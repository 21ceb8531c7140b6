"""`emotion-bot history | stats | export | forget`, and recording a CLI analysis into the history.

``bot.cli`` calls ``register(commands)`` and dispatches ``args.func(args, settings)``; each handler
returns an exit code. ``--user KEY`` takes a full key (``telegram:123``); a bare name means
``cli:NAME``. Text comes from the catalogue in English.

A database that cannot be used (locked past the busy timeout, damaged, in a missing folder, on a
full disk) and a bad ``--user`` get one line on stderr and exit status 2, never a traceback. The
reading commands never create a database: on a path with none they say so.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sqlite3
import sys
from pathlib import Path

from bot import reply
from bot import analysis
from bot.analysis import PERIODS
from bot.history_check import (BadUserKey, HistoryUnavailable, checked_user, describe,
                               open_checked)
from bot.messages import text

logger = logging.getLogger(__name__)


def register(commands) -> None:
    """Add the history subcommands to ``bot.cli``'s subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="settings file ([history] path names the database)")
    common.add_argument("--user", required=True, metavar="KEY",
                        help="user key, e.g. telegram:123 or slack:T01:U02; "
                        "a bare NAME means cli:NAME")

    p = commands.add_parser("history", parents=[common], help="a user's last analyses",
                            description="Show a user's last analyses, newest first.")
    p.add_argument("--limit", type=int, default=10, metavar="N", help="how many (default 10)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(func=history_command)

    p = commands.add_parser("stats", parents=[common], help="a user's emotions over a period",
                            description="Share per emotion, mean confidence and the dominant "
                            "emotion per day (UTC days).")
    p.add_argument("--period", choices=tuple(PERIODS), default="week")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(func=stats_command)

    p = commands.add_parser("export", parents=[common], help="export a user's history",
                            description="Write history.csv, history.json and embeddings.npz "
                            "(stored embeddings keyed by record id) into DIR.")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(func=export_command)

    p = commands.add_parser("forget", parents=[common], help="delete everything of a user",
                            description="Delete a user's analyses, settings, consents and jobs.")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=forget_command)


def _guarded(command):
    """One line on stderr and exit status 2 for a database or ``--user`` problem."""
    @functools.wraps(command)
    def run(args, settings, *rest, **kw) -> int:
        try:
            return command(args, settings, *rest, **kw)
        except (BadUserKey, HistoryUnavailable) as exc:
            print(f"emotion-bot: {exc}", file=sys.stderr)
        except sqlite3.Error as exc:  # after opening: a lock past the busy timeout, a full disk
            logger.debug("history command failed", exc_info=True)
            print(f"emotion-bot: {describe(exc, settings.history.path)}", file=sys.stderr)
        return 2
    return run


def _open(settings, write: bool = False):
    """The checked database, or None (after saying so) when a reader finds none."""
    history = open_checked(settings, write=write)
    if history is None:
        print(f"emotion-bot: no history database at {Path(settings.history.path).absolute()} "
              "yet: nothing has been recorded there ([history] path names the file)",
              file=sys.stderr)
    return history


@_guarded
def history_command(args, settings) -> int:
    key = checked_user(args.user)
    history = _open(settings)
    rows = history.history(key, args.limit) if history else []
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        print(reply.history_reply(rows).plain())
    return 0


@_guarded
def stats_command(args, settings) -> int:
    key = checked_user(args.user)
    history = _open(settings)
    s = history.stats(key, args.period) if history else analysis.stats([], args.period)
    if args.json:
        print(json.dumps({"period": s.period, "count": s.count, "shares": dict(s.shares),
                          "mean_confidence": round(s.mean_confidence, 6),
                          "daily": [{"day": d, "emotion": e, "count": n} for d, e, n in s.daily]},
                         ensure_ascii=False, indent=1))
    else:
        print(reply.stats_reply(s).plain())
    return 0


@_guarded
def export_command(args, settings, ask=input) -> int:
    from pathlib import Path

    key = checked_user(args.user)
    history = _open(settings)
    if history is None:
        return 0
    files, count, stored = history.export_files(key)
    taken = [Path(args.out) / name for name in files if (Path(args.out) / name).exists()]
    if taken:
        names = ", ".join(str(p) for p in taken)
        answer = ""
        if sys.stdin.isatty():
            try:
                answer = ask(f"{names} already exist(s). Overwrite? [y/N] ")
            except EOFError:
                answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print(f"emotion-bot: not overwriting {names}: choose another --out or remove them",
                  file=sys.stderr)
            return 1
    paths = history.export(key, args.out)
    print(text("export.done", "en", count=count, embeddings=stored))
    for path in paths:
        print(path)
    return 0


@_guarded
def forget_command(args, settings, ask=input) -> int:
    key = checked_user(args.user)
    if not args.yes:
        try:
            answer = ask(f"{key}: {text('forget.confirm', 'en')} [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print(text("forget.cancelled", "en"))
            return 1
    history = _open(settings)
    if history is None:
        return 0
    done = history.forget_report(key)
    print(text("forget.done", "en", records=done.records))
    if not done.erased:
        print(f"emotion-bot: {erasure_pending_line(history.path)}", file=sys.stderr)
    return 0


def erasure_pending_line(path: str) -> str:
    return (f"the deleted data is still in {Path(path).absolute()} because another program is "
            "reading the database; the erasure finishes at the next write once it lets go "
            "(the bot's next analysis, or run forget again)")


def record_cli_result(settings, user_key_or_name: str, record: dict, result, notes=()) -> int:
    """Store one ``emotion-bot analyze --record`` result (``record`` as ``bot.analyze`` makes it);
    returns the record id, or None (after one line on stderr) when the database cannot take it,
    so the rest of the batch still runs. Call ``check_record`` before the model loads."""
    try:
        history = open_checked(settings, write=True)
    except HistoryUnavailable as exc:
        print(f"emotion-bot: not recorded: {exc}", file=sys.stderr)
        return None
    try:
        return history.record(checked_user(user_key_or_name), result,
                              duration_s=float(record.get("duration_s", 0.0)),
                              granularity=record.get("granularity", "utterance"),
                              model=str(record.get("model", settings.engine.model)),
                              chat="cli", notes=notes)
    except sqlite3.Error as exc:
        print(f"emotion-bot: not recorded: {describe(exc, history.path, history.timeout_s)}",
              file=sys.stderr)
        return None
    finally:
        history.close()

