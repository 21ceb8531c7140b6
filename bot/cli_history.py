"""`emotion-bot history | stats | export | forget`, and recording a CLI analysis into the history.

``bot.cli`` calls ``register(commands)`` and dispatches ``args.func(args, settings)``; each handler
returns an exit code. ``--user KEY`` takes a full key (``telegram:123``); a bare name means
``cli:NAME``. Text comes from the catalogue in English.
"""

from __future__ import annotations

import argparse
import json

from bot import reply
from bot.analysis import PERIODS
from bot.history import History, user_key
from bot.messages import text


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


def _open(settings) -> History:
    return History.from_settings(settings)


def history_command(args, settings) -> int:
    rows = _open(settings).history(user_key(args.user), args.limit)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        print(reply.history_reply(rows).plain())
    return 0


def stats_command(args, settings) -> int:
    s = _open(settings).stats(user_key(args.user), args.period)
    if args.json:
        print(json.dumps({"period": s.period, "count": s.count, "shares": dict(s.shares),
                          "mean_confidence": round(s.mean_confidence, 6),
                          "daily": [{"day": d, "emotion": e, "count": n} for d, e, n in s.daily]},
                         ensure_ascii=False, indent=1))
    else:
        print(reply.stats_reply(s).plain())
    return 0


def export_command(args, settings, ask=input) -> int:
    import sys
    from pathlib import Path

    history = _open(settings)
    key = user_key(args.user)
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


def forget_command(args, settings, ask=input) -> int:
    key = user_key(args.user)
    if not args.yes:
        try:
            answer = ask(f"{key}: {text('forget.confirm', 'en')} [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print(text("forget.cancelled", "en"))
            return 1
    print(text("forget.done", "en", records=_open(settings).forget(key)))
    return 0


def record_cli_result(settings, user_key_or_name: str, record: dict, result, notes=()) -> int:
    """Store one ``emotion-bot analyze --record`` result (``record`` as ``bot.analyze`` makes it);
    returns the record id."""
    history = _open(settings)
    try:
        return history.record(user_key(user_key_or_name), result,
                              duration_s=float(record.get("duration_s", 0.0)),
                              granularity=record.get("granularity", "utterance"),
                              model=str(record.get("model", settings.engine.model)),
                              chat="cli", notes=notes)
    finally:
        history.close()
