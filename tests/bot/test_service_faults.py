"""Small faults of the product core: refusals leave one line for the operator (reason, salted user
hash, never the key), and ``/history ²`` is a usage message, not an internal error."""

from __future__ import annotations

import asyncio

import pytest

from bot.history import History
from bot.inference import ModelInfo
from bot.logs import user_ref
from bot.messages import text
from bot.requests import AudioRequest, CommandRequest, Sender
from bot.service import Service
from bot.settings import from_mapping
from engine import Engine, EngineConfig
from tests.conftest import SAMPLES

VOICE = (SAMPLES / "03a02Wc__telegram_voice.oga").read_bytes()
ANA = Sender("telegram:1001", "telegram", "en")
BO = Sender("telegram:1002", "telegram", "en")


class TinyInference:
    """The real tiny engine behind ``bot.inference``'s Protocol; one engine per event loop."""

    busy = ()

    def __init__(self, model) -> None:
        self._model = model
        self.model = ModelInfo("tiny", model.labels, random_weights=True)

    async def infer(self, waveform, granularity):
        engine = Engine(self._model, EngineConfig())
        await engine.start()
        try:
            return await engine.infer(waveform, granularity=granularity, embeddings=True)
        finally:
            await engine.close()

    def stats(self) -> dict:
        return {}

    async def close(self) -> None:
        pass


@pytest.fixture
def service(tmp_path, tiny_model):
    settings = from_mapping({"history": {"path": str(tmp_path / "h.db")},
                             "limits": {"requests_per_minute": 1, "burst": 1,
                                        "daily_audio_seconds": 0}})
    history = History.from_settings(settings)
    yield Service(settings, history, TinyInference(tiny_model))
    history.close()


async def _fetch(max_bytes: int) -> bytes:
    return VOICE


def request(sender=ANA, **kw) -> AudioRequest:
    return AudioRequest(sender=sender, ref=f"r{id(kw)}", fetch=_fetch,
                        chat=f"telegram:{sender.key.split(':')[1]}", **kw)


def refusal_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "bot.service" and r.levelname == "INFO"
            and r.getMessage().startswith("refused")]


def test_each_refusal_leaves_one_line_naming_the_reason_and_the_user_by_hash(service, caplog):
    with caplog.at_level("INFO", logger="bot.service"):
        forwarded = asyncio.run(service.analyze(request(forwarded=True, owner=BO.key)))
        not_owner = asyncio.run(service.analyze(request(owner=BO.key)))
        assert asyncio.run(service.analyze(request())).ok
        rate = asyncio.run(service.analyze(request()))
    assert text("privacy.forwarded", "en") == forwarded.headline
    assert text("privacy.not_owner", "en") == not_owner.headline
    assert rate.headline in {text("limits.rate", "en", seconds=n) for n in range(1, 61)}
    ref = user_ref(ANA.key)
    assert [f"refused an analysis for {ref}: forwarded",
            f"refused an analysis for {ref}: not_owner",
            f"refused an analysis for {ref}: rate_limit"] == refusal_lines(caplog)
    assert ANA.key not in caplog.text and "1001" not in caplog.text


def test_a_refusal_of_the_file_itself_names_the_error(service, caplog):
    async def empty(max_bytes):
        return b""

    with caplog.at_level("INFO", logger="bot.service"):
        reply = asyncio.run(service.analyze(AudioRequest(sender=BO, ref="e", fetch=empty,
                                                         chat="telegram:1002")))
    assert text("audio.empty", "en") == reply.headline
    assert [f"refused an analysis for {user_ref(BO.key)}: EmptyFile"] == refusal_lines(caplog)


@pytest.mark.parametrize("arg", ["²", "٣", "１０"])
def test_history_with_a_non_ascii_digit_is_a_usage_message(service, arg):
    reply = asyncio.run(service.command(CommandRequest(ANA, "telegram:1001", "history", (arg,))))
    assert (False, text("cmd.history.usage", "en")) == (reply.ok, reply.headline)


def test_history_with_an_ascii_number_still_works(service):
    reply = asyncio.run(service.command(CommandRequest(ANA, "telegram:1001", "history", ("5",))))
    assert reply.ok


def test_forget_in_chat_says_when_the_erasure_is_still_pending(service, monkeypatch):
    import sqlite3

    monkeypatch.setattr("bot.history_erase.ERASE_WAIT_S", 0.2)
    service.history.set_settings(ANA.key, language="en")
    reader = sqlite3.connect(service.history.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM user_settings").fetchone()
    try:
        reply = asyncio.run(service.command(CommandRequest(ANA, "telegram:1001", "forget",
                                                           ("confirm",))))
    finally:
        reader.close()
    assert ("Deleted: 0 analyses and everything else stored about you. The database is being "
            "read right now (a backup?), so the deleted data is wiped from the file as soon as "
            "that finishes.") == reply.headline
    reply = asyncio.run(service.command(CommandRequest(ANA, "telegram:1001", "forget",
                                                       ("confirm",))))
    assert text("forget.done", "en", records=0) == reply.headline
