"""Several writers at once, threads and processes, and a writer killed mid-transaction."""

import json
import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from bot.history import History
from engine.labels import EMOTIONS
from engine.types import ClipResult

ROOT = Path(__file__).resolve().parents[2]


def clip(i, dim=16):
    scores = np.full(len(EMOTIONS), 0.05, dtype=np.float32)
    scores[i % len(EMOTIONS)] = 0.6
    return ClipResult(EMOTIONS, scores, np.full(dim, i, dtype=np.float32))


def write_many(path, user, n):
    h = History(path)
    for i in range(n):
        h.record(user, clip(i), duration_s=1.0, granularity="utterance", model="m", chat="g")
    h.close()


def test_threads_write_concurrently(tmp_path):
    h = History(tmp_path / "h.db")
    errors = []

    def work(k):
        try:
            for i in range(20):
                h.record(f"telegram:{k}", clip(i), duration_s=1.0, granularity="utterance",
                         model="m", chat="g")
                h.history(f"telegram:{k}", 3)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [] == errors
    assert [20] * 8 == [len(h.history(f"telegram:{k}", 100)) for k in range(8)]
    assert 160 == len({r["id"] for r in h.db.query("SELECT id FROM records")})


def test_processes_write_concurrently_and_migrate_once(tmp_path):
    path = tmp_path / "h.db"  # no database yet: all four race to create the schema
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=write_many, args=(path, f"cli:p{k}", 15)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [0, 0, 0, 0] == [p.exitcode for p in procs]
    h = History(path)
    assert [15] * 4 == [len(h.history(f"cli:p{k}", 100)) for k in range(4)]
    assert ["0001_initial", "0002_job_payload", "0003_float16_embeddings",
            "0004_job_delivery",
            "0005_record_speaker"] == h.schema_version()


WRITER = """
import sys, numpy as np
from bot.history import History
from engine.types import ClipResult
from engine.labels import EMOTIONS
h = History(sys.argv[1])
scores = np.full(9, 0.05, dtype=np.float32); scores[6] = 0.6
i = 0
while True:
    emb = np.full(262144, i, dtype=np.float32)  # 1 MB per record: the kill lands mid-write
    h.record("cli:crash", ClipResult(EMOTIONS, scores, emb), duration_s=1.0,
             granularity="utterance", model="m")
    i += 1
"""


def test_a_process_killed_mid_write_leaves_the_database_consistent(tmp_path):
    path = tmp_path / "h.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                with sqlite3.connect(path, timeout=5) as conn:
                    if conn.execute("SELECT count(*) FROM records").fetchone()[0] >= 5:
                        break
            except sqlite3.OperationalError:  # schema not there yet
                continue
        time.sleep(0.03)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    h = History(path)
    assert [("ok",)] == h.db.conn.execute("PRAGMA integrity_check").fetchall()
    rows = list(h.db.query("SELECT id, scores, embedding, embedding_dim FROM records"))
    assert len(rows) >= 5
    for r in rows:  # every record is whole: its embedding has all its bytes, its scores parse
        assert (262144 * 4, 9) == (len(r["embedding"]), len(json.loads(r["scores"])))
        values = np.frombuffer(r["embedding"], dtype=np.float32)
        assert values.min() == values.max()
    h.record("cli:crash", clip(1), duration_s=1.0, granularity="utterance", model="m")
    assert len(rows) + 1 == len(h.history("cli:crash", 1000))
