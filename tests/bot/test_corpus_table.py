"""The corpus results table and its embeddings matrix: append, kill damage repaired, resume rules."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from bot.corpus_table import (COLUMNS, Matrix, Table, TableMismatch, embeddings_path, meta_path,
                              path_text)
from engine.labels import EMOTIONS


def ok_row(path: str, size: int = 10, mtime: int = 1) -> dict:
    return {"path": path, "size_bytes": str(size), "mtime_ns": str(mtime), "status": "ok",
            "emotion": "happy", "confidence": "0.500000", "notes": "[]"}


def read_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def new_table(path, embeddings=True, model="m", labels=EMOTIONS) -> Table:
    table = Table(path, model, labels, embeddings)
    table.open()
    return table


def test_path_text_escapes_undecodable_bytes_and_control_characters():
    assert "caf\\xe9.wav" == path_text(os.fsdecode(b"caf\xe9.wav"))
    assert "a\\nb.wav" == path_text("a\nb.wav")
    assert "日本.wav" == path_text("日本.wav")


def test_rows_and_matrix_round_trip(tmp_path):
    table = new_table(tmp_path / "r.csv")
    table.append(ok_row("a.wav"), np.full(4, 1.0, np.float32))
    table.append({**ok_row("b.wav"), "status": "refused", "emotion": "", "error": "silent"})
    table.append(ok_row("c.wav"), np.full(4, 3.0, np.float32))
    table.close()
    rows = read_rows(tmp_path / "r.csv")
    assert list(COLUMNS) == list(rows[0])
    assert ["a.wav", "b.wav", "c.wav"] == [r["path"] for r in rows]
    assert ["0", "", "1"] == [r["embedding_row"] for r in rows]
    matrix = np.load(embeddings_path(tmp_path / "r.csv"))
    assert (2, 4) == matrix.shape and np.float32 == matrix.dtype
    assert [1.0, 3.0] == matrix[:, 0].tolist()
    assert 4 == json.loads(meta_path(tmp_path / "r.csv").read_text())["embedding_dim"]


def test_a_kill_mid_row_and_a_stale_matrix_header_are_repaired_on_open(tmp_path):
    path = tmp_path / "r.csv"
    table = new_table(path)
    table.append(ok_row("a.wav"), np.ones(4, np.float32))
    table.append(ok_row("b.wav"), np.ones(4, np.float32) * 2)
    # as SIGKILL leaves it: no close (the matrix header still says 0 rows), an orphan vector of a
    # row that never reached the table, half a row
    table.matrix.append(np.ones(4, np.float32) * 9)
    with open(embeddings_path(path), "ab") as fh:
        fh.write(b"\x00\x01")  # half a vector
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("c.wav,10,1,o")
    assert (0, 4) == np.load(embeddings_path(path)).shape  # the header of a run still going
    resumed = Table(path, "m", EMOTIONS, True)
    assert 2 == resumed.open()
    resumed.close()
    assert ["a.wav", "b.wav"] == [r["path"] for r in read_rows(path)]
    assert path.read_text(encoding="utf-8").endswith("\n")
    assert [[1.0] * 4, [2.0] * 4] == np.load(embeddings_path(path)).tolist()


def test_done_skips_ok_and_refused_of_the_same_file_only(tmp_path):
    table = new_table(tmp_path / "r.csv")
    table.append(ok_row("a.wav"), np.ones(4, np.float32))
    table.append({**ok_row("b.wav"), "status": "refused"})
    table.append({**ok_row("c.wav"), "status": "failed"})
    table.append(ok_row("d.wav"))  # ok, but without an embedding
    table.close()
    resumed = Table(tmp_path / "r.csv", "m", EMOTIONS, True)
    resumed.open()
    assert True is resumed.done(("a.wav", "10", "1"))
    assert True is resumed.done(("b.wav", "10", "1"))
    assert False is resumed.done(("c.wav", "10", "1"))  # failed: retried
    assert False is resumed.done(("a.wav", "11", "1"))  # changed size
    assert False is resumed.done(("a.wav", "10", "2"))  # changed mtime
    assert False is resumed.done(("d.wav", "10", "1"))  # --embedding now wants its vector
    assert False is resumed.done(("e.wav", "10", "1"))
    resumed.close()


def test_a_replaced_row_keeps_only_the_latest_and_compacts_the_matrix(tmp_path):
    path = tmp_path / "r.csv"
    table = new_table(path)
    table.append(ok_row("a.wav", mtime=1), np.ones(4, np.float32))
    table.append(ok_row("b.wav"), np.ones(4, np.float32) * 2)
    table.append(ok_row("a.wav", mtime=2), np.ones(4, np.float32) * 3)  # a changed file
    table.close()
    Table(path, "m", EMOTIONS, True).open()
    rows = read_rows(path)
    assert [("b.wav", "0"), ("a.wav", "1")] == [(r["path"], r["embedding_row"]) for r in rows]
    assert [2.0, 3.0] == np.load(embeddings_path(path))[:, 0].tolist()


def test_another_model_or_label_set_is_refused(tmp_path):
    new_table(tmp_path / "r.csv").close()
    with pytest.raises(TableMismatch, match="made by model m .* this run uses other"):
        Table(tmp_path / "r.csv", "other", EMOTIONS, False).open()
    with pytest.raises(TableMismatch, match="labels"):
        Table(tmp_path / "r.csv", "m", EMOTIONS[:5], False).open()
    meta_path(tmp_path / "r.csv").unlink()
    with pytest.raises(TableMismatch, match="missing or unreadable"):
        Table(tmp_path / "r.csv", "m", EMOTIONS, False).open()
    restarted = Table(tmp_path / "r.csv", "other", EMOTIONS, False)
    assert 0 == restarted.open(restart=True)
    restarted.close()


def test_a_file_that_is_not_a_results_table_is_refused(tmp_path):
    (tmp_path / "r.csv").write_text("name,age\nbob,3\n")
    (tmp_path / "r.run.json").write_text(json.dumps({"model": "m", "labels": list(EMOTIONS)}))
    with pytest.raises(TableMismatch, match="not a results table"):
        Table(tmp_path / "r.csv", "m", EMOTIONS, False).open()


def test_matrix_rejects_a_vector_of_the_wrong_width(tmp_path):
    matrix = Matrix(tmp_path / "e.npy", 4)
    matrix.append(np.ones(4))
    with pytest.raises(ValueError, match="5 values, the matrix 4"):
        matrix.append(np.ones(5))
    matrix.close()
    assert (1, 4) == np.load(tmp_path / "e.npy").shape
