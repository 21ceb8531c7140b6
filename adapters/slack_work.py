"""The Slack work that happens after the ack: files.info, download, the service, delivery.

A ``Bridge`` runs on the asyncio loop that owns the ``Service``; bolt's listener threads only
``submit`` coroutines to it. Web API calls (the synchronous ``WebClient``) run in worker threads.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from adapters.slack import (MAX_UPLOAD, PUBLIC_COMMANDS, Origin, audio_request, from_command,
                            from_event, from_interaction, is_audio, parse_command, thread_of)
from adapters.slack_render import Call, Target, plan
from bot.messages import text
from bot.reply import Reply
from bot.requests import CommandRequest, FetchError

logger = logging.getLogger(__name__)

def downloader(url: str | None, token: str, timeout_s: float = 60.0):
    """``fetch(max_bytes)`` for ``url_private_download``: Bearer auth, a byte cap while streaming,
    and an HTML body (Slack's sign-in page: missing files:read or a bad token) as a clear error."""

    async def fetch(max_bytes: int) -> bytes:
        if not url:
            raise FetchError("fetch.not_found", "the file has no download URL")
        chunks, size = [], 0
        try:
            async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as http:
                headers = {"Authorization": f"Bearer {token}"}
                async with http.stream("GET", url, headers=headers) as resp:
                    if resp.status_code == 404:
                        raise FetchError("fetch.not_found", "HTTP 404")
                    if resp.status_code != 200:
                        raise FetchError("fetch.failed", f"HTTP {resp.status_code}")
                    if "text/html" in resp.headers.get("content-type", ""):
                        raise FetchError("fetch.login_page", "HTML instead of the file")
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise FetchError("audio.too_large", f"more than {max_bytes} bytes",
                                             size_mb=f"> {max_bytes / 1048576:.1f}",
                                             max_mb=max_bytes / 1048576)
                        chunks.append(chunk)
        except httpx.HTTPError as err:
            raise FetchError("fetch.failed", type(err).__name__) from None
        data = b"".join(chunks)
        if data[:64].lstrip().lower().startswith((b"<!doctype html", b"<html")):
            raise FetchError("fetch.login_page", "HTML instead of the file")
        return data

    return fetch


# Journal writes get threads of their own, so they never wait behind audio decodes in asyncio's
# default pool (a delivered reply left unfinished would be sent again after a crash).
_POOL = ThreadPoolExecutor(2, thread_name_prefix="slack-journal")


async def _journal(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(_POOL, fn, *args)


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
    """Runs the work a listener acked: on the service's loop, Web API calls in threads."""

    def __init__(self, service, client: WebClient, loop: asyncio.AbstractEventLoop, token: str):
        self.service, self.client, self.loop, self.token = service, client, loop, token
        self.events, self.files = _Seen(), _Seen()
        self.pending: set = set()

    def submit(self, coro) -> None:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self.pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future) -> None:
        self.pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.error("slack work failed", exc_info=future.exception())

    async def drain(self, timeout_s: float) -> None:
        if self.pending:
            waiting = [asyncio.wrap_future(f) for f in list(self.pending)]
            await asyncio.wait(waiting, timeout=timeout_s)

    async def lang(self, origin: Origin) -> str:
        lang = getattr(self.service, "lang", None)
        return await asyncio.to_thread(lang, origin.sender) if lang else "en"

    # --- entry points ----------------------------------------------------------------------------

    async def command(self, body: dict) -> None:
        origin = from_command(body)
        name, args = parse_command(body.get("text") or "")
        if name != "analyse":
            req = CommandRequest(origin.sender, origin.chat, name, args,
                                 private=origin.channel_type == "im", max_upload_bytes=MAX_UPLOAD)
            reply = await self.service.command(req)
            await self.deliver(reply, origin, public=name in PUBLIC_COMMANDS)
            return
        file_id = args[0] if args else await asyncio.to_thread(
            self.service.latest_file, origin.sender.key, origin.chat)
        if not file_id:
            lang = await self.lang(origin)
            return await self.deliver(Reply((), headline=text("fetch.not_found", lang), ok=False),
                                      origin)
        await self.analyse(origin, file_id, explicit=True, kind="command", trigger=trigger_of(body))

    async def shortcut(self, body: dict) -> None:
        origin = from_interaction(body)
        audio = [f for f in (body.get("message") or {}).get("files", []) if is_audio(f)]
        if not audio:
            note = text("slack.no_audio", await self.lang(origin))
            return await self.deliver(Reply((), headline=note, ok=False), origin)
        await self.analyse(origin, audio[0]["id"], explicit=True, kind="shortcut",
                           trigger=trigger_of(body))

    async def button(self, body: dict) -> None:
        origin = from_interaction(body)
        words = (body.get("actions") or [{}])[0].get("value", "").split()
        if not words:
            return
        req = CommandRequest(origin.sender, origin.chat, words[0], tuple(words[1:]),
                             private=origin.channel_type == "im", max_upload_bytes=MAX_UPLOAD)
        await self.deliver(await self.service.command(req), origin, public=False)

    async def file_share(self, team: str, event: dict, bot_user: str | None) -> None:
        origin = from_event(team, event)
        audio = [f for f in event.get("files", []) if is_audio(f) and f.get("user") != bot_user]
        for file in audio:
            await asyncio.to_thread(self.service.note_file, origin.sender.key, origin.chat,
                                    file["id"])
        direct = origin.channel_type == "im"  # audio sent to the app's own DM is a request
        if not audio or not (direct or await asyncio.to_thread(self.service.auto_enabled,
                                                               origin.chat)):
            return
        for file in audio:
            if self.files.first((origin.chat, file["id"])):
                await self.analyse(origin, file["id"], explicit=direct, kind="auto")

    # --- analysis and delivery --------------------------------------------------------------

    async def analyse(self, origin: Origin, file_id: str, explicit: bool, kind: str,
                      job: int | None = None, trigger: str | None = None) -> None:
        """Analyse one file and answer. Journaled (so a redelivery is ignored, even after a
        restart, and unfinished work is resumed at start): automatic analyses by file, and the
        command and shortcut by file and ``trigger_id`` (asking again on purpose is a new job;
        Slack's retry of the same request is not)."""
        try:
            info = await asyncio.to_thread(self.client.files_info, file=file_id)
        except SlackApiError as err:
            return await self.deliver(await self.problem(err, origin), origin)
        file = info["file"]
        origin = replace(origin, thread_ts=origin.thread_ts or thread_of(file, origin.channel))
        fetch = downloader(file.get("url_private_download") or file.get("url_private"), self.token)
        req = audio_request(origin, file, fetch, explicit, kind)
        if trigger:
            req = replace(req, ref=f"{req.ref}:{trigger}")
        if (kind == "auto" or trigger) and job is None and hasattr(self.service, "accept"):
            payload = {"origin": asdict(origin), "file": file_id, "explicit": explicit,
                       "kind": kind, "trigger": trigger}
            job = await _journal(self.service.accept, req, payload)
            if job is None or not await _journal(self.service.claim, job):
                return
        reply = await self.service.analyze(req)
        if reply is not None:
            await self.deliver(reply, origin)
        if job is not None:
            await _journal(self.service.finish, job, reply)

    async def resume(self) -> None:
        """Analyses accepted before a restart but never answered: run them now."""
        if not hasattr(self.service, "pending"):
            return
        for job in await _journal(self.service.pending, "slack"):
            p = job["payload"]
            if "file" not in p or (job["status"] == "pending" and not await _journal(
                    self.service.claim, job["id"])):
                continue
            logger.info("resuming an analysis accepted before a restart")
            self.submit(self.analyse(Origin(**p["origin"]), p["file"], p["explicit"],
                                     p.get("kind", "auto"), job["id"], p.get("trigger")))

    async def problem(self, err: SlackApiError, origin: Origin) -> Reply:
        error, lang = err.response.get("error", ""), await self.lang(origin)
        logger.warning("slack api error: %s", error)
        if error in ("file_not_found", "file_deleted", "invalid_arg_name"):
            return Reply((), headline=text("fetch.not_found", lang), ok=False)
        if error in ("not_in_channel", "channel_not_found"):
            return Reply((), headline=text("slack.not_in_channel", lang), ok=False)
        if error == "missing_scope":
            needed = err.response.get("needed", "?")
            return Reply((), headline=text("slack.missing_scope", lang, needed=needed), ok=False)
        return Reply((), headline=text("fetch.failed", lang), ok=False)

    async def deliver(self, reply: Reply, origin: Origin, public: bool = True) -> None:
        calls = plan(reply, Target(origin.channel, origin.user, origin.thread_ts), public)
        try:
            await asyncio.to_thread(self.execute, calls, origin.response_url)
        except SlackApiError as err:
            if reply.ok or err.response.get("error") == "missing_scope":
                explained = await self.problem(err, origin)
                fallback = plan(explained, Target(origin.channel, origin.user))
                try:
                    await asyncio.to_thread(self.execute, fallback, origin.response_url)
                except SlackApiError as again:
                    logger.warning("could not explain: %s", again.response.get("error"))

    def execute(self, calls: list[Call], response_url: str | None) -> None:
        for call in calls:
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
