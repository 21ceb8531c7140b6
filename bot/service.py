"""The product core: a platform-neutral request in, a reply out.

``analyze``: policy (whose voice, which chat, forwarded?) -> limits -> size check -> fetch ->
decode -> engine -> history -> reply. ``command``: the history and settings commands (in
``bot.commands``). Nothing here knows a chat platform; nothing raises for bad input: every refusal
and failure is a ``Reply`` with ``ok=False`` in the user's language.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from bot import audio, metrics
from bot.errors import AudioError, TooLarge
from bot.history import History
from bot.inference import Inference, Unreachable
from bot.limits import Limiter
from bot.logs import user_ref
from bot.messages import describe, language, text
from bot.reply import Reply, ReplyOptions, for_result
from bot.requests import AudioRequest, CommandRequest, FetchError
from bot.settings import Settings
from engine.cores import usable_cores

logger = logging.getLogger(__name__)

NOTICE_KEY = "first_use_notice"
SILENT = object()  # policy verdict: an automatic analysis nobody asked for; say nothing
_requester: contextvars.ContextVar[str] = contextvars.ContextVar("requester", default="")

# Identities many people post under: Telegram's anonymous group admins (GroupAnonymousBot) and
# a linked channel's posts (the service account). Nobody's voice or data can be told apart.
SHARED_IDENTITIES = frozenset({"telegram:1087968824", "telegram:777000"})
PRIVATE_KINDS = ("embedding",)  # attachments that go to the requester alone in shared rooms


class Service:
    def __init__(self, settings: Settings, history: History, inference: Inference,
                 limiter: Limiter | None = None):
        self.settings = settings
        self.history = history
        self.inference = inference  # the one inference boundary (``bot.inference``)
        self.model_id = inference.model.id  # what the engine (local or remote) runs
        # Decodes get their own bounded pool: a few hanging ffmpeg processes must not hold up
        # the history and platform calls that share asyncio's default pool.
        self._decoders = ThreadPoolExecutor(max_workers=max(2, usable_cores()),
                                            thread_name_prefix="decode")
        lim = settings.limits
        self.limiter = limiter or Limiter(lim.requests_per_minute, lim.burst, lim.daily_audio_seconds)

    # --- helpers the adapters and commands share ------------------------------------------------

    def lang(self, sender) -> str:
        own = self.history.get_settings(sender.key).language
        if own:
            return own
        return language(sender.language) if sender.language else self.settings.reply.language

    def refuse(self, key: str, lang: str, reason: str, **params) -> Reply:
        return _refusal(text(key, lang, **params), reason)

    def auto_enabled(self, chat: str) -> bool:
        if self.settings.privacy.workplace_mode:
            return False
        return bool(self.history.channel_setting(_platform(chat), chat, "auto", False))

    def note_file(self, user_key: str, chat: str, file_ref: str) -> None:
        self.history.set_channel_setting(_platform(chat), chat, "latest_file", file_ref, user=user_key)

    def latest_file(self, user_key: str, chat: str) -> str | None:
        return self.history.channel_setting(_platform(chat), chat, "latest_file", None, user=user_key)

    def command_list(self, platform: str, lang: str) -> list[tuple[str, str]]:
        from bot.commands import command_list

        return command_list(platform, lang)

    async def command(self, req: CommandRequest) -> Reply:
        from bot.commands import run_command

        try:
            return await run_command(self, req)
        except Exception:
            logger.exception("command %s failed", req.command)
            return Reply((), headline=text("error.internal", self.lang(req.sender)), ok=False)

    # --- analysis --------------------------------------------------------------------------------

    async def analyze(self, req: AudioRequest) -> Reply | None:
        """Analyse one file; ``None`` means stay silent (an automatic analysis that isn't wanted)."""
        started = time.monotonic()
        _requester.set(req.sender.key)  # names the user in refusal log lines (``_refusal``)
        platform = req.sender.platform
        lang = await asyncio.to_thread(self.lang, req.sender)
        try:
            verdict = await asyncio.to_thread(self._policy, req, lang)
            if verdict is SILENT:
                metrics.REJECTIONS.labels("not_opted_in").inc()
                return None
            if verdict is not None:
                return verdict
            reply = await self._analyze(req, lang)
        except Exception:  # never a traceback to a user; the bot keeps running
            logger.exception("analysis failed on %s", platform)
            reply = Reply((), headline=text("error.internal", lang), ok=False)
        outcome = "ok" if reply.ok else "refused"
        elapsed = time.monotonic() - started
        metrics.REQUESTS.labels(platform, outcome).inc()
        metrics.END_TO_END_SECONDS.observe(elapsed)
        logger.info("%s analysis for %s: %s in %.2f s", platform, user_ref(req.sender.key),
                    outcome, elapsed)
        return reply

    def _policy(self, req: AudioRequest, lang: str) -> Reply | None:
        """A refusal, ``SILENT`` (say nothing), or None when the analysis may go ahead."""
        privacy, sender = self.settings.privacy, req.sender.key
        owner = speaker_of(req)
        if sender in SHARED_IDENTITIES:
            return self.refuse("privacy.shared_sender", lang, "shared_identity") \
                if req.explicit else SILENT
        if owner in SHARED_IDENTITIES:
            return self.refuse("privacy.shared_speaker", lang, "shared_identity")
        if req.forwarded and owner != sender and not privacy.allow_forwarded:
            return self.refuse("privacy.forwarded", lang, "forwarded")
        if owner is not None and owner != sender:
            if privacy.workplace_mode:
                return self.refuse("privacy.workplace", lang, "workplace_mode")
            if not (self.history.has_consent(owner, f"chat:{req.chat}")
                    or self.history.has_consent(owner, "others")):
                key = "privacy.not_owner" + (".slack" if req.sender.platform == "slack" else "")
                return self.refuse(key, lang, "not_owner")
        if not req.explicit and req.group:
            wanted = self.auto_enabled(req.chat) or self.history.has_consent(
                owner or sender, f"chat:{req.chat}")
            if not wanted:
                return SILENT
        decision = self.limiter.take(sender)
        if not decision.allowed:
            if decision.quota_left_s <= 0:
                minutes = round(self.settings.limits.daily_audio_seconds / 60)
                return self.refuse("limits.quota", lang, "quota", minutes=minutes)
            return self.refuse("limits.rate", lang, "rate_limit",
                               seconds=max(1, round(decision.retry_after_s)))
        return None

    async def _analyze(self, req: AudioRequest, lang: str) -> Reply:
        limit = int(self.settings.audio.max_file_mb * 1024 * 1024)
        size = req.declared_size
        if req.max_download_bytes is not None and size is not None and size > req.max_download_bytes:
            return self.refuse("fetch.too_big_for_platform", lang, "platform_download_limit",
                               size=_mb(size), limit=_mb(req.max_download_bytes))
        if size is not None and size > limit:
            too_large = TooLarge(f"{size} bytes declared", size_mb=round(size / 1024 / 1024, 1),
                                 max_mb=self.settings.audio.max_file_mb)
            return _refusal(describe(too_large, lang), "too_large")
        try:
            data = await req.fetch(min(limit, req.max_download_bytes or limit))
        except FetchError as err:
            return self.refuse(err.key, lang, "fetch", **err.params)
        started = time.monotonic()
        try:
            decoded = await asyncio.get_running_loop().run_in_executor(
                self._decoders, functools.partial(
                    audio.decode, data, self.settings.audio,
                    declared_duration_s=req.declared_duration_s))
        except AudioError as err:
            return _refusal(describe(err, lang), type(err).__name__)
        finally:
            metrics.DECODE_SECONDS.observe(time.monotonic() - started)
        user_settings = await asyncio.to_thread(self.history.get_settings, req.sender.key)
        granularity = req.granularity or user_settings.granularity
        started = time.monotonic()
        try:
            result = await self.inference.infer(decoded.waveform, granularity)
        except self.inference.busy:
            return self.refuse("engine.busy", lang, "busy")
        except Unreachable:
            return self.refuse("engine.unreachable", lang, "unreachable")
        metrics.INFERENCE_SECONDS.observe(time.monotonic() - started)
        metrics.AUDIO_SECONDS.labels(req.sender.platform).inc(decoded.duration_s)
        self.limiter.spend_audio(req.sender.key, decoded.duration_s)
        first = await asyncio.to_thread(self._first_use, req.sender.key)
        await asyncio.to_thread(
            self.history.record, req.sender.key, result, duration_s=decoded.duration_s,
            granularity=granularity, model=self.model_id, chat=req.chat, notes=decoded.notes,
            speaker=speaker_of(req))
        reply_cfg = self.settings.reply
        reply = for_result(result, decoded.notes, ReplyOptions(
            lang=lang, low_confidence=reply_cfg.low_confidence, mixed_margin=reply_cfg.mixed_margin,
            attach_embedding=user_settings.attach_embedding, upload_limit=req.max_upload_bytes,
            float16=user_settings.float16_embeddings))
        if first:
            notice = (text("notice.first_use", lang),)
            if req.sender.platform == "slack":  # a workspace is usually a workplace (EU AI Act)
                notice += (text("notice.workplace", lang),)
            reply = reply.with_parts(reply.parts + notice)
        if req.group:  # a voice embedding is personal: not for everyone in the room to download
            where = ".slack" if req.sender.platform == "slack" else ""
            reply = reply.set_aside(PRIVATE_KINDS, text("aside.heading", lang),
                                    text("aside.sent" + where, lang), text("aside.missed", lang))
        return reply

    def _first_use(self, user: str) -> bool:
        """True exactly once per user (until they /forget): show the short notice."""
        return self.history.first_time(_platform(user), NOTICE_KEY, user)


def speaker_of(req: AudioRequest) -> str | None:
    """Whose voice ``req`` holds: its recorder/uploader when known, else the sender's own unless
    it was forwarded (then None: unknown)."""
    return req.owner or (None if req.forwarded else req.sender.key)


def _refusal(message: str, reason: str) -> Reply:
    metrics.REJECTIONS.labels(reason).inc()
    user = _requester.get()  # for the operator: why, and whose request (as a salted hash only)
    logger.info("refused an analysis for %s: %s", user_ref(user) if user else "-", reason)
    return Reply((), headline=message, ok=False)


def _platform(key: str) -> str:
    return key.split(":", 1)[0]


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f}" if size >= 1024 * 1024 else f"{size / (1024 * 1024):.1f}"
