"""The one job lifecycle for every platform: nothing accepted is lost, nothing answered twice.

    submit:  journal the request (before the platform is acknowledged) -> claim -> analyse
             (``Service.analyze``) -> deliver (the adapter's function, retried with patience)
             -> finish
    resume:  at start, the jobs an earlier process journaled and never finished, rebuilt by the
             adapter's ``revive`` from their payload, run the same way

A job whose delivery the platform keeps refusing for now (``RetryLater`` after every wait) stays
unfinished in the journal and is resumed at the next start. Journal calls run on threads of their
own: in asyncio's default pool they would queue behind audio decodes (up to
``decode_timeout_s`` each), and a reply already delivered would stay unfinished (and be sent
again after a crash) while they wait. ``Jobs`` is the ``bot.core.Core`` the adapters are handed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from bot.core import Job, Outcome, RetryLater, Revive, Undeliverable
from bot.messages import language, text
from bot.reply import Reply
from bot.requests import CommandRequest, Sender

logger = logging.getLogger(__name__)

PATIENCE_S = (1.0, 2.0, 4.0, 8.0)  # waits between whole-reply delivery attempts
NOTICE_KEYS = {
    "private_sent": "cmd.private_only",
    "open_private_chat": "cmd.open_private_chat",
    "no_audio_in_message": "slack.no_audio",
    "not_in_channel": "slack.not_in_channel",
    "missing_scope": "slack.missing_scope",
    "file_not_found": "fetch.not_found",
    "fetch_failed": "fetch.failed",
    "send_audio": "hint.send_audio",  # a private Telegram chat got text, a photo, a sticker
    "no_upload_yet": "slack.no_upload",
    "message_link": "slack.message_link",
}


class Jobs:
    """The lifecycle over one ``Service`` (and its history, which holds the journal)."""

    def __init__(self, service, patience_s: tuple[float, ...] = PATIENCE_S) -> None:
        self.service = service
        self.history = service.history
        self.patience_s = patience_s
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="journal")
        self._tasks: set[asyncio.Task] = set()

    async def _journal(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # --- the lifecycle ---------------------------------------------------------------------------

    async def submit(self, job: Job) -> bool:
        req = job.request
        job_id = await self._journal(self.history.add_job, req.sender.platform, req.ref,
                                     req.sender.key, req.chat, job.payload)
        if job_id is None:
            logger.info("ignoring a redelivered %s request", req.sender.platform)
            return False
        self._spawn(self._run(job_id, job, claim=True), f"job-{job_id}")
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
            self._spawn(self._run(row["id"], job, claim=False), f"resume-{row['id']}")
            count += 1
        return count

    async def _run(self, job_id: int, job: Job, claim: bool) -> None:
        if claim and not await self._journal(self.history.claim_job, job_id):
            return
        reply = await self._analyse(job)
        if reply is None or await self._deliver(job, reply):
            await self._journal(self.history.finish_job, job_id, reply is None or reply.ok)

    async def _analyse(self, job: Job) -> Reply | None:
        """The Service's answer (it never raises for bad input); ``working()`` shows meanwhile."""
        try:
            if job.working is None:
                return await self.service.analyze(job.request)
            async with job.working():
                return await self.service.analyze(job.request)
        except Exception:
            logger.exception("analysis failed")
            return Reply((), headline=text("error.internal", await self._lang(job.request.sender)),
                         ok=False)

    async def _deliver(self, job: Job, reply: Reply) -> bool:
        """True when the job is over (delivered, or refused for good); False to resume it at
        the next start, after every patient retry failed."""
        for wait in (*self.patience_s, None):
            try:
                outcome: Outcome = await job.deliver(reply)
            except Exception as err:  # an adapter bug must not lose the job
                logger.exception("delivery failed")
                outcome = RetryLater(type(err).__name__)
            if isinstance(outcome, Undeliverable):
                logger.warning("delivering an analysis failed for good: %s", outcome.reason)
                return True
            if not isinstance(outcome, RetryLater):
                return True
            if wait is None:
                logger.warning("delivery failed for now (%s): will retry at the next start",
                               outcome.reason)
                return False
            await asyncio.sleep(max(wait, outcome.after_s or 0.0))
        return False

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a job failed", exc_info=task.exception())

    async def drain(self, timeout_s: float) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)

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
        self._pool.shutdown(wait=False)
