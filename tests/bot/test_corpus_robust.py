"""`analyze` on real folders: symlink loops, non-UTF-8 names, unwritable outputs, atomic output
folders, command-line wording and hints; `export` does not overwrite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import analyze
from tests.bot.test_cli_analyze import run_cli
from tests.conftest import SAMPLES


def test_symlink_loops_and_links_visit_each_real_file_once_and_odd_names_are_escaped(
        tmp_path, tiny_model_dir):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(SAMPLES / "03a02Wc.wav", folder / "a.wav")
    odd = os.fsencode(folder) + b"/caf\xe9.wav"
    shutil.copy(SAMPLES / "14a04Lb__flac.flac", odd)
    (folder / "sub" / "up").symlink_to("..")  # a loop
    (folder / "self").symlink_to(".")  # another loop
    (folder / "sub" / "again.wav").symlink_to(folder / "a.wav")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "analyze", str(folder), "--recursive", "--json",
         "--table", str(tmp_path / "t.csv"), "--out", str(out)],
        cwd=tmp_path, capture_output=True, timeout=300,
        env={**env, "EMOTION_BOT__ENGINE__MODEL": str(tiny_model_dir)})
    stderr = proc.stderr.decode("utf-8")
    assert 0 == proc.returncode, stderr
    lines = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert ["a.wav", "caf\\xe9.wav"] == [line["source"] for line in lines]
    assert f"{folder}/caf\\xe9.wav" == lines[1]["path"]
    table = (tmp_path / "t.csv").read_text(encoding="utf-8").splitlines()
    assert 3 == len(table) and table[2].startswith(f"{folder}/caf\\xe9.wav,")
    results = sorted(json.loads((d / "result.json").read_text(encoding="utf-8"))["source"]
                     for d in out.iterdir())
    assert ["a.wav", "caf\\xe9.wav"] == results
    assert [] == [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary folders
    assert "analysed 2, refused 0, failed 0" == stderr.strip().splitlines()[-1]


def test_an_unwritable_output_is_an_output_error_before_any_work(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    for option in (["--out", str(blocker / "out")], ["--table", str(blocker / "t.csv"),
                                                     "--no-folders"]):
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "analyze", str(SAMPLES / "03a02Wc.wav"), *option],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={**os.environ, "EMOTION_BOT__ENGINE__MODEL": str(tmp_path / "no-model")})
        assert 2 == proc.returncode  # the model is never loaded: the output is checked first
        assert f"emotion-bot: cannot write the output {blocker}" in proc.stderr
        assert "Not a directory" in proc.stderr and "cannot read" not in proc.stderr


def test_cli_words_for_a_local_file_and_the_hints_of_a_chat_reply(tmp_path, tiny_model_dir):
    bogus = tmp_path / "voice.ogg"
    bogus.write_text('{"ok": false, "error_code": 404}')
    proc = run_cli("analyze", str(bogus), str(SAMPLES / "03a02Wc.wav"), "--out",
                   str(tmp_path / "out"), model=tiny_model_dir, cwd=tmp_path)
    assert 1 == proc.returncode
    assert (f"FAILED {bogus}: the file holds an HTTP or JSON error body, not audio "
            "(a failed download?)") in proc.stderr
    assert "20 MB" not in proc.stderr and "Please send" not in proc.stderr
    # random weights spread the scores: the top one is far below the 60 % threshold
    assert "Low confidence (" in proc.stdout and "below 60 %)" in proc.stdout
    assert "analysed 1, refused 1 (error page: 1), failed 0" == proc.stderr.strip().splitlines()[-1]


def test_usage_errors_exit_2(tmp_path):
    for args, message in ((["--no-folders", "x.wav"], "--no-folders needs --table"),
                          (["--jobs", "0", "x.wav"], "must be an integer >= 1, not '0'"),
                          (["--restart", "x.wav"], "--restart needs --table")):
        proc = subprocess.run([sys.executable, "-m", "bot", "analyze", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert 2 == proc.returncode and message in proc.stderr


def test_from_list_reads_paths_and_kaldi_lines(tmp_path):
    shutil.copy(SAMPLES / "03a02Wc.wav", tmp_path / "a b.wav")
    listing = tmp_path / "wav.scp"
    listing.write_bytes(b"# corpus\nutt1 " + os.fsencode(tmp_path / "a b.wav") + b"\n\n"
                        + os.fsencode(tmp_path / "a b.wav") + b"\nutt2 /no/such.wav\n")
    assert [tmp_path / "a b.wav", tmp_path / "a b.wav", Path("/no/such.wav")] == \
        analyze.read_list(listing)
    inputs = analyze.collect(analyze.read_list(listing))
    assert [tmp_path / "a b.wav"] == inputs.files  # the same real file once
    assert [Path("/no/such.wav")] == inputs.missing


def test_an_output_folder_appears_only_complete(tmp_path):
    from datetime import datetime

    def broken(folder: Path) -> None:
        (folder / "processed_audio.wav").write_bytes(b"RIFF")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        analyze.write_output_dir(tmp_path, datetime(2026, 1, 2, 3, 4, 5), broken)
    assert [] == list(tmp_path.iterdir())
    made = [analyze.write_output_dir(tmp_path, datetime(2026, 1, 2, 3, 4, 5),
                                     lambda f: (f / "result.json").write_text("{}"))
            for _ in range(2)]
    assert ["outputs_20260102_030405", "outputs_20260102_030405_1"] == [p.name for p in made]
    assert ["result.json"] == [p.name for p in made[1].iterdir()]


def test_export_refuses_to_overwrite_unless_confirmed(tmp_path, monkeypatch, capsys):
    from bot import cli_history
    from tests.bot.test_cli_history import clip, run
    from bot.settings import from_mapping

    settings = from_mapping({"history": {"path": str(tmp_path / "h.db")}})
    cli_history.record_cli_result(settings, "ann", {"duration_s": 1.0}, clip("sad"))
    out = tmp_path / "out"
    assert 0 == run(settings, "export", "--user", "ann", "--out", str(out))
    (out / "history.csv").write_text("mine")
    assert 1 == run(settings, "export", "--user", "ann", "--out", str(out))
    assert "mine" == (out / "history.csv").read_text()
    assert f"not overwriting {out / 'history.csv'}" in capsys.readouterr().err

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    assert 1 == run(settings, "export", "--user", "ann", "--out", str(out), ask=lambda p: "n")
    assert 0 == run(settings, "export", "--user", "ann", "--out", str(out), ask=lambda p: "y")
    assert "mine" != (out / "history.csv").read_text()
