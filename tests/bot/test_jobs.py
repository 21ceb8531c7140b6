"""The one job lifecycle (``bot.jobs.Jobs``) with a real journal and a stand-in Service."""

from __future__ import annotations

import asyncio

import pytest

from bot.core import DELIVERED, NOTICES, Job, RetryLater, Undeliverable
from bot.history import History
from bot.jobs import NOTICE_KEYS, Jobs
from bot.messages import CATALOGUE
from bot.reply import Reply
from bot.requests import AudioRequest, Sender
from bot.settings import from_mapping

ANA = Sender("telegram:1", "telegram", "en")


class StandIn:
    def __init__(self, history) -> None:
        self.history, self.analysed = history, []

    def lang(self, sender):
        return "en"

    async def analyze(self, req):
        self.analysed.append(req.ref)
        return Reply((), headline=f"result for {req.ref}")


@pytest.fixture
def world(tmp_path):
    history = History.from_settings(from_mapping({"history": {"path": str(tmp_path / "h.db")}}))
    yield history
    history.close()


def job(ref: str, outcomes: list, sent: list) -> Job:
    async def fetch(max_bytes):
        return b""

    async def deliver(reply):
        sent.append(reply.headline)
        return outcomes.pop(0) if outcomes else DELIVERED

    return Job(AudioRequest(ANA, "telegram:1", ref, fetch), {"file_id": ref}, deliver)


def statuses(history) -> list[tuple[str, str]]:
    return [(r["ref"], r["status"]) for r in history.db.query("SELECT ref, status FROM jobs")]


def test_a_job_is_journaled_run_delivered_and_finished_and_a_redelivery_ignored(world):
    service, sent = StandIn(world), []
    core = Jobs(service, patience_s=(0.0,))

    async def main():
        first = await core.submit(job("t:1", [], sent))
        again = await core.submit(job("t:1", [], sent))
        await core.drain(10)
        return first, again, await core.idle()

    assert (True, False, True) == asyncio.run(main())
    assert (["t:1"], ["result for t:1"]) == (service.analysed, sent)
    assert [("t:1", "done")] == statuses(world)


def test_a_delivery_the_platform_keeps_refusing_for_now_stays_for_the_next_start(world):
    service, sent = StandIn(world), []
    core = Jobs(service, patience_s=(0.0, 0.0))
    later = [RetryLater("flood control", 0.0)] * 3

    async def first_process():
        await core.submit(job("t:2", later, sent))
        await core.drain(10)

    asyncio.run(first_process())
    assert [("t:2", "running")] == statuses(world)
    assert 3 == len(sent)

    revived = []

    async def revive(row):
        revived.append((row["ref"], row["payload"]))
        return job(row["ref"], [], sent)

    async def second():
        core2 = Jobs(service, patience_s=(0.0,))
        count = await core2.resume("telegram", revive)
        await core2.drain(10)
        return count

    assert 1 == asyncio.run(second())
    assert [("t:2", {"file_id": "t:2"})] == revived
    assert [("t:2", "done")] == statuses(world)
    assert ["result for t:2"] * 4 == sent


def test_a_refusal_for_good_closes_the_job_and_an_unrevivable_one_is_failed(world):
    service, sent = StandIn(world), []
    core = Jobs(service, patience_s=(0.0,))

    async def main():
        await core.submit(job("t:3", [Undeliverable("Forbidden")], sent))
        await core.drain(10)
        world.add_job("telegram", "t:4", ANA.key, "telegram:1", {})

        async def revive(row):
            return None

        return await core.resume("telegram", revive)

    assert 0 == asyncio.run(main())
    assert [("t:3", "done"), ("t:4", "failed")] == statuses(world)
    assert ["result for t:3"] == sent


def test_every_notice_has_a_message_in_the_catalogue():
    assert set(NOTICES) == set(NOTICE_KEYS)
    assert [] == [key for key in NOTICE_KEYS.values() if key not in CATALOGUE]


def test_a_failing_command_is_an_apology_not_a_traceback(world):
    class Broken(StandIn):
        async def command(self, req):
            raise RuntimeError("bug")

    from bot.requests import CommandRequest

    reply = asyncio.run(Jobs(Broken(world)).command(CommandRequest(ANA, "telegram:1", "stats")))
    assert (False, "Something went wrong on our side while analysing this. Please try again "
            "later.") == (reply.ok, reply.headline)
