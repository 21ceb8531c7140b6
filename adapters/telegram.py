"""Telegram: python-telegram-bot updates -> requests for the ``Service``; replies -> Bot API calls.

``build(settings, service)`` makes the ``Application`` (a self-hosted Bot API server or a test fake
via ``[telegram] base_url``/``base_file_url``; updates handled concurrently); ``serve(settings,
service, stop)`` runs it by long polling or webhook until ``stop`` is set. What a request means
and what the reply says are the Service's business; this module only translates and delivers
(``adapters.telegram_render`` holds the pure translations).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlparse

from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler,
                          ContextTypes, MessageHandler, filters)

from adapters import telegram_calls as calls
from adapters import telegram_journal as journal
from adapters import telegram_render as render
from adapters import telegram_webhook
from bot.messages import language, text
from bot.reply import Reply
from bot.requests import CommandRequest
from bot.settings import Settings

logger = logging.getLogger(__name__)

MB = 1024 * 1024
UPDATES = ["message", "callback_query"]
EXTRA_COMMANDS = ("consent",)  # understood here but not in the service's menu list


def build(settings: Settings, service) -> tuple[Application, Handlers]:
    token = settings.secrets.telegram_bot_token
    if not token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and "
                         "export its token")
    for name, level in (("httpx", logging.WARNING), ("httpcore", logging.WARNING),
                        ("telegram", logging.INFO)):  # their lower levels print URLs with the token
        logging.getLogger(name).setLevel(level)
    tg = settings.telegram
    queue = journal.JournalQueue()
    builder = (ApplicationBuilder().token(token).base_url(tg.base_url)
               .base_file_url(tg.base_file_url).update_queue(queue)
               .concurrent_updates(tg.concurrent_updates))
    if tg.mode == "webhook":
        builder = builder.updater(None)
    app = builder.build()
    handlers = register(app, service, settings)
    queue.intake = lambda update: handlers.intake(update, app.bot)
    return app, handlers


def register(app: Application, service, settings: Settings) -> Handlers:
    handlers = Handlers(service, settings)
    names = [name for name, _ in service.command_list("telegram", "en")] + list(EXTRA_COMMANDS)
    app.add_handler(CommandHandler(names, handlers.command))
    app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, handlers.command))
    media = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE | filters.Document.ALL
    app.add_handler(MessageHandler(media & filters.UpdateType.MESSAGE, handlers.audio))
    app.add_handler(CallbackQueryHandler(handlers.button))
    app.add_error_handler(_log_error)
    return handlers


async def serve(settings: Settings, service, stop: asyncio.Event) -> None:
    """Run the bot until ``stop`` is set: long polling, or a webhook on ``webhook_host:port``."""
    tg = settings.telegram
    secret = settings.secrets.telegram_webhook_secret
    if tg.mode == "webhook" and not secret:
        raise ValueError("[telegram] mode = \"webhook\" needs TELEGRAM_WEBHOOK_SECRET (1-256 of "
                         "A-Z a-z 0-9 _ -), so that only Telegram can post updates")
    app, handlers = build(settings, service)
    async with app:
        await app.start()
        server = None
        try:
            await handlers.resume(app)  # before new updates: they may be redeliveries of these
            if tg.mode == "webhook":
                path = urlparse(tg.webhook_url).path or "/telegram"

                async def accept(data: dict) -> None:  # journaled before Telegram hears 200
                    await app.update_queue.put(Update.de_json(data, app.bot))

                server = await telegram_webhook.start(
                    tg.webhook_host, tg.webhook_port, path, secret, accept)
                if tg.webhook_url:
                    await calls.retry(lambda: app.bot.set_webhook(
                        tg.webhook_url, secret_token=secret, allowed_updates=UPDATES))
                logger.info("telegram webhook on %s:%s", tg.webhook_host, tg.webhook_port)
            else:
                await app.updater.start_polling(
                    poll_interval=0.0, timeout=int(tg.poll_timeout_s),
                    allowed_updates=UPDATES)
                logger.info("telegram long polling started")
            await calls.set_commands(app.bot, service)  # last: once the menu is set, the bot listens
            await stop.wait()
        finally:
            if server is not None:
                server.close()
                await server.wait_closed()
            elif app.updater is not None and app.updater.running:
                await app.updater.stop()
            await app.stop()


class Handlers:
    def __init__(self, service, settings: Settings) -> None:
        self.service = service
        self.max_download = int(settings.telegram.max_download_mb * MB)
        self.journaled = hasattr(service, "accept")
        self.jobs: dict[int, int | None] = {}  # update_id -> job id (None: a redelivery)

    # --- the journal -----------------------------------------------------------------------------

    async def intake(self, update, bot) -> None:
        """Journal an update that asks for an analysis, before it is queued (and confirmed)."""
        if not self.journaled or not isinstance(update, Update):
            return
        ask = journal.ask_of(update, bot.username)
        if ask is not None:
            req = self._request(bot, ask.msg, ask.target, ask.file, ask.explicit)
            self.jobs[update.update_id] = await asyncio.to_thread(
                self.service.accept, req, journal.payload(ask, req))

    async def resume(self, app: Application) -> None:
        """Analyses accepted before a restart and never answered: run them again (``getFile``
        by the journaled ``file_id``) and answer the original message."""
        for job in await journal.resumable(self.service):
            logger.info("resuming an analysis accepted before a restart")
            app.create_task(self._resumed(app.bot, job), name=f"resume-{job['id']}")

    async def _resumed(self, bot, job: dict) -> None:
        p = job["payload"]
        fetch = calls.fetcher(bot, p["file_id"], p.get("max_download") or self.max_download)
        req = journal.request_from(job, fetch)
        reply = await self._run(req, p["language"], bot, p["chat_id"] if req.explicit else None)
        await self._answer(bot, job["id"], reply, p["chat_id"], p["reply_to"],
                           p["chat_type"] in render.GROUP_TYPES, p["user_id"], p["language"])

    def _request(self, bot, msg, target, file, explicit: bool, fetch=None):
        fetch = fetch or calls.fetcher(bot, file.file_id, self.max_download)
        return render.audio_request(target, msg.from_user, msg.chat, file, fetch,
                                    explicit=explicit, max_download_bytes=self.max_download,
                                    asked_in=msg.message_id)

    # --- updates ---------------------------------------------------------------------------------

    async def audio(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A voice note, audio file, video note or document sent to the bot or the group."""
        msg, chat = update.effective_message, update.effective_chat
        if msg.from_user is None:
            return
        private = chat.type == "private"
        file = render.audio_of(msg, any_document=private)
        if file is None:
            return
        await self._analyze(context, msg, msg, file, explicit=private, update=update)

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if user is None or not msg.text:
            return
        name, *args = msg.text.split()
        name = name[1:].split("@")[0].lower()
        if name == "emotion":
            target = msg.reply_to_message
            own = target is not None and target.from_user is not None and target.from_user.is_bot
            file = render.audio_of(target, any_document=not own) if target else None
            if file is not None:
                return await self._analyze(context, msg, target, file, explicit=True,
                                           update=update)
            if not args:
                lang = await self._lang(user)
                return await self._deliver(context, msg, Reply((), headline=text("cmd.emotion.usage", lang)))
            name, *args = args  # "/emotion history 5" works like "/history 5"
        req = CommandRequest(render.sender_of(user), render.chat_key(chat.id), name.lower(),
                             tuple(args), private=chat.type == "private")
        await self._deliver(context, msg, await self._command(req, user))

    async def _command(self, req: CommandRequest, user) -> Reply:
        try:
            return await self.service.command(req)
        except Exception:
            logger.exception("command %s failed", req.command)
            return Reply((), headline=text("error.internal", await self._lang(user)), ok=False)

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, user = update.callback_query, update.effective_user
        with contextlib.suppress(TelegramError):
            await calls.retry(query.answer)
        name, *args = (query.data or "help").split()
        msg = query.message if query.message and query.message.is_accessible else None
        chat_id = msg.chat.id if msg else user.id
        private = msg is None or msg.chat.type == "private"
        req = CommandRequest(render.sender_of(user), render.chat_key(chat_id), name, tuple(args),
                             private=private)
        reply = await self._command(req, user)
        planned = render.plan(reply)
        if msg is not None and private and len(planned) == 1 and not planned[0].file:
            only = planned[0]
            try:  # answer in place: the keyboard's message becomes the result
                await calls.retry(lambda: msg.edit_text(only.text, parse_mode=ParseMode.HTML,
                                                        reply_markup=calls.keyboard(only.buttons)))
                return
            except BadRequest as err:
                if "not modified" in err.message.lower():
                    return
                logger.warning("editing a button message failed: %s", err.message)
        await self._deliver(context, msg, reply, user=user, chat_id=chat_id)

    async def _analyze(self, context, msg, target, file, explicit: bool, update=None) -> None:
        bot, chat, user = context.bot, msg.chat, msg.from_user
        req = self._request(bot, msg, target, file, explicit)
        job = None
        if self.journaled:
            update_id = getattr(update, "update_id", None)
            if update_id in self.jobs:
                job = self.jobs.pop(update_id)
            else:  # not seen by intake (e.g. processed directly): journal it now
                ask = journal.Ask(msg, target, file, explicit)
                job = await journal.call(self.service.accept, req, journal.payload(ask, req))
            if job is None:
                logger.info("ignoring a redelivered update")
                return
            if not await journal.call(self.service.claim, job):
                return
        reply = await self._run(req, user.language_code, bot, chat.id if explicit else None)
        await self._answer(bot, job, reply, chat.id, target.message_id, render.is_group(chat),
                           user.id, user.language_code)

    async def _run(self, req, language_code, bot, typing_in: int | None) -> Reply | None:
        """The Service's answer; "typing…" shows only for an explicit request (an automatic group
        analysis may end in silence)."""
        try:
            if typing_in is None:
                return await self.service.analyze(req)
            async with calls.chat_action(bot, typing_in, ChatAction.TYPING):
                return await self.service.analyze(req)
        except Exception:
            logger.exception("analysis failed")
            return Reply((), headline=text("error.internal",
                                           await self._lang_of(req.sender, language_code)),
                         ok=False)

    async def _answer(self, bot, job, reply, chat_id, reply_to, group, user_id, lang_code) -> None:
        """Deliver an analysis, then close its job; a delivery Telegram kept failing leaves the
        job open, to be resumed at the next start."""
        delivered = True
        if reply is not None:
            try:
                if reply.private and group:
                    await self._send_private(bot, reply, chat_id, reply_to, user_id, lang_code)
                else:
                    delivered = await calls.send_patiently(bot, reply, chat_id, reply_to)
            except TelegramError as err:  # refused for good (blocked, chat gone): do not retry
                logger.warning("delivering an analysis failed: %s", type(err).__name__)
        if job is not None and delivered:
            await journal.call(self.service.finish, job, reply)

    async def _deliver(self, context, msg, reply: Reply, user=None, chat_id=None) -> None:
        """Send ``reply`` in the chat; a private reply asked for in a group goes to the user's
        private chat, with a short pointer (or "open a chat with me first") in the group."""
        bot = context.bot
        user = user or msg.from_user
        chat_id = chat_id if chat_id is not None else msg.chat.id
        group = msg is not None and render.is_group(msg.chat)
        reply_to = msg.message_id if msg is not None else None
        try:
            if reply.private and group:
                await self._send_private(bot, reply, chat_id, reply_to, user.id,
                                         user.language_code)
            else:
                await calls.send(bot, reply, chat_id, reply_to)
        except TelegramError as err:
            logger.warning("delivering a reply failed: %s", type(err).__name__)

    async def _send_private(self, bot, reply, chat_id, reply_to, user_id, lang_code) -> None:
        try:
            await calls.send(bot, reply, user_id, None)
            note = "cmd.private_only"
        except Forbidden:
            note = "cmd.open_private_chat"
        lang = await self._lang_of(render.sender_of_id(user_id, lang_code), lang_code)
        await calls.send(bot, Reply((), headline=text(note, lang)), chat_id, reply_to)

    async def _lang(self, user) -> str:
        return await self._lang_of(render.sender_of(user), user.language_code)

    async def _lang_of(self, sender, language_code) -> str:
        lang_of = getattr(self.service, "lang", None)
        if lang_of is not None:
            with contextlib.suppress(Exception):
                return language(await asyncio.to_thread(lang_of, sender))
        return language(language_code)


async def _log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    logger.error("update handling failed", exc_info=context.error)
