"""`emotion-bot analyze` as a command: inputs, up-front output checks, the table, what is printed.

``bot.cli`` parses the arguments and calls ``analyze_command(args, settings)``; the pipeline itself
is ``bot.corpus.run``. stdout carries results (charts, or JSON lines with ``--json``); stderr
carries progress, per-file failures and, as its last line, the summary
``analysed A, refused R (reason: n, ...), failed F``.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot import analyze, corpus, render
from bot.analysis import verdict
from bot.corpus_table import Table, TableMismatch, path_text
from bot.messages import text

logger = logging.getLogger(__name__)


class _Stop(Exception):
    """Ends the command with a message and exit status 2 (the input files are not to blame)."""


def analyze_command(args, settings) -> int:
    from bot import history_check
    from bot.inference import Unreachable
    from engine.cores import usable_cores
    from engine.loader import ModelLoadError

    if args.record and (problem := history_check.problem(  # before the model loads
            settings, getpass.getuser() if args.user is None else args.user)):
        print(problem, file=sys.stderr)
        return 2

    try:
        paths = list(args.paths) + (analyze.read_list(args.from_list) if args.from_list else [])
    except OSError as exc:
        return _fail(f"cannot read the list {path_text(args.from_list)}: {exc.strerror or exc}")
    if not paths:
        return _fail("no input: name files or folders, or --from-list FILE")
    folders = None if args.no_folders else Path(args.out)
    table = Path(args.table) if args.table else None
    try:
        check_writable(folders, table)
    except OSError as exc:
        where = exc.filename if isinstance(exc.filename, str) else folders or table
        return _fail(f"cannot write the output {path_text(where)}: {exc.strerror or exc}")
    inputs = analyze.collect(paths, args.recursive)
    options = corpus.Options(args.granularity, args.embedding, folders, args.jobs or usable_cores(),
                             max_pending_audio_s=args.max_pending_audio)
    try:
        return asyncio.run(_analyze_files(args, settings, inputs.entries, table, options))
    except ModelLoadError as exc:
        return _fail(f"cannot load the model: {exc}")
    except Unreachable as exc:  # the remote engine: every file would fail the same way
        return _fail(str(exc))
    except _Stop as exc:
        return _fail(str(exc))


def check_writable(folders: Path | None, table: Path | None) -> None:
    """Raise ``OSError`` now, before any work, when an output cannot be written."""
    targets = [folders] if folders is not None else []
    if table is not None:
        targets.append(table.parent if str(table.parent) else Path("."))
        if table.exists() and not os.access(table, os.W_OK):
            raise PermissionError(13, "Permission denied", str(table))
    for folder in targets:
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(existing))
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)


async def _analyze_files(args, settings, entries, table_path, options) -> int:
    from bot.app import inference

    loading = time.monotonic()
    async with inference(settings) as backend:
        load_s = time.monotonic() - loading
        if backend.model.random_weights:
            print("WARNING: the model has RANDOM weights (a test checkpoint); results mean "
                  "nothing.", file=sys.stderr)
        table = None
        if table_path is not None:
            table = Table(table_path, backend.model.id, backend.model.labels, args.embedding)
            try:
                kept = table.open(args.restart)
            except TableMismatch as exc:
                raise _Stop(str(exc)) from None
            before = len(entries)
            entries = [e for e in entries if not _already_done(table, e)]
            if kept:
                print(f"resuming: {before - len(entries)} files already in {path_text(table_path)}"
                      " skipped", file=sys.stderr)
        report = _Report(args, settings, table, len(entries))
        try:
            await corpus.run(entries, settings, backend, options, report.emit, report.timings)
        finally:
            report.close()
            if table is not None:
                table.close()
        if args.verbose:
            print("run stats: " + json.dumps(_stats(report, backend.stats(), load_s, options)),
                  file=sys.stderr)
        return report.finish()


def _stats(report, engine: dict, load_s: float, options) -> dict:
    """Where the time went (``-v``): stage sums, the engine's batches; for tuning ``--jobs``."""
    t = report.timings
    sizes = {int(k): v for k, v in (engine.get("batch_sizes") or {}).items()}
    batches = sum(sizes.values())
    return {"load_s": round(load_s, 3), "wall_s": round(time.monotonic() - report.started, 3),
            "files": dict(report.counts), "audio_s": round(t.audio_s, 3), "jobs": options.jobs,
            "decode_s": round(t.decode_s, 3), "queue_s": round(t.queue_s, 3),
            "infer_s": round(t.infer_s, 3), "write_s": round(t.write_s, 3),
            "batches": batches, "batch_sizes": sizes,
            "mean_batch": round(sum(k * v for k, v in sizes.items()) / batches, 3) if batches else 0,
            "max_batch_size": engine.get("max_batch_size"), "device": engine.get("device"),
            "dtype": engine.get("dtype")}


def _already_done(table: Table, entry: analyze.Entry) -> bool:
    if entry.missing:
        return False
    try:
        st = entry.path.stat()
    except OSError:
        return False
    return table.done((path_text(entry.path), str(st.st_size), str(st.st_mtime_ns)))


class _Report:
    """Everything that happens to a finished file, in input order: table row, history, output."""

    def __init__(self, args, settings, table: Table | None, total: int) -> None:
        self.args, self.settings, self.table = args, settings, table
        self.timings = corpus.Timings()
        self.counts: Counter = Counter()
        self.refusals: Counter = Counter()
        self.started = time.monotonic()
        self.bar = _progress(total, not sys.stderr.isatty())

    def say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    def emit(self, outcome: corpus.Outcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.status == "skipped":
            self.say(f"skipped (not audio): {outcome.path_text}")
        else:
            self._row(outcome)
            if outcome.status == "refused":
                self.refusals[outcome.code] += 1
            if outcome.status != "ok":
                self.say(f"FAILED {outcome.path_text}: {outcome.error}")
                if self.args.json:
                    print(json.dumps({"source": path_text(outcome.entry.path.name),
                                      "path": outcome.path_text, "status": outcome.status,
                                      "error": outcome.error}, ensure_ascii=False), flush=True)
            else:
                self._result(outcome)
        if self.bar is not None:
            elapsed = max(1e-6, time.monotonic() - self.started)
            self.bar.set_postfix_str(f"{self.timings.audio_s / elapsed:.1f} audio-s/s",
                                     refresh=False)
            self.bar.update(1)

    def _row(self, outcome: corpus.Outcome) -> None:
        if self.table is None:
            return
        values = {"path": outcome.path_text, "size_bytes": _str(outcome.size),
                  "mtime_ns": _str(outcome.mtime_ns), "status": outcome.status,
                  "error": outcome.error,
                  "notes": json.dumps([text(n.key, "en", **n.params) for n in outcome.notes],
                                      ensure_ascii=False),
                  "duration_s": f"{outcome.duration_s:.3f}" if outcome.duration_s else ""}
        if outcome.result is not None:
            values.update(emotion=outcome.result.emotion,
                          confidence=f"{outcome.result.confidence:.6f}")
            values.update({k: f"{v:.6f}" for k, v in outcome.result.score_map().items()})
        try:
            self.table.append(values, corpus.embedding_of(outcome))
        except OSError as exc:
            raise _Stop(f"cannot write the table {path_text(self.table.path)}: "
                        f"{exc.strerror or exc}") from None

    def _result(self, outcome: corpus.Outcome) -> None:
        record, args = outcome.record, self.args
        record["path"] = outcome.path_text
        reply = self.settings.reply
        v = verdict(record["scores"], reply.low_confidence, reply.mixed_margin)
        hints = [h for h in (render.low_confidence_warning(v, reply.low_confidence),
                             render.mixed_hint(v)) if h]
        record["hints"] = hints
        if args.record:
            from bot.cli_history import record_cli_result

            record["history_id"] = record_cli_result(
                self.settings, args.user or getpass.getuser(), record, outcome.result,
                outcome.notes)
        if args.json:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        elif self.table is None:
            lines = [f"\n{outcome.path_text}  ->  "
                     f"{render.headline(record['emotion'], record['confidence'])}",
                     render.chart(record["scores"])]
            lines += hints + [f"note: {note}" for note in record["notes"]]
            if outcome.out_dir is not None:
                lines.append(f"saved: {path_text(outcome.out_dir)}")
            self._stdout("\n".join(lines))

    def _stdout(self, block: str) -> None:
        if self.bar is not None:
            self.bar.write(block, file=sys.stdout)
        else:
            print(block, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def finish(self) -> int:
        skipped = self.counts["skipped"]
        if skipped:
            print(f"{skipped} non-audio file(s) skipped", file=sys.stderr)
        refused, failed = self.counts["refused"], self.counts["failed"]
        reasons = ", ".join(f"{code}: {n}" for code, n in self.refusals.most_common())
        print(f"analysed {self.counts['ok']}, refused {refused}"
              f"{f' ({reasons})' if reasons else ''}, failed {failed}", file=sys.stderr)
        return 1 if refused or failed else 0


def _progress(total: int, quiet: bool):
    if total < 2 or quiet:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True)


def _str(value) -> str:
    return "" if value is None else str(value)


def _fail(message: str) -> int:
    print(f"emotion-bot: {message}", file=sys.stderr)
    return 2
