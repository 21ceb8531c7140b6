"""`emotion-bot serve` in-process on 127.0.0.1 (a free port) with the tiny checkpoint.

``api_server(**sections)`` runs ``bot.api.runner.serve`` on its own event loop in a thread and
yields a ``Served`` (its base URL, settings and a ``stop()``); it returns once the server answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass

import pytest

from bot.settings import Secrets, Settings, from_mapping
from tests.conftest import SAMPLES

TOKEN = "test-api-token-0123456789"
VOICE = (SAMPLES / "03a02Wc__telegram_voice.oga").read_bytes()
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Served:
    url: str
    settings: Settings
    stop: object  # () -> None: stop and wait for the server to finish


def api_settings(token: str = "", **sections) -> Settings:
    raw = {"engine": {"model": "tiny", "device": "cpu"}}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    raw.setdefault("api", {}).setdefault("port", 0)
    raw["api"].setdefault("host", "127.0.0.1")
    return from_mapping(raw, secrets=Secrets(emotion_bot_api_token=token))


@contextlib.contextmanager
def serving(settings: Settings, model):
    from bot.api import runner

    state: dict = {}
    ready = threading.Event()

    def on_listening(url: str) -> None:
        state["url"] = url
        ready.set()

    def main() -> None:
        async def body():
            state["loop"] = asyncio.get_running_loop()
            state["stop"] = asyncio.Event()
            await runner.serve(settings, model, stop=state["stop"], on_listening=on_listening)

        try:
            asyncio.run(body())
        except BaseException as exc:  # surfaced to the test below
            state["error"] = exc
            ready.set()

    thread = threading.Thread(target=main, name="api-server", daemon=True)
    thread.start()
    assert ready.wait(60), "serve did not start listening within 60 s"
    if "error" in state:
        raise state["error"]

    def stop() -> None:
        if thread.is_alive():
            state["loop"].call_soon_threadsafe(state["stop"].set)
            thread.join(60)
            assert not thread.is_alive(), "serve did not stop within 60 s"
        if "error" in state:
            raise state["error"]

    try:
        yield Served(state["url"], settings, stop)
    finally:
        stop()


@pytest.fixture(scope="module")
def api(tiny_model):
    """The default server, with a token."""
    with serving(api_settings(TOKEN), tiny_model) as served:
        yield served


@pytest.fixture
def api_server(tiny_model):
    """``api_server(token="", **sections)``: a server of one's own, stopped after the test."""
    with contextlib.ExitStack() as stack:
        def start(token: str = "", **sections) -> Served:
            return stack.enter_context(serving(api_settings(token, **sections), tiny_model))

        yield start
