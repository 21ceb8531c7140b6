"""Writable-path checks before the model loads, on real folders (and as a real other uid)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bot import preflight
from bot.settings import from_mapping

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534


def settings_for(tmp_path: Path, db: Path, **engine):
    engine = {"model": str(tmp_path / "model-dir"), **engine}
    (tmp_path / "model-dir").mkdir(exist_ok=True)
    return from_mapping({"history": {"path": str(db)}, "engine": engine})


def test_writable_paths_pass_and_missing_folders_are_created(tmp_path):
    settings = settings_for(tmp_path, tmp_path / "state" / "bot.db")
    preflight.check(settings, outputs=[tmp_path / "outs" / "today"])
    assert (tmp_path / "state").is_dir() and (tmp_path / "outs" / "today").is_dir()
    assert [] == sorted(p.name for p in (tmp_path / "state").iterdir())  # the probe is gone


def test_every_configured_folder_is_a_target(tmp_path):
    settings = from_mapping({"history": {"path": str(tmp_path / "db" / "bot.db")},
                             "engine": {"model": "iic/emotion2vec_plus_large",
                                        "cache_dir": str(tmp_path / "models")}})
    assert [
        (tmp_path / "db", "database folder ([history] path = " + str(tmp_path / "db/bot.db") + ")"),
        (tmp_path / "models", "model cache ([engine] cache_dir)"),
        (tmp_path / "out", "output folder (--out)"),
    ] == [(t.path, t.role) for t in preflight.targets(settings, [tmp_path / "out"], environ={})]


def test_a_local_model_or_a_cache_that_holds_the_model_needs_no_write(tmp_path):
    local = settings_for(tmp_path, tmp_path / "bot.db")
    assert preflight.model_cache(local, {}) is None
    cache = tmp_path / "models"
    hub = from_mapping({"engine": {"model": "iic/emotion2vec_plus_large", "cache_dir": str(cache)}})
    assert cache == preflight.model_cache(hub, {})
    (cache / "iic" / "emotion2vec_plus_large").mkdir(parents=True)
    assert preflight.model_cache(hub, {}) is None  # already downloaded: may be read-only


def test_the_hub_default_cache_follows_the_environment():
    ms = from_mapping({})
    hf = from_mapping({"engine": {"hub": "huggingface"}})
    assert Path("/models/hub") == preflight.model_cache(ms, {"MODELSCOPE_CACHE": "/models"})
    assert Path("/home/a/.cache/modelscope/hub") == preflight.model_cache(ms, {"HOME": "/home/a"})
    assert Path("/models/hub") == preflight.model_cache(hf, {"HF_HOME": "/models"})


def test_a_database_folder_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "data").write_text("a file, not a folder")
    with pytest.raises(preflight.UnwritablePath) as caught:
        preflight.check(settings_for(tmp_path, tmp_path / "data" / "state" / "bot.db"))
    message = str(caught.value)
    assert (f"  - {tmp_path}/data/state: database folder ([history] path = "
            f"{tmp_path}/data/state/bot.db): cannot create it (Not a directory)\n") in message
    assert f"runs as uid {os.geteuid()}, gid {os.getegid()}" in message
    with pytest.raises(preflight.UnwritablePath) as caught:
        preflight.check(settings_for(tmp_path, tmp_path / "data" / "bot.db"))
    assert (f"  - {tmp_path}/data: database folder ([history] path = {tmp_path}/data/bot.db): "
            "exists but is not a folder\n") in str(caught.value)


def test_the_message_names_path_uid_owner_and_both_fixes(tmp_path):
    target = preflight.Target(Path("/data"), "database folder ([history] path = /data/x.db)")
    problem = preflight.Problem(target, "cannot create files in it (Permission denied)",
                                tmp_path)
    os.chmod(tmp_path, 0o755)
    owner = os.stat(tmp_path).st_uid
    assert (
        "cannot write where the configuration says (this process runs as uid 10001, gid 10001):\n"
        "  - /data: database folder ([history] path = /data/x.db): cannot create files in it "
        f"(Permission denied) ({tmp_path} belongs to uid {owner}, mode 755)\n"
        "Fix it in one of two ways:\n"
        "  - give the folder to uid 10001 on the host: sudo chown -R 10001:10001 <host folder "
        "mounted at /data> (for example: sudo chown -R 10001:10001 ./data)\n"
        "  - or use a named volume instead of a bind mount (docker run -v emotion-data:/data "
        "...); Docker creates it owned by the image's user"
    ) == preflight.describe([problem], 10001, 10001)


@pytest.fixture
def foreign_folder():
    """A folder this test's unprivileged process cannot write: root-owned 0755 when the suite
    runs as root (the process then runs as nobody), else 0555. Yields ``(folder, uid)``."""
    base = Path(tempfile.mkdtemp(prefix="emotion-bot-preflight-"))
    try:
        os.chmod(base, 0o755)
        (base / "data").mkdir(mode=0o755)
        (base / "models").mkdir(mode=0o777)
        os.chmod(base / "models", 0o777)
        if os.geteuid() == 0:
            yield base, NOBODY
        else:
            os.chmod(base / "data", 0o555)
            yield base, os.geteuid()
    finally:
        os.chmod(base / "data", 0o755)
        shutil.rmtree(base)


def as_uid(uid: int, fn) -> str:
    """``fn()``'s return value, computed in a forked child running as ``uid`` when the suite
    runs as root (the interpreter cannot be exec'd as nobody here), else in this process."""
    if os.geteuid() != 0:
        return fn()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to uid, answer through the pipe, never return into pytest
        code = 0
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.write(write, fn().encode())
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            os.write(write, f"child failed: {exc!r}".encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        answer = fh.read().decode()
    _, status = os.waitpid(pid, 0)
    assert 0 == os.waitstatus_to_exitcode(status), answer
    return answer


def test_a_folder_owned_by_another_uid_names_the_uid_owner_and_fixes(foreign_folder):
    base, uid = foreign_folder
    gid = uid if os.geteuid() == 0 else os.getegid()
    settings = from_mapping({"history": {"path": str(base / "data" / "bot.db")},
                             "engine": {"model": "iic/emotion2vec_plus_large",
                                        "cache_dir": str(base / "models")}})

    def attempt() -> str:
        try:
            preflight.check(settings, outputs=[base / "data" / "outputs"])
        except preflight.UnwritablePath as exc:
            return str(exc)
        return "no problem found"

    message = as_uid(uid, attempt)
    owner = os.stat(base / "data").st_uid
    mode = "755" if os.geteuid() == 0 else "555"
    assert (
        f"cannot write where the configuration says (this process runs as uid {uid}, gid {gid}):\n"
        f"  - {base}/data: database folder ([history] path = {base}/data/bot.db): cannot create "
        f"files in it (Permission denied) ({base}/data belongs to uid {owner}, mode {mode})\n"
        f"  - {base}/data/outputs: output folder (--out): cannot create it (Permission denied) "
        f"({base}/data belongs to uid {owner}, mode {mode})\n"
        "Fix it in one of two ways:\n"
        f"  - give the folder to uid {uid} on the host: sudo chown -R {uid}:{gid} <host folder "
        f"mounted at {base}/data> (for example: sudo chown -R {uid}:{gid} ./data)\n"
        f"  - or use a named volume instead of a bind mount (docker run -v emotion-data:{base}/data "
        "...); Docker creates it owned by the image's user"
    ) == message  # the writable model cache is not listed


def test_run_exits_2_with_the_message_before_the_model_loads(tmp_path):
    """`emotion-bot run` whose model cache cannot be created: the hub is unreachable, so reaching
    the loader would say so; preflight speaks first, with no traceback. (A missing database
    folder is named earlier by bot.history_check.)"""
    (tmp_path / "data").write_text("a file where the data folder should be")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "TELEGRAM_BOT_TOKEN": "123:fake", "EMOTION_BOT__SERVER__ENABLED": "false",
           "EMOTION_BOT__HISTORY__PATH": str(tmp_path / "bot.db"),
           "EMOTION_BOT__ENGINE__CACHE_DIR": str(tmp_path / "data" / "models"),
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert 2 == done.returncode, done.stderr
    assert "Traceback" not in done.stderr and "hub" not in done.stderr
    assert done.stderr.startswith(
        f"emotion-bot: cannot write where the configuration says (this process runs as uid "
        f"{os.geteuid()}, gid {os.getegid()}):\n  - {tmp_path}/data/models: "), done.stderr
    assert "cannot create it (Not a directory)" in done.stderr


def test_a_database_file_another_uid_owns_is_named_even_in_a_writable_folder(foreign_folder):
    base, uid = foreign_folder
    db = base / "models" / "bot.db"  # the models folder is writable for everyone
    db.write_bytes(b"")
    os.chmod(db, 0o644 if os.geteuid() == 0 else 0o444)
    settings = from_mapping({"history": {"path": str(db)},
                             "engine": {"model": str(base / "models")}})

    def attempt() -> str:
        try:
            preflight.check(settings)
        except preflight.UnwritablePath as exc:
            return str(exc).splitlines()[1]
        return "no problem found"

    mode = "644" if os.geteuid() == 0 else "444"
    assert (f"  - {base}/models: database folder ([history] path = {db}): cannot write {db} "
            f"(Permission denied) ({db} belongs to uid {os.stat(db).st_uid}, mode {mode})"
            ) == as_uid(uid, attempt)
