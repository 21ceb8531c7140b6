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

from telegram import BotCommand, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler,
                          ContextTypes, MessageHandler, filters)

from adapters import telegram_calls as calls
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


def build(settings: Settings, service) -> Application:
    token = settings.secrets.telegram_bot_token
    if not token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and "
                         "export its token")
    for name, level in (("httpx", logging.WARNING), ("httpcore", logging.WARNING),
                        ("telegram", logging.INFO)):  # their lower levels print URLs with the token
        logging.getLogger(name).setLevel(level)
    tg = settings.telegram
    builder = (ApplicationBuilder().token(token).base_url(tg.base_url)
               .base_file_url(tg.base_file_url)
               .concurrent_updates(tg.concurrent_updates))
    if tg.mode == "webhook":
        builder = builder.updater(None)
    app = builder.build()
    register(app, service, settings)
    return app


def register(app: Application, service, settings: Settings) -> None:
    handlers = Handlers(service, settings)
    names = [name for name, _ in service.command_list("telegram", "en")] + list(EXTRA_COMMANDS)
    app.add_handler(CommandHandler(names, handlers.command))
    app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, handlers.command))
    media = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE | filters.Document.ALL
    app.add_handler(MessageHandler(media & filters.UpdateType.MESSAGE, handlers.audio))
    app.add_handler(CallbackQueryHandler(handlers.button))
    app.add_error_handler(_log_error)


async def serve(settings: Settings, service, stop: asyncio.Event) -> None:
    """Run the bot until ``stop`` is set: long polling, or a webhook on ``webhook_host:port``."""
    tg = settings.telegram
    secret = settings.secrets.telegram_webhook_secret
    if tg.mode == "webhook" and not secret:
        raise ValueError("[telegram] mode = \"webhook\" needs TELEGRAM_WEBHOOK_SECRET (1-256 of "
                         "A-Z a-z 0-9 _ -), so that only Telegram can post updates")
    app = build(settings, service)
    async with app:
        await app.start()
        server = None
        try:
            if tg.mode == "webhook":
                path = urlparse(tg.webhook_url).path or "/telegram"
                server = await telegram_webhook.start(
                    tg.webhook_host, tg.webhook_port, path, secret,
                    lambda data: app.update_queue.put_nowait(Update.de_json(data, app.bot)))
                if tg.webhook_url:
                    await calls.retry(lambda: app.bot.set_webhook(
                        tg.webhook_url, secret_token=secret, allowed_updates=UPDATES))
                logger.info("telegram webhook on %s:%s", tg.webhook_host, tg.webhook_port)
            else:
                await app.updater.start_polling(
                    poll_interval=0.0, timeout=int(tg.poll_timeout_s),
                    allowed_updates=UPDATES)
                logger.info("telegram long polling started")
            await _set_commands(app, service)  # last: once the menu is set, the bot listens
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

    async def audio(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A voice note, audio file, video note or document sent to the bot or the group."""
        msg, chat = update.effective_message, update.effective_chat
        if msg.from_user is None:
            return
        private = chat.type == "private"
        file = render.audio_of(msg, any_document=private)
        if file is None:
            return
        await self._analyze(context, msg, msg, file, explicit=private)

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
                return await self._analyze(context, msg, target, file, explicit=True)
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

    async def _analyze(self, context, msg, target, file, explicit: bool) -> None:
        chat, user = msg.chat, msg.from_user
        fetch = calls.fetcher(context.bot, file.file_id, self.max_download)
        req = render.audio_request(target, user, chat, file, fetch, explicit=explicit,
                                   max_download_bytes=self.max_download)
        try:
            if explicit:
                async with calls.chat_action(context.bot, chat.id, ChatAction.TYPING):
                    reply = await self.service.analyze(req)
            else:  # an automatic group analysis may end in silence: show nothing meanwhile
                reply = await self.service.analyze(req)
        except Exception:
            logger.exception("analysis failed")
            reply = Reply((), headline=text("error.internal", await self._lang(user)), ok=False)
        if reply is not None:
            await self._deliver(context, target, reply, user=user)

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
                try:
                    await calls.send(bot, reply, user.id, None)
                    note = "cmd.private_only"
                except Forbidden:
                    note = "cmd.open_private_chat"
                lang = await self._lang(user)
                await calls.send(bot, Reply((), headline=text(note, lang)), chat_id, reply_to)
            else:
                await calls.send(bot, reply, chat_id, reply_to)
        except TelegramError as err:
            logger.warning("delivering a reply failed: %s", type(err).__name__)

    async def _lang(self, user) -> str:
        lang_of = getattr(self.service, "lang", None)
        if lang_of is not None:
            with contextlib.suppress(Exception):
                return language(await asyncio.to_thread(lang_of, render.sender_of(user)))
        return language(user.language_code)


async def _set_commands(app: Application, service) -> None:
    for lang, code in (("en", None), ("zh", "zh")):
        entries = service.command_list("telegram", lang)
        try:
            await calls.retry(lambda: app.bot.set_my_commands(
                [BotCommand(name, about[:256]) for name, about in entries], language_code=code))
        except TelegramError as err:
            logger.warning("setMyCommands failed: %s", type(err).__name__)


async def _log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    logger.error("update handling failed", exc_info=context.error)
