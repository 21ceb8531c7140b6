"""The results table of a corpus run: one CSV row per input, an embeddings matrix beside it.

Kill-safe by construction: the CSV header is written once when the table is made; each result is
one appended line (no field ever holds a newline: paths are escaped), flushed and fsynced. The
matrix ``FILE.embeddings.npy`` is a ``.npy`` whose fixed-size header is rewritten with the real
row count at the end of a run and on resume; rows are appended (and fsynced) before the table line
that names them. A kill therefore leaves at most a partial last line and unreferenced matrix rows,
both repaired on the next open. The table is the source of truth; ``FILE.run.json`` records which
model and labels made it, so a resume with another model is refused.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.labels import EMOTIONS

logger = logging.getLogger(__name__)

COLUMNS = ("path", "size_bytes", "mtime_ns", "status", "emotion", "confidence", *EMOTIONS,
           "duration_s", "notes", "error", "embedding_row")
STATUSES = ("ok", "refused", "failed")
DONE = ("ok", "refused")  # skipped on resume; "failed" is retried
FORMAT = 1
_NPY_HEADER = 128  # bytes; fixed so the row count can be rewritten in place


class TableMismatch(ValueError):
    """The table exists but was made by another model or label set, or is not a results table."""


def embeddings_path(table: Path) -> Path:
    return Path(table).with_suffix(".embeddings.npy")


def meta_path(table: Path) -> Path:
    return Path(table).with_suffix(".run.json")


def path_text(path: str | os.PathLike) -> str:
    """A path as printable UTF-8 text: undecodable bytes as ``\\xff``, control characters as
    ``\\n``-style escapes (so a table line never breaks). Used for the table, JSON and messages."""
    raw = os.fsencode(path)
    text = raw.decode("utf-8", "backslashreplace")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        text = "".join(c.encode("unicode_escape").decode("ascii") if ord(c) < 32 or ord(c) == 127
                       else c for c in text)
    return text


@dataclass(frozen=True)
class Row:
    values: dict  # column -> str

    @property
    def key(self) -> tuple[str, str, str]:
        return self.values["path"], self.values["size_bytes"], self.values["mtime_ns"]


def row_line(values: dict) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([values.get(c, "") for c in COLUMNS])
    return buf.getvalue()


class Matrix:
    """An append-only float32 (N, D) ``.npy`` whose header is fixed up on open and close."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim = Path(path), dim
        self._fh = None
        self.rows = 0

    @classmethod
    def open(cls, path: Path, dim: int | None) -> Matrix | None:
        """The existing matrix (partial rows cut, header fixed), or ``None`` if there is none."""
        path = Path(path)
        if not path.exists():
            return None
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version != (1, 0):
                raise TableMismatch(f"{path} is not an embeddings matrix of this run")
            shape, _, _ = np.lib.format.read_array_header_1_0(fh)
            offset = fh.tell()
        if offset != _NPY_HEADER or len(shape) != 2 or (dim is not None and shape[1] != dim):
            raise TableMismatch(f"{path} is not an embeddings matrix of this run")
        matrix = cls(path, int(shape[1]))
        matrix.rows = (path.stat().st_size - _NPY_HEADER) // (4 * matrix.dim)
        with open(path, "r+b") as fh:
            fh.truncate(_NPY_HEADER + matrix.rows * 4 * matrix.dim)
        matrix.fix_header()
        return matrix

    def append(self, vector: np.ndarray) -> int:
        vector = np.ascontiguousarray(vector, dtype="<f4").reshape(-1)
        if vector.shape[0] != self.dim:
            raise ValueError(f"embedding has {vector.shape[0]} values, the matrix {self.dim}")
        if self._fh is None:
            if not self.path.exists():
                self._write_header(self.path, 0)
            self._fh = open(self.path, "ab")
        self._fh.write(vector.tobytes())
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.rows += 1
        return self.rows - 1

    def fix_header(self) -> None:
        if self._fh is not None:
            self._fh.flush()
        with open(self.path, "r+b") as fh:
            fh.write(_npy_header(self.rows, self.dim))
            fh.flush()
            os.fsync(fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.path.exists():
            self.fix_header()

    def _write_header(self, path: Path, rows: int) -> None:
        with open(path, "wb") as fh:
            fh.write(_npy_header(rows, self.dim))

    def keep(self, rows: list[int]) -> None:
        """Rewrite the matrix with only ``rows`` (in that order), atomically."""
        data = np.load(self.path, mmap_mode="r") if self.rows else np.zeros((0, self.dim))
        tmp = self.path.with_name(self.path.name + ".tmp")
        self._write_header(tmp, len(rows))
        with open(tmp, "ab") as fh:
            for start in range(0, len(rows), 4096):
                fh.write(np.ascontiguousarray(data[rows[start:start + 4096]], dtype="<f4").tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        del data
        os.replace(tmp, self.path)
        self.rows = len(rows)


def _npy_header(rows: int, dim: int) -> bytes:
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
    body = text.encode("latin1").ljust(_NPY_HEADER - 10 - 1) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


class Table:
    """A results table opened for a run: the rows kept from before, and appending new ones."""

    def __init__(self, path: Path, model: str, labels: Iterable[str], embeddings: bool) -> None:
        self.path = Path(path)
        self.model, self.labels = model, tuple(labels)
        self.embeddings = embeddings
        self.rows: dict[str, Row] = {}  # by path text, from before this run
        self.matrix: Matrix | None = None
        self._fh = None
        self._replaced = False  # a row of this run replaces an older one: compact at close

    # --- opening ----------------------------------------------------------------------------

    def open(self, restart: bool = False) -> int:
        """Create or resume the table; returns how many rows were kept from before."""
        if restart:
            for p in (self.path, embeddings_path(self.path), meta_path(self.path)):
                p.unlink(missing_ok=True)
        if self.path.exists() and self.path.stat().st_size > 0:
            self._check_meta()
            self._load()
        else:
            self._write_meta(None)
            _atomic_write(self.path, row_line(dict(zip(COLUMNS, COLUMNS))))
        self._fh = open(self.path, "a", encoding="utf-8", newline="")
        return len(self.rows)

    def _check_meta(self) -> None:
        try:
            meta = json.loads(meta_path(self.path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise TableMismatch(f"{self.path} exists but {meta_path(self.path).name} (which model "
                                "made it) is missing or unreadable: use --restart or another "
                                "--table") from None
        if meta.get("model") != self.model or tuple(meta.get("labels") or ()) != self.labels:
            raise TableMismatch(
                f"{self.path} was made by model {meta.get('model')} with labels "
                f"{','.join(meta.get('labels') or ())}; this run uses {self.model} with labels "
                f"{','.join(self.labels)}: use --restart or another --table")
        self._dim = meta.get("embedding_dim")

    def _write_meta(self, dim: int | None) -> None:
        meta = {"format": FORMAT, "model": self.model, "labels": list(self.labels),
                "embedding_dim": dim, "columns": list(COLUMNS)}
        _atomic_write(meta_path(self.path), json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
        self._dim = dim

    def _load(self) -> None:
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        lines = complete.decode("utf-8", "replace").splitlines()
        if not lines or next(csv.reader([lines[0]])) != list(COLUMNS):
            raise TableMismatch(f"{self.path} is not a results table of this version (its first "
                                "line is not the expected header): use --restart or another --table")
        rows: dict[str, Row] = {}
        for values in csv.reader(lines[1:]):
            if len(values) != len(COLUMNS) or values[3] not in STATUSES:
                continue  # a line a kill cut short
            row = Row(dict(zip(COLUMNS, values)))
            rows.pop(row.values["path"], None)
            rows[row.values["path"]] = row  # the latest row of a path wins
        self.matrix = Matrix.open(embeddings_path(self.path), self._dim)
        self.rows = rows
        self._compact(len(complete) != len(data) or len(lines) - 1 != len(rows))

    def _compact(self, dirty: bool) -> None:
        """Rewrite table and matrix when a kill left a tail, duplicates or unreferenced rows."""
        n = self.matrix.rows if self.matrix else 0
        refs = []
        for row in self.rows.values():
            ref = row.values["embedding_row"]
            if ref and (not ref.isdigit() or int(ref) >= n):
                row.values["embedding_row"] = ""  # its vector never reached the disk
                dirty = True
            elif ref:
                refs.append(int(ref))
        if self.matrix and refs != list(range(n)):
            self.matrix.keep(refs)
            renumber = {old: new for new, old in enumerate(refs)}
            for row in self.rows.values():
                if row.values["embedding_row"]:
                    row.values["embedding_row"] = str(renumber[int(row.values["embedding_row"])])
            dirty = True
        if dirty:
            text = row_line(dict(zip(COLUMNS, COLUMNS)))
            text += "".join(row_line(r.values) for r in self.rows.values())
            _atomic_write(self.path, text)

    # --- the run ----------------------------------------------------------------------------

    def done(self, key: tuple[str, str, str]) -> bool:
        """Whether the input with this (path, size, mtime) is already in the table."""
        row = self.rows.get(key[0])
        if row is None or row.key != key or row.values["status"] not in DONE:
            return False
        return not (self.embeddings and row.values["status"] == "ok"
                    and not row.values["embedding_row"])

    def append(self, values: dict, embedding: np.ndarray | None = None) -> None:
        values = dict(values)
        self._replaced |= values["path"] in self.rows
        if embedding is not None and self.embeddings:
            if self.matrix is None:
                dim = int(np.asarray(embedding).reshape(-1).shape[0])
                self._write_meta(dim)
                self.matrix = Matrix(embeddings_path(self.path), dim)
            values["embedding_row"] = str(self.matrix.append(embedding))
        self._fh.write(row_line(values))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.matrix is not None:
            self.matrix.close()
        if self._replaced:  # the latest row of a path wins; older rows and vectors go
            self._replaced = False
            self._load()


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
