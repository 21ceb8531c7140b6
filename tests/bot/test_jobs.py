"""The one job lifecycle (``bot.jobs.Jobs``) with a real journal and a stand-in Service."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

import pytest

from bot.core import DELIVERED, NOTICES, Delivered, Job, RetryLater, Undeliverable
from bot.history import History
from bot.jobs import Jobs
from bot.messages import NOTICE_KEYS
from bot.messages import CATALOGUE
from bot.reply import Reply
from bot.requests import AudioRequest, Sender
from bot.settings import DeliverySettings, from_mapping

ANA = Sender("telegram:1", "telegram", "en")
QUICK = DeliverySettings(first_wait_s=0.0)


class StandIn:
    def __init__(self, history) -> None:
        self.history, self.analysed = history, []
        self.settings = from_mapping({})

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

    async def deliver(reply, already):
        sent.append(reply.headline)
        return outcomes.pop(0) if outcomes else DELIVERED

    return Job(AudioRequest(ANA, "telegram:1", ref, fetch), {"file_id": ref}, deliver)


def statuses(history) -> list[tuple[str, str]]:
    return [(r["ref"], r["status"]) for r in history.db.query("SELECT ref, status FROM jobs")]


def test_a_job_is_journaled_run_delivered_and_finished_and_a_redelivery_ignored(world):
    service, sent = StandIn(world), []
    core = Jobs(service, QUICK)

    async def main():
        first = await core.submit(job("t:1", [], sent))
        again = await core.submit(job("t:1", [], sent))
        await core.drain(10)
        return first, again, await core.idle()

    assert (True, False, True) == asyncio.run(main())
    assert (["t:1"], ["result for t:1"]) == (service.analysed, sent)
    assert [("t:1", "done")] == statuses(world)


def test_a_wait_the_platform_asks_for_survives_a_restart_and_no_part_is_sent_twice(world):
    service, calls = StandIn(world), []

    def deliver_job(ref, outcomes):
        async def fetch(max_bytes):
            return b""

        async def deliver(reply, already):
            calls.append((already, time.time()))
            return outcomes.pop(0)

        return Job(AudioRequest(ANA, "telegram:1", ref, fetch), {"file_id": ref}, deliver)

    async def first_process():  # part 1 of 3 went out, then Telegram said "retry after 2 s"
        core = Jobs(service, QUICK)
        await core.submit(deliver_job("t:2", [RetryLater("flood control", 2.0, sent=1)]))
        for _ in range(1000):  # a bounded poll until the job is waiting
            if core._waiting:
                break
            await asyncio.sleep(0.01)
        assert core._waiting
        await core.drain(10)  # a shutdown does not wait out the platform's wait

    asyncio.run(first_process())
    row = world.pending_jobs("telegram")[0]
    assert ("running", 1, 1) == (row["status"], row["sent_parts"], row["attempts"])
    next_at = datetime.strptime(row["next_attempt_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc).timestamp()

    async def second_process():
        core = Jobs(service, QUICK)
        count = await core.resume("telegram", lambda r: _job(deliver_job(r["ref"], [
            Delivered(3)])))
        await core.drain(10)
        return count

    assert 1 == asyncio.run(second_process())
    assert [0, 1] == [already for already, _ in calls]  # the restart went on after part 1
    assert ["t:2"] == service.analysed  # the kept answer, not a second analysis and record
    assert calls[1][1] >= next_at  # and not before the wait Telegram asked for was over
    assert [("t:2", "done")] == statuses(world)


async def _job(job):
    return job


def test_an_answer_that_cannot_be_delivered_in_max_attempts_is_failed_and_the_person_told(
        world):
    service, sent = StandIn(world), []
    core = Jobs(service, DeliverySettings(first_wait_s=0.0, max_attempts=3))

    async def main():
        await core.submit(job("t:5", [RetryLater("flood control", 0.0)] * 3, sent))
        await core.drain(10)

    asyncio.run(main())
    assert [("t:5", "failed")] == statuses(world)
    assert ["result for t:5"] * 3 + [
        "I analysed your recording but couldn't deliver the answer: the chat service kept "
        "refusing my messages for too long. Please send it again."] == sent


def test_a_job_whose_analysis_never_finished_max_runs_times_is_failed_not_run_again(world):
    service, sent = StandIn(world), []
    job_id = world.add_job("telegram", "t:6", ANA.key, "telegram:1", {})
    for _ in range(3):  # three processes died during its analysis
        world.start_run(job_id)

    async def run_and_drain():
        core = Jobs(service, QUICK)
        count = await core.resume("telegram", lambda r: _job(job("t:6", [], sent)))
        await core.drain(10)
        return count

    assert 1 == asyncio.run(run_and_drain())
    assert [] == service.analysed
    assert [("t:6", "failed")] == statuses(world)
    assert ["I couldn't analyse this recording: it failed 3 times on our side. The operator has "
            "been told; please try a different recording."] == sent


def test_a_refusal_for_good_closes_the_job_and_an_unrevivable_one_is_failed(world):
    service, sent = StandIn(world), []
    core = Jobs(service, QUICK)

    async def main():
        await core.submit(job("t:3", [Undeliverable("Forbidden")], sent))
        await core.drain(10)
        world.add_job("telegram", "t:4", ANA.key, "telegram:1", {})

        async def revive(row):
            return None

        return await core.resume("telegram", revive)

    assert 0 == asyncio.run(main())
    assert [("t:3", "failed"), ("t:4", "failed")] == statuses(world)
    assert ["result for t:3"] == sent


def test_every_notice_has_a_message_in_the_catalogue():
    assert set(NOTICES) == set(NOTICE_KEYS)
    assert [] == [key for key in NOTICE_KEYS.values() if key not in CATALOGUE]


def test_a_failing_command_is_an_apology_not_a_traceback(world):
    class Broken(StandIn):
        async def command(self, req):
            raise RuntimeError("bug")

    from bot.requests import CommandRequest

    reply = asyncio.run(Jobs(Broken(world), QUICK).command(CommandRequest(ANA, "telegram:1", "stats")))
    assert (False, "Something went wrong on our side while analysing this. Please try again "
            "later.") == (reply.ok, reply.headline)


def test_a_kept_reply_comes_back_as_it_was():
    from bot import reply_codec
    from bot.reply import Aside, Attachment, Button

    reply = Reply(("a note", "另一个"), mono="▇▇ happy", headline="😊 happy (91%)",
                  attachments=(Attachment("e.npy", b"\x93NUMPY\x00\x01", "application/octet-stream",
                                          "embedding"),
                               Attachment("t.png", b"\x89PNG", "image/png", "chart")),
                  buttons=(Button("Forget", "forget confirm"),), private=True, ok=True,
                  aside=Aside((Attachment("f.npy", b"\x93NUMPY", "application/octet-stream",
                                          "embedding"),), "Your files", "sent", "missed"))
    assert reply == reply_codec.load(reply_codec.dump(reply))


def test_analyses_beyond_the_memory_budget_wait_their_turn(world):
    """Three 4 MB notes with a 10 MB budget (each also holds its decoded audio): never more than
    what fits runs at once; the rest wait as journaled jobs and then run."""

    class Slow(StandIn):
        def __init__(self, history):
            super().__init__(history)
            self.settings = from_mapping({"limits": {"in_flight_mb": 10.0},
                                          "audio": {"max_seconds": 10.0}})
            self.now, self.peak, self.release = 0, 0, asyncio.Event()

        async def analyze(self, req):
            self.now += 1
            self.peak = max(self.peak, self.now)
            await self.release.wait()
            self.now -= 1
            return await super().analyze(req)

    service, sent = Slow(world), []
    core = Jobs(service, QUICK)

    def big(ref):
        base = job(ref, [], sent)
        req = AudioRequest(ANA, "telegram:1", ref, base.request.fetch,
                           declared_size=4 * 1024 * 1024, declared_duration_s=5.0)
        return Job(req, base.payload, base.deliver)

    async def main():
        for n in range(3):
            assert await core.submit(big(f"t:{n}"))
        for _ in range(500):  # a bounded poll until what fits has started
            if service.now == 2:
                break
            await asyncio.sleep(0.01)
        running, waiting = service.now, [r["status"] for r in world.pending_jobs("telegram")]
        service.release.set()
        await core.drain(10)
        return running, waiting

    running, waiting = asyncio.run(main())
    assert 2 == running == service.peak  # 2 x (4 MB + 5 s decoded) fit in 10 MB, 3 do not
    assert 3 == len(waiting)  # the third waits as a journaled job, holding no audio
    assert 3 == len(sent)
