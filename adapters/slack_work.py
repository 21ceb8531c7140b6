"""The Slack work that happens after the ack: files.info, the job for the core, delivery.

A ``Bridge`` runs on the asyncio loop that owns the core (``bot.core.Core``); bolt's listener
threads only ``submit`` coroutines to it. Web API calls (the synchronous ``WebClient``) run in
worker threads. An analysis becomes a ``Job`` (journaled by the core, which de-duplicates retried
events and requests by ``ref`` and resumes unfinished ones after a restart through ``revive``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import asdict, replace

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from adapters.slack_download import downloader
from adapters.slack_render import Call, Target, plan
from adapters.slack_translate import (MAX_UPLOAD, MESSAGE_LINK, PUBLIC_COMMANDS, Origin,
                                      audio_request, from_command, from_event, from_interaction,
                                      has_sound, is_audio, is_stub, parse_command, thread_of)
from bot.core import Core, Delivered, Job, Outcome, RetryLater, Undeliverable
from bot.reply import Reply
from bot.requests import CommandRequest

logger = logging.getLogger(__name__)

def trigger_of(body: dict) -> str | None:
    """What tells one invocation of the command or shortcut from another, while a retry of the
    same one keeps it: its ``trigger_id`` and ``response_url`` (hashed; the URL is a secret)."""
    if not body.get("trigger_id") and not body.get("response_url"):
        return None
    seed = f"{body.get('trigger_id', '')}|{body.get('response_url', '')}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


class _Seen:
    """A bounded set: ``first(key)`` is True the first time a key is seen (retries, duplicates)."""

    def __init__(self, size: int = 10_000) -> None:
        self._keys: OrderedDict = OrderedDict()
        self._size, self._lock = size, threading.Lock()

    def first(self, key) -> bool:
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            if len(self._keys) > self._size:
                self._keys.popitem(last=False)
            return True


class Bridge:
    """Runs the work a listener acked: on the core's loop, Web API calls in threads."""

    def __init__(self, core: Core, client: WebClient, loop: asyncio.AbstractEventLoop,
                 token: str):
        self.core, self.client, self.loop, self.token = core, client, loop, token
        self.events, self.files = _Seen(), _Seen()
        self.in_flight: set = set()

    def submit(self, coro) -> None:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self.in_flight.add(future)
        future.add_done_callback(self._done)

    def _done(self, future) -> None:
        self.in_flight.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("slack work failed", exc_info=future.exception())

    async def drain(self, timeout_s: float) -> None:
        if self.in_flight:
            waiting = [asyncio.wrap_future(f) for f in list(self.in_flight)]
            await asyncio.wait(waiting, timeout=timeout_s)

    # --- entry points ----------------------------------------------------------------------------

    async def command(self, body: dict) -> None:
        origin = from_command(body)
        name, args = parse_command(body.get("text") or "")
        if name == MESSAGE_LINK:
            return await self.deliver(await self.core.notice("message_link", origin.sender),
                                      origin)
        if name != "analyse":
            req = CommandRequest(origin.sender, origin.chat, name, args,
                                 private=origin.channel_type == "im", max_upload_bytes=MAX_UPLOAD)
            reply = await self.core.command(req)
            await self.deliver(reply, origin, public=name in PUBLIC_COMMANDS)
            return
        file_id = args[0] if args else await self.core.latest_file(origin.sender.key,
                                                                   origin.chat)
        if not file_id:  # nothing uploaded here yet: say so, not "couldn't find that file"
            return await self.deliver(await self.core.notice("no_upload_yet", origin.sender),
                                      origin)
        await self.analyse(origin, file_id, explicit=True, kind="command", trigger=trigger_of(body))

    async def shortcut(self, body: dict) -> None:
        origin = from_interaction(body)
        audio = [f for f in (body.get("message") or {}).get("files", []) if has_sound(f)]
        if not audio:
            note = await self.core.notice("no_audio_in_message", origin.sender)
            return await self.deliver(note, origin)
        await self.analyse(origin, audio[0]["id"], explicit=True, kind="shortcut",
                           trigger=trigger_of(body))

    async def button(self, body: dict) -> None:
        origin = from_interaction(body)
        words = (body.get("actions") or [{}])[0].get("value", "").split()
        if not words:
            return
        req = CommandRequest(origin.sender, origin.chat, words[0], tuple(words[1:]),
                             private=origin.channel_type == "im", max_upload_bytes=MAX_UPLOAD)
        await self.deliver(await self.core.command(req), origin, public=False)

    async def file_share(self, team: str, event: dict, bot_user: str | None) -> None:
        origin = from_event(team, event)
        shared = [await self.full_file(f) for f in event.get("files", [])]
        audio = [f for f in shared if is_audio(f) and f.get("user") != bot_user]
        for file in audio:
            await self.core.remember_file(origin.sender.key, origin.chat, file["id"])
        direct = origin.channel_type == "im"  # audio sent to the app's own DM is a request
        if not audio or not (direct or await self.core.auto_enabled(origin.chat)):
            return
        for file in audio:
            if self.files.first((origin.chat, file["id"])):
                await self.analyse(origin, file["id"], explicit=direct, kind="auto")

    async def full_file(self, file: dict) -> dict:
        """The file object itself: a stub (``file_access: check_file_info``) read with
        files.info; the stub as it is when that fails."""
        if not is_stub(file) or not file.get("id"):
            return file
        try:
            info = await asyncio.to_thread(self.client.files_info, file=file["id"])
        except SlackApiError as err:
            logger.warning("files.info for a shared file failed: %s", err.response.get("error"))
            return file
        return info.get("file") or file

    # --- analysis and delivery --------------------------------------------------------------

    async def analyse(self, origin: Origin, file_id: str, explicit: bool, kind: str,
                      trigger: str | None = None) -> None:
        """Hand one file's analysis to the core as a job. Its ``ref`` de-duplicates: automatic
        analyses by file, the command and shortcut by file and ``trigger_id`` (asking again on
        purpose is a new job; Slack's retry of the same request is not)."""
        job = await self.job(origin, file_id, explicit, kind, trigger or uuid.uuid4().hex[:16])
        if isinstance(job, Reply):
            return await self.deliver(job, origin)
        await self.core.submit(job)

    async def job(self, origin: Origin, file_id: str, explicit: bool, kind: str,
                  trigger: str | None) -> Job | Reply:
        """The job for one file (``files.info`` first), or the reply explaining why not."""
        try:
            info = await asyncio.to_thread(self.client.files_info, file=file_id)
        except SlackApiError as err:
            return await self.problem(err, origin)
        file = info["file"]
        origin = replace(origin, thread_ts=origin.thread_ts or thread_of(file, origin.channel))
        fetch = downloader(file.get("url_private_download") or file.get("url_private"), self.token)
        req = audio_request(origin, file, fetch, explicit, kind)
        if kind != "auto":
            req = replace(req, ref=f"{req.ref}:{trigger}")
        payload = {"origin": asdict(origin), "file": file_id, "explicit": explicit,
                   "kind": kind, "trigger": trigger}
        return Job(req, payload, functools.partial(self.deliver_job, origin))

    async def revive(self, row: dict) -> Job | None:
        """A journaled analysis again (after a restart)."""
        p = row["payload"]
        if "file" not in p:
            return None
        origin = Origin(**p["origin"])
        job = await self.job(origin, p["file"], p["explicit"], p.get("kind", "auto"),
                             p.get("trigger"))
        if isinstance(job, Reply):
            await self.deliver(job, origin)
            return None
        return job

    async def problem(self, err: SlackApiError, origin: Origin, posting: bool = False) -> Reply:
        """What to tell the person about a refused Web API call (``posting``: of our reply)."""
        error, sender = err.response.get("error", ""), origin.sender
        logger.warning("slack api error: %s", error)
        if error in ("file_not_found", "file_deleted", "invalid_arg_name"):
            return await self.core.notice("file_not_found", sender)
        if error in ("not_in_channel", "channel_not_found"):
            return await self.core.notice("not_in_channel", sender)
        if error == "missing_scope":
            return await self.core.notice("missing_scope", sender,
                                          needed=err.response.get("needed", "?"))
        return await self.core.notice("post_failed" if posting else "fetch_failed", sender)

    async def deliver(self, reply: Reply, origin: Origin, public: bool = True) -> None:
        """A command's reply (not journaled): sent once, a refusal explained if it can be."""
        await self.deliver_job(origin, reply, 0, public)

    async def deliver_job(self, origin: Origin, reply: Reply, sent: int,
                          public: bool = True) -> Outcome:
        """One attempt to show ``reply`` from its ``sent``-th call on. Slack's rate limit
        (``ratelimited``, after slack_sdk's own retry) is reported with its ``Retry-After``
        for the core to wait out; another refusal is explained to the person if possible."""
        calls = plan(reply, Target(origin.channel, origin.user, origin.thread_ts), public)
        progress = [sent]
        try:
            await asyncio.to_thread(self.execute, calls, origin.response_url, progress)
            return Delivered(progress[0])
        except SlackApiError as err:
            error = err.response.get("error", "")
            if error == "ratelimited" or err.response.status_code == 429:
                after = err.response.headers.get("Retry-After") or err.response.headers.get(
                    "retry-after")
                return RetryLater("ratelimited", float(after) if after else None, progress[0])
            logger.warning("slack refused a reply: %s", error)
            if reply.ok or error == "missing_scope":
                explained = await self.problem(err, origin, posting=True)
                fallback = plan(explained, Target(origin.channel, origin.user))
                try:
                    await asyncio.to_thread(self.execute, fallback, origin.response_url)
                except SlackApiError as again:
                    logger.warning("could not explain: %s", again.response.get("error"))
            return Undeliverable(error or "slack_api_error", progress[0])
        except Exception as err:  # the connection failed after slack_sdk's retries, or a bug:
            return RetryLater(type(err).__name__, sent=progress[0])  # again, from what did go

    def execute(self, calls: list[Call], response_url: str | None,
                progress: list[int] | None = None) -> None:
        """Make ``calls`` in order from ``progress[0]`` on, counting each one made."""
        progress = progress if progress is not None else [0]
        for call in calls[progress[0]:]:
            self._call(call, response_url)
            progress[0] += 1

    def _call(self, call: Call, response_url: str | None) -> None:
        kw = call.kwargs
        if call.kind == "post" and response_url and not kw.get("thread_ts"):
            _respond(response_url, kw, "in_channel")  # works where the app isn't a member
        elif call.kind == "post":
            self.client.chat_postMessage(**kw)
        elif call.kind == "ephemeral" and response_url:
            _respond(response_url, kw, "ephemeral")
        elif call.kind == "ephemeral":
            self.client.chat_postEphemeral(**kw)
        elif call.kind == "upload":
            self.client.files_upload_v2(**kw)
        elif call.kind == "dm_upload":
            dm = self.client.conversations_open(users=kw["user"])["channel"]["id"]
            self.client.files_upload_v2(channel=dm, file_uploads=kw["file_uploads"])


def _respond(response_url: str, kw: dict, response_type: str) -> None:
    status = WebhookClient(response_url).send(
        text=kw["text"], blocks=kw.get("blocks"), response_type=response_type,
        replace_original=False).status_code
    if status != 200:
        logger.warning("response_url answered HTTP %s", status)
