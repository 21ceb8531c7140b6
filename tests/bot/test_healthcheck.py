"""`emotion-bot healthcheck` against the real health server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

from bot import cli, healthcheck
from bot import health as health_mod
from bot.healthcheck import MainCommand, parse_command
from bot.settings import Settings, from_mapping
from tests.conftest import free_port


@pytest.fixture
def health_server():
    """The real ``bot.health`` server on 127.0.0.1 in a thread with its own loop: yields
    ``(state, port)``."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    state = health_mod.Health()
    server = asyncio.run_coroutine_threadsafe(
        health_mod.serve(state, "127.0.0.1", 0), loop).result(timeout=10)
    try:
        yield state, server.sockets[0].getsockname()[1]
    finally:
        async def close():
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()




def run_cli(monkeypatch, capsys, port: int, *argv: str, host: str = "127.0.0.1"):
    monkeypatch.delenv("EMOTION_BOT_CONFIG", raising=False)
    monkeypatch.setenv("EMOTION_BOT__SERVER__HOST", host)
    monkeypatch.setenv("EMOTION_BOT__SERVER__PORT", str(port))
    code = cli.main(["healthcheck", *argv])
    return code, capsys.readouterr().out.strip()


@pytest.mark.parametrize("argv, expected", [
    (["/usr/bin/tini", "--", "emotion-bot", "run"], MainCommand("run")),
    (["tini", "--", "/usr/local/bin/emotion-bot", "--config", "/etc/e.toml", "run"],
     MainCommand("run", "/etc/e.toml")),
    (["emotion-bot", "-v", "run", "--config=/data/c.toml"], MainCommand("run", "/data/c.toml")),
    (["/sbin/docker-init", "--", "tini", "--", "emotion-bot", "analyze", "--out", "o", "a.wav"],
     MainCommand("analyze")),
    (["/usr/local/bin/python", "-m", "bot", "serve"], MainCommand("serve")),
    (["sleep", "infinity"], MainCommand("")),
])
def test_the_main_command_is_read_from_its_command_line(argv, expected):
    assert expected == parse_command(argv)


def test_pid_1s_command_line_is_nul_separated(tmp_path):
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"/usr/bin/tini\0--\0emotion-bot\0run\0")
    assert MainCommand("run") == healthcheck.main_command(cmdline)
    assert MainCommand("") == healthcheck.main_command(tmp_path / "absent")


def test_run_is_healthy_only_when_readyz_answers_200(health_server, monkeypatch, capsys):
    state, port = health_server
    code, out = run_cli(monkeypatch, capsys, port, "--command", "run")
    assert 1 == code  # no checks registered yet: starting
    assert f"unhealthy: http://127.0.0.1:{port}/readyz answered 503" == out

    loaded = [False]
    state.checks["model"] = lambda: loaded[0]
    state.checks["database"] = lambda: True
    code, out = run_cli(monkeypatch, capsys, port, "--command", "run")
    assert (1, f"unhealthy: http://127.0.0.1:{port}/readyz answered 503: model: not ready; "
               "database: ok") == (code, out)

    loaded[0] = True
    code, out = run_cli(monkeypatch, capsys, port, "--command", "run")
    assert (0, f"healthy: http://127.0.0.1:{port}/readyz answered 200: model: ok; "
               "database: ok") == (code, out)

    state.draining = True
    code, out = run_cli(monkeypatch, capsys, port, "--command", "run")
    assert 1 == code and "draining: shutting down" in out


def test_a_wildcard_listen_address_is_probed_on_loopback(health_server, monkeypatch, capsys):
    state, port = health_server
    state.checks["model"] = lambda: True
    code, out = run_cli(monkeypatch, capsys, port, "--command", "run", host="0.0.0.0")
    assert (0, f"healthy: http://127.0.0.1:{port}/readyz answered 200: model: ok") == (code, out)


def test_nothing_listening_is_unhealthy_with_the_reason(monkeypatch, capsys):
    port = free_port()
    code, out = run_cli(monkeypatch, capsys, port, "--command", "run", "--timeout", "2")
    assert (1, f"unhealthy: http://127.0.0.1:{port}/readyz does not answer "
               "(Connection refused)") == (code, out)


def test_the_port_comes_from_the_main_process_config(health_server, tmp_path, monkeypatch, capsys):
    state, port = health_server
    state.checks["model"] = lambda: True
    config = tmp_path / "bot.toml"
    config.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\n')
    monkeypatch.setattr(healthcheck, "main_command", lambda: MainCommand("run", str(config)))
    monkeypatch.delenv("EMOTION_BOT__SERVER__PORT", raising=False)
    monkeypatch.delenv("EMOTION_BOT__SERVER__HOST", raising=False)
    monkeypatch.delenv("EMOTION_BOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert 0 == cli.main(["healthcheck"])  # --command auto
    assert f"healthy: http://127.0.0.1:{port}/readyz answered 200: model: ok" == \
        capsys.readouterr().out.strip()


def test_one_off_commands_are_healthy_without_probing(monkeypatch, capsys):
    code, out = run_cli(monkeypatch, capsys, free_port(), "--command", "analyze")
    assert (0, "healthy: `analyze` is a one-off command with no listener to probe") == (code, out)


def test_a_disabled_health_server_is_not_probed():
    settings = from_mapping({"server": {"enabled": False}})
    assert (True, "healthy: not probed, the health server is off ([server] enabled = false)") \
        == healthcheck.probe("run", settings, 1.0)


def test_serve_probes_the_api_listener_when_settings_have_one():
    api = SimpleNamespace(server=Settings().server, api=SimpleNamespace(host="0.0.0.0", port=8100))
    assert ("127.0.0.1", 8100) == healthcheck.target("serve", api)
    assert ("127.0.0.1", 8000) == healthcheck.target("serve", Settings())  # [api]'s defaults
