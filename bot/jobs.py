"""The one job lifecycle for every platform: nothing accepted is lost, nothing answered twice.

    submit:  journal the request (before the platform is acknowledged) -> claim -> analyse
             (``Service.analyze``) -> deliver (the adapter's function) -> finish
    resume:  at start, the jobs an earlier process journaled and never finished, rebuilt by the
             adapter's ``revive`` from their payload, run the same way

Delivery waits as long as the platform asks: a ``RetryLater`` keeps the parts already sent and
the time of the next attempt in the journal, and the running process sleeps until then (the wait
the platform named, else a doubling backoff from ``[delivery] first_wait_s`` up to
``max_wait_s``), so a restart in the middle of a wait keeps both and nothing is sent twice. An
answer not delivered within ``max_age_s`` or ``max_attempts`` is failed, logged for the operator,
and the person told if the platform lets the bot speak. An analysis that was started
``max_runs`` times without finishing (a clip that crashes the process) is failed, not run again.

Journal calls run on threads of their own: in asyncio's default pool they would queue behind
audio decodes (up to ``decode_timeout_s`` each), and a reply already delivered would stay
unfinished (and be sent again after a crash) while they wait. ``Jobs`` is the ``bot.core.Core``
the adapters are handed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from bot import reply_codec, throttle
from bot.core import Backoff, Delivered, Job, NotAccepted, Outcome, RetryLater, Revive, Undeliverable
from bot.history_tables import epoch
from bot.logs import user_ref
from bot.messages import NOTICE_KEYS, language, text
from bot.reply import Reply
from bot.requests import CommandRequest, Sender
from bot.settings import DeliverySettings

logger = logging.getLogger(__name__)

NOTICE_TRIES = 3  # attempts to tell someone their answer could not be delivered
class Jobs:
    """The lifecycle over one ``Service`` (and its history, which holds the journal)."""

    def __init__(self, service, delivery: DeliverySettings | None = None) -> None:
        self.service = service
        self.history = service.history
        self.delivery = delivery or service.settings.delivery
        self.backoff = Backoff(self.delivery.first_wait_s, self.delivery.max_wait_s)
        self.journal_fault: str | None = None  # why the journal cannot be written, while so
        self.budget = throttle.Budget(int(service.settings.limits.in_flight_mb * throttle.MB))
        self.turns = throttle.ChatTurns()
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="journal")
        self._tasks: set[asyncio.Task] = set()
        self._waiting: set[asyncio.Task] = set()  # sleeping until the platform lets us speak

    async def _journal(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # --- the lifecycle ---------------------------------------------------------------------------

    async def submit(self, job: Job) -> bool:
        req = job.request
        try:
            job_id = await self._journal(self.history.add_job, req.sender.platform, req.ref,
                                         req.sender.key, req.chat, job.payload)
        except (sqlite3.Error, OSError) as err:
            self.journal_fault = _fault(err)
            logger.error("cannot journal a %s request (%s): the platform will send it again",
                         req.sender.platform, self.journal_fault)
            raise NotAccepted(self.journal_fault) from None
        self.journal_fault = None
        if job_id is None:
            logger.info("ignoring a redelivered %s request", req.sender.platform)
            return False
        self._spawn(self._run(job_id, job, {"created_at": time.time()}, claim=True),
                    f"job-{job_id}")
        return True

    async def resume(self, platform: str, revive: Revive) -> int:
        count = 0
        for row in await self._journal(self.history.pending_jobs, platform):
            if row["status"] == "pending" and not await self._journal(self.history.claim_job,
                                                                      row["id"]):
                continue  # another worker has it
            try:
                job = await revive(row)
            except Exception:
                logger.exception("a journaled %s job could not be rebuilt", platform)
                job = None
            if job is None:
                await self._journal(self.history.finish_job, row["id"], False, "unrevivable")
                continue
            logger.info("resuming an analysis accepted before a restart")
            self._spawn(self._run(row["id"], job, row, claim=False), f"resume-{row['id']}")
            count += 1
        return count

    async def _run(self, job_id: int, job: Job, row: dict, claim: bool) -> None:
        if claim and not await self._journal(self.history.claim_job, job_id):
            return
        kept = None if claim else await self._journal(self.history.job_reply, job_id)
        if kept is not None:  # analysed and recorded by an earlier process: deliver the same
            await self._deliver(job_id, job, reply_codec.load(kept), row)
            return
        runs = await self._journal(self.history.start_run, job_id)
        if runs > self.delivery.max_runs:
            logger.error("job %d for %s: its analysis was started %d times without finishing "
                         "(a clip that crashes the process?): failed", job_id,
                         user_ref(job.request.sender.key), runs - 1)
            await self._journal(self.history.finish_job, job_id, False, "poison")
            await self._tell(job, "job.poison", runs=runs - 1)
            return
        reply = await self._analyse(job)
        if reply is None:  # nothing to say (an automatic analysis nobody wanted)
            await self._journal(self.history.finish_job, job_id, True)
            return
        await self._journal(self.history.end_run, job_id, reply_codec.dump(reply))
        await self._deliver(job_id, job, reply, row)

    async def _analyse(self, job: Job) -> Reply | None:
        """The Service's answer (it never raises for bad input); ``working()`` shows meanwhile.
        Waits first for room in the memory budget for the file and its decoded audio."""
        try:
            async with self.budget.hold(throttle.cost(job.request, self.service.settings.audio)):
                if job.working is None:
                    return await self.service.analyze(job.request)
                async with job.working():
                    return await self.service.analyze(job.request)
        except Exception:
            logger.exception("analysis failed")
            return Reply((), headline=text("error.internal", await self._lang(job.request.sender)),
                         ok=False)

    async def _deliver(self, job_id: int, job: Job, reply: Reply, row: dict) -> None:
        """Attempt after attempt, each waiting as long as the platform asked, until the reply is
        delivered, refused for good, or too old."""
        d = self.delivery
        sent, attempts = int(row.get("sent_parts") or 0), int(row.get("attempts") or 0)
        created = epoch(row.get("created_at")) or time.time()
        await self._sleep(epoch(row.get("next_attempt_at")) - time.time())
        while True:
            outcome = await self._attempt(job, reply, sent)
            sent = outcome.sent
            if isinstance(outcome, Delivered):
                await self._journal(self.history.finish_job, job_id, reply.ok)
                return
            if isinstance(outcome, Undeliverable):
                logger.warning("job %d: the platform refused the answer for good (%s)", job_id,
                               outcome.reason)
                await self._journal(self.history.finish_job, job_id, False, outcome.reason)
                return
            attempts += 1
            wait = max(outcome.after_s or 0.0, self.backoff.wait(attempts))
            if attempts >= d.max_attempts or time.time() + wait - created > d.max_age_s:
                logger.error("job %d for %s: giving up after %d delivery attempts (%s)", job_id,
                             user_ref(job.request.sender.key), attempts, outcome.reason)
                await self._journal(self.history.finish_job, job_id, False,
                                    f"undelivered: {outcome.reason}")
                await self._tell(job, "delivery.gave_up")
                return
            # whole seconds in the journal, rounded up: a restart never goes early
            next_at = datetime.fromtimestamp(math.ceil(time.time() + wait), timezone.utc)
            await self._journal(self.history.delivery_failed, job_id, sent, next_at)
            logger.info("job %d: the platform said wait (%s); next attempt in %.1f s", job_id,
                        outcome.reason, wait)
            await self._sleep(wait)

    async def _attempt(self, job: Job, reply: Reply, sent: int) -> Outcome:
        """One delivery attempt; first waits out a wait the platform asked of another job in
        the same chat (flood control is per chat: sending there meanwhile prolongs it)."""
        chat = job.request.chat
        async with self.turns.turn(chat, self._sleep):
            try:
                outcome = await job.deliver(reply, sent)
            except Exception as err:  # an adapter bug must not lose the job
                logger.exception("delivery failed")
                outcome = RetryLater(type(err).__name__, sent=sent)
        if isinstance(outcome, RetryLater) and outcome.after_s:
            self.turns.wait_asked(chat, outcome.after_s)
        return outcome

    async def _tell(self, job: Job, key: str, **params: object) -> None:
        """A short word to the person that their answer will not come, as soon as the platform
        takes it (a few tries)."""
        note = Reply((), headline=text(key, await self._lang(job.request.sender), **params),
                     ok=False)
        for _ in range(NOTICE_TRIES):
            outcome = await self._attempt(job, note, 0)
            if not isinstance(outcome, RetryLater):
                return
            await self._sleep(max(outcome.after_s or 0.0, self.delivery.first_wait_s))

    async def _sleep(self, seconds: float) -> None:
        """Wait for the platform; meanwhile a shutdown need not wait for this job (its state is
        in the journal, and the next start goes on)."""
        if seconds <= 0:
            return
        task = asyncio.current_task()
        self._waiting.add(task)
        try:
            await asyncio.sleep(seconds)
        finally:
            self._waiting.discard(task)

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a job failed", exc_info=task.exception())

    async def drain(self, timeout_s: float) -> None:
        """Let the jobs at work finish (at most ``timeout_s``); those waiting for a platform
        stop now and go on at the next start."""
        deadline = time.monotonic() + timeout_s
        while self._tasks - self._waiting and time.monotonic() < deadline:
            await asyncio.wait(list(self._tasks - self._waiting),
                               timeout=deadline - time.monotonic(),
                               return_when=asyncio.FIRST_COMPLETED)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    def database_fault(self) -> str | None:
        """For /readyz (blocking: call it off the event loop): None when the journal can be
        written, else ``not writable: <why>``. After a failed journal write, a real write is
        tried (a full disk still lets a transaction begin); it clears the fault once it works."""
        if self.journal_fault is not None:
            try:
                self.history.probe_write()
                self.journal_fault = None
            except (sqlite3.Error, OSError) as err:
                self.journal_fault = _fault(err)
        elif not self.history.writable():
            return "not writable: database locked"
        return None if self.journal_fault is None else f"not writable: {self.journal_fault}"

    async def idle(self) -> bool:
        """No job in progress in this process and none unfinished in the journal."""
        return not self._tasks and not await self._journal(self.history.pending_jobs, None)

    # --- the rest of what adapters ask -----------------------------------------------------------

    async def command(self, req: CommandRequest) -> Reply:
        try:
            return await self.service.command(req)
        except Exception:  # never a traceback to a user; the bot keeps going
            logger.exception("command %s failed", req.command)
            return Reply((), headline=text("error.internal", await self._lang(req.sender)),
                         ok=False)

    async def notice(self, name: str, sender: Sender, **params: object) -> Reply:
        return Reply((), headline=text(NOTICE_KEYS[name], await self._lang(sender), **params),
                     ok=name in ("private_sent",))

    def command_list(self, platform: str, lang: str) -> list[tuple[str, str]]:
        return self.service.command_list(platform, lang)

    async def remember_file(self, user_key: str, chat: str, file_ref: str) -> None:
        await asyncio.to_thread(self.service.note_file, user_key, chat, file_ref)

    async def latest_file(self, user_key: str, chat: str) -> str | None:
        return await asyncio.to_thread(self.service.latest_file, user_key, chat)

    async def auto_enabled(self, chat: str) -> bool:
        return await asyncio.to_thread(self.service.auto_enabled, chat)

    async def _lang(self, sender: Sender) -> str:
        with contextlib.suppress(Exception):  # a locked database must not stop an apology
            return await asyncio.to_thread(self.service.lang, sender)
        return language(sender.language)

    def close(self) -> None:
        """After ``drain``: the journal's threads finish their call before the history closes."""
        self._pool.shutdown(wait=True)


def _fault(err: BaseException) -> str:
    """What keeps the journal from being written, in a few words (no paths, no SQL)."""
    message = str(err).lower()
    if "full" in message or getattr(err, "errno", None) == 28:
        return "disk full"
    if "locked" in message or "busy" in message:
        return "database locked"
    if "readonly" in message or "read-only" in message:
        return "read-only"
    return type(err).__name__
