"""`emotion-bot serve` and `analyze` as real processes: the curl answer equals the record analyze
writes, SIGTERM drains and exits 0, configuration problems exit 2, analyze runs remotely."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from bot import cli
from tests.api.conftest import AUTH, TOKEN
from tests.conftest import SAMPLES

NOTE = SAMPLES / "03a02Wc__telegram_voice.oga"
SERVING = re.compile(r"serving on (http://127\.0\.0\.1:\d+)")


def env(model: Path | str, tmp_path: Path, **extra: str) -> dict:
    out = {**os.environ, "EMOTION_BOT__ENGINE__MODEL": str(model),
           "EMOTION_BOT__ENGINE__DEVICE": "cpu",
           "EMOTION_BOT__HISTORY__PATH": str(tmp_path / "history.db"), **extra}
    for name in ("EMOTION_BOT_CONFIG", "EMOTION_BOT_API_TOKEN", "EMOTION_BOT_ENGINE_TOKEN"):
        if name not in extra:
            out.pop(name, None)
    return out


class Serve:
    """``python -m bot serve`` with its stderr read line by line on a thread."""

    def __init__(self, environ: dict, cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=cwd, env=environ,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: re.Pattern, timeout_s: float = 120.0) -> re.Match:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no line matching {pattern.pattern}; log:\n{''.join(self.log)}"
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            assert line is not None, f"serve exited; log:\n{''.join(self.log)}"
            self.log.append(line)
            if match := pattern.search(line):
                return match

    def finish(self, timeout_s: float = 60.0) -> tuple[int, str]:
        rc = self.proc.wait(timeout_s)
        while (line := self.lines.get(timeout=10)) is not None:
            self.log.append(line)
        return rc, "".join(self.log)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def analyze(tmp_path: Path, environ: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", "analyze", *args, "--json", "--out",
                           str(tmp_path / "out")], cwd=tmp_path, env=environ, capture_output=True,
                          text=True, timeout=300)


def test_serve_answers_curl_like_analyze_serves_analyze_remotely_and_exits_0_on_sigterm(
        tmp_path, tiny_model_dir):
    """One `serve` process (starting one costs ~20 s here): the curl answer equals the record
    `analyze` writes for the file; `analyze` through `backend = "remote"` (with no model weights
    on its side) gives the in-process results; a wrong token exits 2; SIGTERM exits 0."""
    server = Serve(env(tiny_model_dir, tmp_path, EMOTION_BOT__API__PORT="0",
                       EMOTION_BOT_API_TOKEN=TOKEN), tmp_path)
    inputs = [str(NOTE), str(SAMPLES / "08a01Wc__iphone_voice_memo.m4a")]
    for name in ("local", "remote"):
        (tmp_path / name).mkdir()
    try:
        url = server.wait_for(SERVING).group(1)
        # what `curl --data-binary @note.ogg -H "Authorization: Bearer ..." URL/v1/analyze` sends
        served = httpx.post(f"{url}/v1/analyze", content=NOTE.read_bytes(), timeout=60,
                            params={"granularity": "frame"},
                            headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"})
        local = analyze(tmp_path / "local", env(tiny_model_dir, tmp_path), *inputs,
                        "--granularity", "frame")
        remote = env(tmp_path / "no-such-model", tmp_path, EMOTION_BOT__ENGINE__BACKEND="remote",
                     EMOTION_BOT__ENGINE__URL=url, EMOTION_BOT_ENGINE_TOKEN=TOKEN)
        through = analyze(tmp_path / "remote", remote, *inputs, "--granularity", "frame")
        wrong = analyze(tmp_path / "remote", {**remote, "EMOTION_BOT_ENGINE_TOKEN": "nope"},
                        str(NOTE))
        server.proc.send_signal(signal.SIGTERM)
        rc, log = server.finish()
    finally:
        server.kill()
    assert 200 == served.status_code, served.text
    served = served.json()
    assert 0 == local.returncode, local.stderr
    written = json.loads((Path(json.loads(local.stdout.splitlines()[0])["output_dir"])
                          / "result.json").read_text())
    assert written["scores"].keys() == served["scores"].keys()
    for label, score in written["scores"].items():
        assert abs(score - served["scores"][label]) <= 1e-5
    same = ("emotion", "granularity", "duration_s", "model", "notes", "warning", "frames")
    assert {k: written[k] for k in same} == {k: served[k] for k in same}
    assert abs(written["confidence"] - served["confidence"]) <= 1e-5
    assert len(written["timeline"]["times_s"]) == len(served["timeline"]["times_s"])

    assert 0 == through.returncode, through.stderr
    for a, b in zip(map(json.loads, through.stdout.splitlines()),
                    map(json.loads, local.stdout.splitlines()), strict=True):
        assert a["model"] == b["model"] == str(tiny_model_dir)
        assert max(abs(a["scores"][k] - b["scores"][k]) for k in a["scores"]) <= 1e-6
        assert len(a["timeline"]["probabilities"]) == len(b["timeline"]["probabilities"])
    assert 2 == wrong.returncode and "EMOTION_BOT_ENGINE_TOKEN" in wrong.stderr

    assert 0 == rc, log
    assert "stopped" in log and "Traceback" not in log and TOKEN not in log


def test_analyze_exits_2_naming_the_url_when_the_service_is_down(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = env("unused", tmp_path, EMOTION_BOT__ENGINE__BACKEND="remote",
               EMOTION_BOT__ENGINE__URL=f"http://127.0.0.1:{port}")
    proc = analyze(tmp_path, down, str(NOTE))
    assert 2 == proc.returncode
    assert f"http://127.0.0.1:{port}" in proc.stderr and "[engine] url" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("extra,message", [
    ({"EMOTION_BOT__API__HOST": "0.0.0.0"}, "set EMOTION_BOT_API_TOKEN"),
    ({"EMOTION_BOT__ENGINE__BACKEND": "remote"}, "needs engine.url"),
    ({"EMOTION_BOT__ENGINE__BACKEND": "remote",
      "EMOTION_BOT__ENGINE__URL": "http://192.168.1.5:8000"}, "use https://"),
])
def test_configuration_problems_exit_2(tmp_path, extra, message, capsys, monkeypatch):
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    for name in ("EMOTION_BOT_CONFIG", "EMOTION_BOT_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert 2 == cli.main(["serve"])
    err = capsys.readouterr().err
    assert "configuration error" in err and message in err


def test_a_taken_port_exits_2(tmp_path, capsys, monkeypatch):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        monkeypatch.setenv("EMOTION_BOT__API__PORT", str(taken.getsockname()[1]))
        monkeypatch.setenv("EMOTION_BOT__ENGINE__MODEL", str(tmp_path / "never-loaded"))
        monkeypatch.delenv("EMOTION_BOT_CONFIG", raising=False)
        monkeypatch.chdir(tmp_path)
        assert 2 == cli.main(["serve"])
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_without_the_api_extra_serve_exits_2_saying_what_to_install(monkeypatch, capsys, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "uvicorn" else real(name, *a))
    monkeypatch.delenv("EMOTION_BOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert 2 == cli.main(["serve"])
    assert "pip install 'emotion-bot[api]'" in capsys.readouterr().err


def test_serve_has_help():
    assert "serve" in cli.build_parser().format_help()


def test_the_listener_says_tcp_so_asyncio_turns_nagle_off():
    """With proto 0 (socket.create_server) asyncio skips TCP_NODELAY and every keep-alive answer
    waited ~40 ms for a delayed ACK (measured: /v1/info 47 ms -> 1.4 ms)."""
    import socket

    from bot.api.runner import listen

    with listen("127.0.0.1", 0) as sock:
        assert (socket.SOCK_STREAM, socket.IPPROTO_TCP) == (sock.type, sock.proto)
