"""The ``emotion-bot`` command line: a thin argparse layer over the product."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from pathlib import Path

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
        "analyze", help="analyse audio files and folders",
        description="Analyse audio files and folders. Each file gets an output folder "
        "DIR/outputs_YYYYMMDD_HHMMSS/ with processed_audio.wav, result.json and, with "
        "--embedding, embedding.npy.",
    )
    _add_config(analyze, top=False)
    analyze.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    analyze.add_argument("--granularity", choices=("utterance", "frame"), default="utterance",
                         help="utterance: one result per file; frame: also per-frame embeddings")
    analyze.add_argument("--embedding", action="store_true", help="also write embedding.npy")
    analyze.add_argument("--out", metavar="DIR", default="outputs",
                         help="where output folders go (default: outputs/)")
    analyze.add_argument("--json", action="store_true",
                         help="print one JSON object per file per line instead of charts")
    analyze.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    analyze.add_argument("--record", action="store_true",
                         help="also record each result in the history database as cli:USER")
    analyze.add_argument("--user", metavar="NAME", default=None,
                         help="history user for --record (default: your OS user name)")

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


def _analyze(args: argparse.Namespace, settings: settings_mod.Settings) -> int:
    import asyncio

    from bot import analyze

    if args.record and (problem := history_check.problem(  # before the model loads
            settings, getpass.getuser() if args.user is None else args.user)):
        print(problem, file=sys.stderr)
        return 2
    inputs = analyze.collect(args.paths, args.recursive)
    failures = [(path, "no such file or folder") for path in inputs.missing]
    for path in inputs.skipped:
        print(f"skipped (not audio): {path}", file=sys.stderr)
    if inputs.files:
        from bot.inference import Unreachable
        from engine.loader import ModelLoadError

        try:
            failures += asyncio.run(_analyze_files(args, settings, inputs.files))
        except ModelLoadError as exc:
            print(f"emotion-bot: cannot load the model: {exc}", file=sys.stderr)
            return 2
        except Unreachable as exc:
            print(f"emotion-bot: {exc}", file=sys.stderr)
            return 2
    for path, reason in failures:
        print(f"FAILED {path}: {reason}", file=sys.stderr)
    if inputs.skipped:
        print(f"{len(inputs.skipped)} non-audio file(s) skipped", file=sys.stderr)
    return 1 if failures else 0


async def _analyze_files(args, settings, files: list[Path]) -> list[tuple[Path, str]]:
    """Analyse ``files`` one after another on the shared engine (long audio goes in windows)."""
    import asyncio

    from bot import analyze, render
    from bot.app import inference
    from bot.inference import Unreachable

    failures = []
    async with inference(settings) as backend:
        if backend.model.random_weights:
            print("WARNING: the model has RANDOM weights (a test checkpoint); results mean "
                  "nothing.", file=sys.stderr)
        for path in _progress(files, args.json):
            try:
                out, record, result, decoded = await analyze.analyze_file(
                    path, settings, backend.infer, backend.model.id, Path(args.out),
                    args.granularity, args.embedding, backend.model.random_weights,
                )
            except Unreachable:
                raise  # every later file would fail the same way
            except Exception as exc:  # each failure is named; the other files still run
                logger.debug("analysis of %s failed", path, exc_info=True)
                failures.append((path, analyze.failure_reason(exc)))
                if args.json:
                    print(json.dumps({"source": path.name, "path": str(path),
                                      "error": analyze.failure_reason(exc)}, ensure_ascii=False))
                continue
            if args.record:
                from bot.cli_history import record_cli_result

                record["history_id"] = await asyncio.to_thread(
                    record_cli_result, settings, args.user or getpass.getuser(), record, result,
                    decoded.notes)
            if args.json:
                print(json.dumps(record, ensure_ascii=False), flush=True)
            else:
                print(f"\n{path}  ->  {render.headline(record['emotion'], record['confidence'])}")
                print(render.chart(record["scores"]))
                for note in record["notes"]:
                    print(f"note: {note}")
                print(f"saved: {out}")
    return failures


def _progress(files: list[Path], quiet: bool):
    if len(files) < 2 or quiet or not sys.stderr.isatty():
        return files
    from tqdm import tqdm

    return tqdm(files, unit="file", file=sys.stderr)
