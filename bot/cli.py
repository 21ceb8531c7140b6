"""The ``emotion-bot`` command line: a thin argparse layer over the product."""

from __future__ import annotations

import argparse
import logging
import sys

from bot import history_check, logs
from bot import settings as settings_mod

logger = logging.getLogger(__name__)


def _add_config(parser: argparse.ArgumentParser, top: bool) -> None:
    # Accepted before the command (global) and after it; the later one wins.
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None if top else argparse.SUPPRESS,
        help="settings file (default: $EMOTION_BOT_CONFIG, else ./config.toml, else built-in defaults)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotion-bot",
        description="Hear how people feel: speech emotion recognition (emotion2vec+) for files, "
        "Telegram and Slack.",
    )
    _add_config(parser, top=True)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    analyze = commands.add_parser(
        "analyze", help="analyse audio files, folders and corpora",
        description="Analyse audio files and folders. Each file gets an output folder "
        "DIR/outputs_YYYYMMDD_HHMMSS/ with processed_audio.wav, result.json and, with "
        "--embedding, embedding.npy. For corpora: --table FILE.csv writes one row per input "
        "(and, with --embedding, FILE.embeddings.npy); running the same command again resumes.",
    )
    _add_config(analyze, top=False)
    analyze.add_argument("paths", nargs="*", metavar="PATH", help="audio files or folders")
    analyze.add_argument("--from-list", metavar="FILE", default=None,
                         help="also read paths from FILE: one per line, or Kaldi-style "
                         "'key path' lines (wav.scp)")
    analyze.add_argument("--granularity", choices=("utterance", "frame"), default="utterance",
                         help="utterance: one result per file; frame: also per-frame embeddings")
    analyze.add_argument("--embedding", action="store_true",
                         help="also write embedding.npy (and the table's embeddings matrix)")
    analyze.add_argument("--out", metavar="DIR", default="outputs",
                         help="where output folders go (default: outputs/)")
    analyze.add_argument("--no-folders", action="store_true",
                         help="write no per-file output folders (needs --table or --json)")
    analyze.add_argument("--table", metavar="FILE.csv", default=None,
                         help="one results row per input in FILE.csv (UTF-8); resumes if it exists")
    analyze.add_argument("--restart", action="store_true",
                         help="with --table: start a new table instead of resuming")
    analyze.add_argument("--jobs", type=_positive_int, default=0, metavar="N",
                         help="decodes in parallel, feeding the engine (default: usable cores)")
    analyze.add_argument("--max-pending-audio", type=float, default=600.0, metavar="SECONDS",
                         help="decoded audio held in memory at once, in seconds (default 600)")
    analyze.add_argument("--json", action="store_true",
                         help="print one JSON object per file per line instead of charts")
    analyze.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    analyze.add_argument("--record", action="store_true",
                         help="also record each result in the history database as cli:USER")
    analyze.add_argument("--user", metavar="NAME", default=None,
                         help="history user for --record (default: your OS user name)")
    analyze.set_defaults(parser=analyze)

    from bot import cli_history

    cli_history.register(commands)

    from bot import healthcheck

    healthcheck.register(commands)

    run = commands.add_parser(
        "run", help="run the chat bots (every platform whose token is set)",
        description="Start every configured chat platform (Telegram when TELEGRAM_BOT_TOKEN is "
        "set, Slack when SLACK_BOT_TOKEN is set) in one process sharing one engine and one "
        "history database, plus the health/metrics server. Stops cleanly on SIGTERM/SIGINT.",
    )
    _add_config(run, top=False)

    from bot.api import runner as api_runner

    serve = commands.add_parser(
        "serve", help="serve the engine over HTTP to other programs (the api extra)",
        description="The inference API: POST /v1/analyze (an audio file), POST /v1/emotion "
        "(16 kHz float32 samples), GET /v1/info, /livez, /readyz and /metrics, on [api] host "
        "and port. Needs pip install 'emotion-bot[api]'. Stops cleanly on SIGTERM/SIGINT.",
    )
    _add_config(serve, top=False)
    serve.set_defaults(func=api_runner.main)

    dev = commands.add_parser("dev", help="developer tools")
    _add_config(dev, top=False)
    dev_commands = dev.add_subparsers(dest="dev_command", metavar="TOOL")
    dev_commands.required = True
    make = dev_commands.add_parser(
        "make-model", help="write a RANDOM-weight emotion2vec checkpoint for tests and benchmarks",
        description="Write a checkpoint directory in FunASR's layout, built through FunASR's own "
        "Emotion2vec class, with RANDOM weights. For tests and benchmarks only.",
    )
    make.add_argument("directory", metavar="DIR")
    make.add_argument("--size", choices=("tiny", "base", "large"), default="tiny")
    make.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "dev":
        return _make_model(args)
    try:
        settings = settings_mod.load(args.config)
    except settings_mod.SettingsError as exc:
        print(f"emotion-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    quiet = args.command not in ("run", "serve")  # one-shot commands print results, not logs
    logs.configure("WARNING" if quiet else settings.logging.level, settings.logging.format,
                   args.verbose)
    if args.command == "run":
        return _run(settings)
    if args.command != "analyze":
        return args.func(args, settings)
    return _analyze(args, settings)


def _run(settings: settings_mod.Settings) -> int:
    import asyncio

    from bot.preflight import UnwritablePath, check
    from bot.runner import StartupError, run
    from engine.loader import ModelLoadError

    if problem := history_check.problem(settings):  # before the model loads
        print(problem, file=sys.stderr)
        return 2
    try:  # then every other path the configuration writes to
        check(settings)
    except UnwritablePath as exc:
        print(f"emotion-bot: {exc}", file=sys.stderr)
        return 2
    try:  # 0: stopped cleanly; 1: every platform failed; 2: a setting, token or secret is wrong
        return asyncio.run(run(settings))
    except (StartupError, ModelLoadError, UnwritablePath) as exc:
        print(f"emotion-bot: {exc}", file=sys.stderr)
        return 2


def _make_model(args: argparse.Namespace) -> int:
    from engine.checkpoint import RANDOM_WEIGHTS_NOTICE, make_model

    logs.configure("WARNING", verbose=args.verbose)
    path = make_model(args.directory, args.size, args.seed)
    print(f"wrote a {args.size} emotion2vec checkpoint to {path}")
    print(RANDOM_WEIGHTS_NOTICE)
    return 0


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, not {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, not {value!r}")
    return number


def _analyze(args: argparse.Namespace, settings: settings_mod.Settings) -> int:
    if args.no_folders and not (args.table or args.json):
        args.parser.error("--no-folders needs --table FILE.csv or --json (else nothing is kept)")
    if args.restart and not args.table:
        args.parser.error("--restart needs --table FILE.csv")
    from bot.corpus_cli import analyze_command

    return analyze_command(args, settings)
