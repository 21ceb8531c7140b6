"""Transport-level behaviour of the Telegram adapter with a small stand-in Service: concurrency,
resilience, the cloud download limit, webhook de-duplication and start-up checks."""

from __future__ import annotations

import asyncio

import pytest

from adapters.telegram import serve
from bot.history import History
from bot.jobs import Jobs
from bot.reply import Reply
from bot.requests import FetchError
from bot.settings import Secrets, from_mapping
from tests.adapters import fake_telegram as fake
from tests.adapters.test_telegram import post
from tests.conftest import free_port


class StandIn:
    """A stand-in Service under the real lifecycle (``bot.jobs.Jobs``, its journal in a real
    History): answers with what it was asked; ``analyze`` waits until two analyses are in
    flight."""

    def __init__(self, history, settings) -> None:
        self.history, self.settings = history, settings
        self.in_flight = 0
        self.both = asyncio.Event()
        self.commands: list[str] = []

    def lang(self, sender):
        return "en"

    def command_list(self, platform, lang):
        return [("help", "how to use it")]

    async def command(self, req):
        self.commands.append(req.command)
        if req.command == "boom":
            raise RuntimeError("a bug in one update")
        return Reply((), headline=f"{req.command} for {req.sender.key}")

    async def analyze(self, req):
        if req.group and not req.explicit:
            return None  # nobody opted in: silence
        if req.declared_size is None:  # like the Service: fetch, and report a FetchError
            try:
                await req.fetch(20 * 1024 * 1024)
            except FetchError as err:
                return Reply((), headline=err.key, ok=False)
        self.in_flight += 1
        if self.in_flight == 2:
            self.both.set()
        try:
            await asyncio.wait_for(self.both.wait(), 5)
            return Reply((), headline=f"analysed {req.ref}")
        except asyncio.TimeoutError:
            return Reply((), headline="alone", ok=False)


@pytest.fixture
def run(tmp_path):
    def run(body, telegram=None, secret="", token=fake.TOKEN):
        return _run(tmp_path, body, telegram, secret, token)

    return run


def _run(tmp_path, body, telegram, secret, token):
    with fake.FakeTelegram() as tg:
        settings = from_mapping(
            {"telegram": {"base_url": tg.base_url, "base_file_url": tg.base_file_url,
                          **(telegram or {})},
             "history": {"path": str(tmp_path / "h.db")}},
            secrets=Secrets(telegram_bot_token=token, telegram_webhook_secret=secret))
        history = History.from_settings(settings)
        service = StandIn(history, settings)
        core = Jobs(service, settings.delivery)

        async def until(predicate, timeout=10.0):
            return await asyncio.to_thread(tg.wait_for, predicate, timeout)

        async def main():
            stop = asyncio.Event()
            task = asyncio.create_task(serve(settings, core, stop))
            try:
                await until(lambda: tg.recorded("setMyCommands") or task.done())
                if task.done():
                    return task.result()
                return await body(tg, until, service)
            finally:
                stop.set()
                await asyncio.wait_for(task, 15)
                await core.drain(15)

        try:
            return asyncio.run(main())
        finally:
            history.close()


def texts(tg, chat_id):
    return [c.params["text"] for c in tg.sent(chat_id)]


def test_updates_are_handled_concurrently(run):
    async def body(tg, until, service):
        for chat_id in (5, 6):
            tg.add_file(f"v{chat_id}", b"ogg")
            tg.push({"message": fake.message(chat_id, chat_id, **fake.voice(f"v{chat_id}", 3))})
        await until(lambda: texts(tg, 5) and texts(tg, 6))
        return texts(tg, 5) + texts(tg, 6)

    answers = run(body)
    assert [a.split(":")[0] for a in answers] == ["analysed telegram", "analysed telegram"]


def test_one_failing_update_gets_an_apology_and_the_bot_keeps_going(run):
    async def body(tg, until, service):
        tg.push(fake.command(5, 5, "/boom"))
        tg.push(fake.command(5, 5, "/help"))
        await until(lambda: len(texts(tg, 5)) == 2)
        return sorted(texts(tg, 5))

    assert run(body) == sorted(["help for telegram:5",
                                "Something went wrong on our side while analysing this. "
                                "Please try again later."])


def test_a_file_over_the_cloud_download_limit_is_reported_not_downloaded(run):
    async def body(tg, until, service):
        tg.add_file("big", b"x", size=25 * 1024 * 1024)
        doc = fake.document("big", 0, "a.ogg", "audio/ogg")
        del doc["document"]["file_size"]  # the message did not say how big it is
        tg.push({"message": fake.message(5, 5, **doc)})
        return await until(lambda: texts(tg, 5)), tg.recorded("download")

    assert run(body) == (["fetch.too_big_for_platform"], [])


def test_a_silent_group_analysis_shows_no_chat_action(run):
    async def body(tg, until, service):
        tg.push({"message": fake.message(-100, 7, **fake.voice("v", 3))})
        tg.push(fake.command(-100, 7, "/help"))
        await until(lambda: texts(tg, -100))
        await asyncio.sleep(0.3)
        return texts(tg, -100), tg.recorded("sendChatAction")

    assert run(body) == (["help for telegram:7"], [])


def test_the_webhook_queues_a_redelivered_update_once(run):
    port = free_port()

    async def body(tg, until, service):
        update = {"update_id": 41, **fake.command(5, 5, "/help")}
        codes = [await asyncio.to_thread(post, port, update, "s") for _ in range(2)]
        await until(lambda: texts(tg, 5))
        await asyncio.sleep(0.3)
        return codes, service.commands

    assert run(body, {"mode": "webhook", "webhook_port": port}, secret="s") == ([200, 200],
                                                                               ["help"])


def test_webhook_mode_needs_a_secret_and_every_mode_a_token(run):
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        run(None, {"mode": "webhook", "webhook_port": free_port()})
    with pytest.raises(ValueError, match="TELEGRAM_BOT_TOKEN"):
        run(None, token="")
