"""User audio never stays on disk: a process killed with ``kill -9`` mid-decode leaves its spool
folder, and the next start removes it (only this program's folders, only stale ones)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import audio, audio_temp

REPO = Path(__file__).resolve().parents[2]
SPEECH = REPO / "tests" / "fixtures" / "bad" / "mp3_content_named.ogg"

CHILD = """
import sys
from bot import audio
from bot.settings import AudioSettings
audio.FFPROBE = sys.argv[1]  # hangs: the decode is in progress when the kill comes
audio.decode(open(sys.argv[2], "rb").read(), AudioSettings(decode_timeout_s=600))
"""


def wait_for(predicate, timeout_s=60.0):
    """Poll ``predicate`` until it is true, for at most ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout_s} s")


def test_kill_9_mid_decode_leaves_the_voice_and_the_next_start_removes_it(tmp_path):
    spool = tmp_path / "tmp"
    spool.mkdir()
    hang = tmp_path / "ffprobe"
    hang.write_text("#!/bin/sh\nexec sleep 600\n")
    hang.chmod(0o755)
    env = {**os.environ, "TMPDIR": str(spool), "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(hang), str(SPEECH)], env=env,
                             cwd=REPO, start_new_session=True)
    try:
        inputs = wait_for(lambda: list(spool.glob("emotion-bot-*/input")))
        [spooled] = inputs
        assert spooled.parent.name.startswith(f"emotion-bot-{child.pid}-")
        wait_for(lambda: spooled.stat().st_size == SPEECH.stat().st_size)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # kill -9, the hanging ffprobe with it
        child.wait(timeout=30)
    assert -signal.SIGKILL == child.returncode
    assert SPEECH.read_bytes() == spooled.read_bytes()  # someone's voice, left behind

    assert [spooled.parent] == audio.remove_stale_temp(str(spool))  # what a start does
    assert [] == list(spool.iterdir())


def test_only_stale_folders_of_this_program_are_removed(tmp_path):
    spool = tmp_path
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    keep, remove = [], []

    def folder(name, mtime=None, contents=("input",)):
        path = spool / name
        path.mkdir()
        for item in contents:
            (path / item).write_bytes(b"voice")
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    now = time.time()
    # its process is gone (made long ago, so it stays stale even if the PID is reused meanwhile)
    remove.append(folder(f"emotion-bot-{dead.pid}-abcd1234", mtime=now - 86400))
    keep.append(folder(f"emotion-bot-{os.getpid()}-abcd1234"))  # ours, in use
    keep.append(folder(f"emotion-bot-{os.getppid()}-abcd1234"))  # a live process's
    # a PID in use, but by a process started after the folder was made: a reused PID
    remove.append(folder(f"emotion-bot-{os.getppid()}-zzzz9999", mtime=now - 10 * 365 * 86400))
    remove.append(folder("emotion-bot-q1w2e3r4", mtime=now - 2 * 3600))  # an old version's
    keep.append(folder("emotion-bot-a1s2d3f4"))  # an old version's, maybe still decoding
    keep.append(folder("emotion-bot-z1x2c3v4", mtime=now - 2 * 3600, contents=("input", "x")))
    keep.append(folder("emotion-bot-cache"))  # not named like ours
    keep.append(folder("other-program-1234-abcd1234"))
    (spool / f"emotion-bot-{dead.pid}-file0000").write_bytes(b"a file, not a folder")
    (spool / f"emotion-bot-{dead.pid}-link0000").symlink_to(keep[0])

    assert sorted(remove) == sorted(audio_temp.remove_stale(str(spool)))
    assert all(p.is_dir() for p in keep)
    assert not any(p.exists() for p in remove)
    assert (spool / f"emotion-bot-{dead.pid}-file0000").is_file()
    assert (spool / f"emotion-bot-{dead.pid}-link0000").is_symlink()


def test_the_first_decode_in_a_process_cleans_up(tmp_path, monkeypatch):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"emotion-bot-{dead.pid}-abcd1234"
    stale.mkdir()
    (stale / "input").write_bytes(b"voice")
    os.utime(stale, (time.time() - 86400,) * 2)
    monkeypatch.setattr(audio, "TEMP_DIR", str(tmp_path))
    monkeypatch.setattr(audio_temp, "_cleaned", set())
    from bot.settings import AudioSettings

    audio.decode(SPEECH.read_bytes(), AudioSettings())
    assert [] == list(tmp_path.iterdir())  # the stale folder, and this decode's own


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_start_time_of_this_process_is_before_now():
    started = audio_temp._start_time(os.getpid())
    assert started is not None and started <= time.time()
