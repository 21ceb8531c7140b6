import argparse
import json

import numpy as np
import pytest

from bot import cli_history
from bot.history import History
from bot.settings import from_mapping
from engine.labels import EMOTIONS
from engine.types import ClipResult


def parse(*argv):
    parser = argparse.ArgumentParser(prog="emotion-bot")
    cli_history.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def clip(emotion, confidence=0.8):
    scores = np.full(len(EMOTIONS), (1 - confidence) / 8, dtype=np.float32)
    scores[EMOTIONS.index(emotion)] = confidence
    return ClipResult(EMOTIONS, scores, np.arange(4, dtype=np.float32))


@pytest.fixture
def settings(tmp_path):
    return from_mapping({"history": {"path": str(tmp_path / "h.db")}})


def run(settings, *argv, **kw):
    args = parse(*argv)
    return args.func(args, settings, **kw)


def test_record_cli_result_then_history_json(settings, capsys):
    record = {"duration_s": 2.5, "granularity": "utterance", "model": "m"}
    rid = cli_history.record_cli_result(settings, "ann", record, clip("happy"), ["quiet"])
    cli_history.record_cli_result(settings, "telegram:9", record, clip("sad"))
    assert 0 == run(settings, "history", "--user", "ann", "--json")
    [row] = json.loads(capsys.readouterr().out)
    assert (rid, "happy", "cli", "cli", [{"text": "quiet"}]) == \
        (row["id"], row["emotion"], row["platform"], row["chat"], row["notes"])
    assert 0 == run(settings, "history", "--user", "cli:ann", "--limit", "5")
    out = capsys.readouterr().out
    assert out.startswith("Your last 1 analysis:\n\n") and " happy      80.0%\n" in out


def test_stats_text_and_json(settings, capsys):
    cli_history.record_cli_result(settings, "ann", {"duration_s": 1.0}, clip("sad", 0.5))
    assert 0 == run(settings, "stats", "--user", "ann", "--period", "all", "--json")
    data = json.loads(capsys.readouterr().out)
    assert ("all", 1, {"sad": 1.0}, 0.5) == \
        (data["period"], data["count"], data["shares"], data["mean_confidence"])
    assert 0 == run(settings, "stats", "--user", "bob")
    assert "No analyses in the last 7 days.\n" == capsys.readouterr().out


def test_export_writes_three_files(settings, tmp_path, capsys):
    rid = cli_history.record_cli_result(settings, "ann", {"duration_s": 1.0}, clip("sad"))
    assert 0 == run(settings, "export", "--user", "ann", "--out", str(tmp_path / "out"))
    assert capsys.readouterr().out.startswith("Your history: 1 analysis, 1 embedding.\n")
    with np.load(tmp_path / "out" / "embeddings.npz") as z:
        assert [0.0, 1.0, 2.0, 3.0] == z[str(rid)].tolist()


def test_forget_asks_unless_yes(settings, capsys):
    cli_history.record_cli_result(settings, "ann", {"duration_s": 1.0}, clip("sad"))
    assert 1 == run(settings, "forget", "--user", "ann", ask=lambda prompt: "n")
    assert "Nothing was deleted.\n" == capsys.readouterr().out
    assert 0 == run(settings, "forget", "--user", "ann", ask=lambda prompt: "yes")
    assert "Deleted: 1 analysis and everything else stored about you.\n" == \
        capsys.readouterr().out
    cli_history.record_cli_result(settings, "ann", {"duration_s": 1.0}, clip("sad"))
    assert 0 == run(settings, "forget", "--user", "cli:ann", "--yes")
    assert [] == History(settings.history.path).history("cli:ann")


def test_every_command_has_help():
    parser = argparse.ArgumentParser(prog="emotion-bot")
    commands = parser.add_subparsers(dest="command")
    cli_history.register(commands)
    assert ["history", "stats", "export", "forget"] == list(commands.choices)
    assert all(p.description for p in commands.choices.values())
