"""`emotion-bot analyze --table` end to end on ≈50 files: one table, the matrix, resume, SIGKILL."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from engine.labels import EMOTIONS
from tests.bot.test_cli_analyze import run_cli
from tests.conftest import SAMPLES

AUDIO = sorted(p.name for p in SAMPLES.iterdir() if p.suffix not in (".md", ".csv"))
N_AUDIO = 48


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """48 short clips in nine encodings, one silent WAV (refused) and a text file (skipped)."""
    root = tmp_path_factory.mktemp("corpus") / "corpus"
    for i in range(N_AUDIO):
        name = AUDIO[i % len(AUDIO)]
        folder = root / f"part{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / name, folder / f"{i:02d}_{name}")
    with wave.open(str(root / "part0" / "zz_silence.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * 32000)
    (root / "part1" / "readme.txt").write_text("not audio")
    return root


def expected_paths(root: Path) -> list[str]:
    found = []
    for folder in sorted(root.iterdir()):
        found += [str(p) for p in sorted(folder.iterdir()) if p.suffix != ".txt"]
    return found


def rows(table: Path) -> list[dict]:
    with open(table, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def data_lines(table: Path) -> int:
    try:
        return max(0, table.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_table_with_matrix_then_resume_skips_done_and_redoes_a_changed_file(
        corpus, tmp_path, tiny_model_dir):
    corpus = Path(shutil.copytree(corpus, tmp_path / "corpus"))  # a file of it gets changed
    table = tmp_path / "results.csv"
    args = ("analyze", str(corpus), "--recursive", "--table", str(table), "--embedding",
            "--no-folders", "--jobs", "2")
    first = run_cli(*args, model=tiny_model_dir, cwd=tmp_path)
    assert 1 == first.returncode, first.stderr  # the silent file is refused
    assert "analysed 48, refused 1 (silent: 1), failed 0" == last_line(first.stderr)
    assert f"skipped (not audio): {corpus / 'part1' / 'readme.txt'}" in first.stderr
    assert "" == first.stdout  # with --table the table is the output
    table_rows = rows(table)
    assert expected_paths(corpus) == [r["path"] for r in table_rows]
    silent = next(r for r in table_rows if r["path"].endswith("zz_silence.wav"))
    assert ("refused", "the recording is silent", "", "") == \
        (silent["status"], silent["error"], silent["emotion"], silent["embedding_row"])
    ok = [r for r in table_rows if r["status"] == "ok"]
    assert [str(i) for i in range(48)] == [r["embedding_row"] for r in ok]
    for r in ok:
        scores = {label: float(r[label]) for label in EMOTIONS}
        assert 1.0 == pytest.approx(sum(scores.values()), abs=1e-5)
        assert r["emotion"] == max(scores, key=scores.get)
        assert int(r["size_bytes"]) == os.path.getsize(r["path"])
        assert int(r["mtime_ns"]) == os.stat(r["path"]).st_mtime_ns
        assert float(r["duration_s"]) == pytest.approx(2.0, abs=0.25)
    matrix = np.load(table.with_suffix(".embeddings.npy"))
    assert (48, 32) == matrix.shape and np.float32 == matrix.dtype
    before = table.read_bytes()

    again = run_cli(*args, model=tiny_model_dir, cwd=tmp_path)
    assert 0 == again.returncode, again.stderr
    assert f"resuming: 49 files already in {table} skipped" in again.stderr
    assert "analysed 0, refused 0, failed 0" == last_line(again.stderr)
    assert before == table.read_bytes()

    changed = Path(ok[5]["path"])
    shutil.copy(SAMPLES / "LJ001-0008.wav", changed)
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    third = run_cli(*args, model=tiny_model_dir, cwd=tmp_path)
    assert 0 == third.returncode, third.stderr
    assert f"resuming: 48 files already in {table} skipped" in third.stderr
    assert "analysed 1, refused 0, failed 0" == last_line(third.stderr)
    final = rows(table)
    assert sorted(expected_paths(corpus)) == sorted(r["path"] for r in final)
    assert str(changed) == final[-1]["path"]
    assert 1.78 == pytest.approx(float(final[-1]["duration_s"]), abs=0.05)
    assert list(range(48)) == sorted(int(r["embedding_row"]) for r in final if r["embedding_row"])
    assert (48, 32) == np.load(table.with_suffix(".embeddings.npy")).shape

    other_model = tmp_path / "same-model-other-name"
    other_model.symlink_to(tiny_model_dir)
    refused = run_cli(*args, model=other_model, cwd=tmp_path)
    assert 2 == refused.returncode
    assert f"was made by model {tiny_model_dir}" in refused.stderr
    assert "use --restart" in refused.stderr and "Traceback" not in refused.stderr


def test_resume_after_sigkill_loses_nothing_and_duplicates_nothing(corpus, tmp_path,
                                                                   tiny_model_dir):
    table = tmp_path / "killed.csv"
    args = ["analyze", str(corpus), "--recursive", "--table", str(table), "--embedding",
            "--no-folders", "--jobs", "1"]
    env = {**os.environ, "EMOTION_BOT__ENGINE__MODEL": str(tiny_model_dir)}
    env.pop("EMOTION_BOT_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while data_lines(table) < 6 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # bounded poll of the outcome
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert -signal.SIGKILL == proc.returncode  # it was killed mid-run, not finished
    done_before = len(rows(table))
    assert 6 <= done_before < 49

    resumed = run_cli(*args, model=tiny_model_dir, cwd=tmp_path)
    assert 1 == resumed.returncode, resumed.stderr
    assert f"resuming: {done_before} files already in {table} skipped" in resumed.stderr
    final = rows(table)
    assert expected_paths(corpus) == [r["path"] for r in final]  # input order, each once
    refs = sorted(int(r["embedding_row"]) for r in final if r["status"] == "ok")
    assert list(range(48)) == refs
    matrix = np.load(table.with_suffix(".embeddings.npy"))
    assert (48, 32) == matrix.shape
    # same content, same vector: copies of one sample share their embedding
    by_name: dict[str, list[int]] = {}
    for r in final:
        if r["status"] == "ok":
            by_name.setdefault(Path(r["path"]).name[3:], []).append(int(r["embedding_row"]))
    for refs in by_name.values():
        np.testing.assert_allclose(matrix[refs], np.broadcast_to(matrix[refs[0]],
                                                                 matrix[refs].shape), atol=1e-5)
