"""Telegram: python-telegram-bot updates -> requests for the core; replies -> Bot API calls.

``build(settings, core)`` makes the ``Application`` (a self-hosted Bot API server or a test fake
via ``[telegram] base_url``/``base_file_url``; updates handled concurrently); ``serve(settings,
core, stop, status)`` connects (network errors and 5xx retried with capped backoff for
``[server] start_retry_s``; a rejected token is ``bot.core.Rejected`` naming the variable), runs
it by long polling or PTB's webhook server until ``stop`` is set, and reports the connection on
``status``: ``ok`` from the first answered ``getUpdates``, ``reconnecting`` while PTB's polling
loop retries an outage (one warning line per failed poll, no traceback); a token revoked while
polling is ``Rejected`` too. An update asking for an analysis becomes a ``Job``
(``telegram_jobs``) in ``telegram_intake`` before Telegram is told it arrived; the core
(``bot.core.Core``) runs it and calls back its ``deliver``. Commands and buttons go
through the handlers here. What a request means and what the reply says are the core's business:
this module only translates and delivers (``telegram_render`` holds the pure translations,
``telegram_calls`` the Bot API manners).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlparse

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import (BadRequest, InvalidToken, NetworkError, TelegramError)
from telegram.ext import (AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler,
                          CommandHandler, ContextTypes, MessageHandler, filters)

from adapters import telegram_calls as calls
from adapters import telegram_intake as intake
from adapters import telegram_jobs as jobs
from adapters import telegram_render as render
from adapters.telegram_polling import Polling, poll_failed, transient
from bot.core import (Backoff, Core, NotAccepted, Rejected, Status,
                      connect)
from bot.reply import Reply
from bot.requests import CommandRequest
from bot.settings import Settings

logger = logging.getLogger(__name__)

MB = 1024 * 1024
UPDATES = ["message", "callback_query"]
EXTRA_COMMANDS = ("consent",)  # understood here but not in the core's menu list


def build(settings: Settings, core: Core, polling: Polling | None = None) -> Application:
    token = settings.secrets.telegram_bot_token
    if not token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and "
                         "export its token")
    for name, level in (("httpx", logging.WARNING), ("httpcore", logging.WARNING),
                        ("telegram", logging.INFO),  # lower levels print URLs with the token
                        ("telegram.ext.AIORateLimiter", logging.CRITICAL)):  # a traceback per
        # 429 it passes on (max_retries=0); the core logs one line and waits
        logging.getLogger(name).setLevel(level)
    tg = settings.telegram
    queue = intake.IntakeQueue()
    # AIORateLimiter keeps under Telegram's limits (30 messages/s overall, 20/min per group)
    # before a 429 happens; max_retries=0: a 429 still reaching us goes to the core, which waits
    # as long as Telegram said instead of stacking retries.
    app = (ApplicationBuilder().token(token).base_url(tg.base_url)
           .base_file_url(tg.base_file_url).update_queue(queue)
           .rate_limiter(AIORateLimiter(max_retries=0))
           .get_updates_request(polling or Polling(Status("telegram")))
           .concurrent_updates(tg.concurrent_updates).build())
    handlers = Handlers(core, settings)
    register(app, handlers)
    queue.intake = lambda update: handlers.intake(update, app.bot)
    return app


def register(app: Application, handlers: Handlers) -> None:
    names = [name for name, _ in handlers.core.command_list("telegram", "en")]
    app.add_handler(CommandHandler(names + list(EXTRA_COMMANDS), handlers.command))
    app.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, handlers.command))
    # In a private chat nothing goes unanswered: what isn't audio (text, photos, stickers) gets
    # a pointer to /help (audio never reaches the handlers: the intake took it).
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND
                                   & ~filters.StatusUpdate.ALL, handlers.pointer))
    app.add_handler(CallbackQueryHandler(handlers.button))
    app.add_error_handler(_log_error)


async def serve(settings: Settings, core: Core, stop: asyncio.Event,
                status: Status | None = None) -> None:
    """Run the bot until ``stop`` is set: long polling, or a webhook on ``webhook_host:port``.
    Raises ``Rejected`` for a refused token or webhook secret, ``GaveUp`` when Telegram stayed
    unreachable for ``[server] start_retry_s``."""
    tg = settings.telegram
    secret = settings.secrets.telegram_webhook_secret
    if tg.mode == "webhook" and not secret:
        raise ValueError("[telegram] mode = \"webhook\" needs TELEGRAM_WEBHOOK_SECRET (1-256 of "
                         "A-Z a-z 0-9 _ -), so that only Telegram can post updates")
    status = status or Status("telegram")
    polling = Polling(status)
    app = build(settings, core, polling)
    backoff = Backoff.of(settings.server)

    async def initialize() -> bool:
        await app.initialize()  # getMe
        return True

    async def start() -> bool:
        if tg.mode == "webhook":
            await app.updater.start_webhook(
                listen=tg.webhook_host, port=tg.webhook_port,
                url_path=urlparse(tg.webhook_url).path or "/telegram",
                webhook_url=tg.webhook_url or None, secret_token=secret,
                allowed_updates=UPDATES)
            logger.info("telegram webhook on %s:%s", tg.webhook_host, tg.webhook_port)
            status.ok()  # setWebhook accepted and the server listens
        else:
            await app.bot.delete_webhook()  # retried here, so that PTB's bootstrap call succeeds
            await app.updater.start_polling(
                poll_interval=0.0, timeout=int(tg.poll_timeout_s), allowed_updates=UPDATES,
                error_callback=lambda err: poll_failed(err, status))
            logger.info("telegram long polling started")
        return True

    try:
        try:
            if not await connect("telegram", initialize, transient, backoff, stop):
                return  # stopped while waiting for Telegram
            await app.start()
            # Before new updates: they may be redeliveries of these.
            await core.resume("telegram", lambda row: jobs.revive(app.bot, core, row, settings))
            if not await connect("telegram", start, transient, backoff, stop):
                return
        except InvalidToken:  # PTB's message holds the token itself: never pass it on
            raise Rejected("Telegram", "TELEGRAM_BOT_TOKEN") from None
        except BadRequest as err:
            if "secret" in err.message.lower():
                raise Rejected("Telegram", "TELEGRAM_WEBHOOK_SECRET") from None
            raise
        await calls.set_commands(app.bot, core)  # last: once the menu is set, the bot listens
        waiting = [asyncio.create_task(stop.wait()), asyncio.create_task(polling.revoked.wait())]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for task in waiting:
            task.cancel()
        if polling.revoked.is_set() and not stop.is_set():  # PTB's polling has ended for good
            raise Rejected("Telegram", "TELEGRAM_BOT_TOKEN")
    finally:
        if app.updater.running:
            with contextlib.suppress(InvalidToken):  # polling ended on it (already handled)
                await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


class JournalUnavailable(NetworkError):
    """Raised from the update queue while the journal cannot be written. PTB's polling loop
    retries a ``TelegramError`` with backoff and fetches the same updates again (the offset
    was not moved on); any other exception would stop polling for good."""


class Handlers:
    def __init__(self, core: Core, settings: Settings) -> None:
        self.core = core
        self.max_download = int(settings.telegram.max_download_mb * MB)
        self.download_timeout_s = settings.audio.download_timeout_s

    async def intake(self, update, bot) -> bool:
        """An update that asks for an analysis becomes a journaled job (True: taken)."""
        if not isinstance(update, Update):
            return False
        ask = intake.ask_of(update, bot.username)
        if ask is None:
            return False
        fetch = calls.fetcher(bot, ask.file.file_id, self.max_download, self.download_timeout_s)
        req = render.audio_request(ask.target, ask.msg.from_user, ask.msg.chat, ask.file, fetch,
                                   explicit=ask.explicit, max_download_bytes=self.max_download,
                                   asked_in=ask.msg.message_id)
        try:
            await self.core.submit(jobs.job_of(bot, self.core, req, intake.payload(ask, req)))
        except NotAccepted as err:  # not confirmed to Telegram: polling retries, a webhook 500s
            raise JournalUnavailable(f"the update could not be stored ({err})") from None
        return True

    async def command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if user is None or not msg.text:
            return
        name, *args = msg.text.split()
        name = name[1:].split("@")[0].lower()
        if name == "emotion" and args:  # "/emotion history 5" works like "/history 5"
            name, *args = args
        req = CommandRequest(render.sender_of(user), render.chat_key(chat.id), name.lower(),
                             tuple(args), private=chat.type == "private")
        await self._deliver(context.bot, msg, await self.core.command(req), user, chat.id)

    async def pointer(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Text, a photo, a sticker… in a private chat: what I can do instead of silence."""
        msg, user = update.effective_message, update.effective_user
        if msg is None or user is None or user.is_bot:
            return
        reply = await self.core.notice("send_audio", render.sender_of(user))
        await self._deliver(context.bot, msg, reply, user, msg.chat.id)

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
        reply = await self.core.command(req)
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
        await self._deliver(context.bot, msg, reply, user, chat_id)

    async def _deliver(self, bot, msg, reply: Reply, user, chat_id: int) -> None:
        """Send ``reply`` in the chat; a private reply asked for in a group goes to the user's
        private chat, with a short pointer in the group."""
        reply_to = msg.message_id if msg is not None else None
        try:
            if reply.private and msg is not None and render.is_group(msg.chat):
                await jobs.send_private(bot, self.core, reply, chat_id, reply_to, render.sender_of(user))
            else:
                await calls.send(bot, reply, chat_id, reply_to)
        except TelegramError as err:
            logger.warning("delivering a reply failed: %s", type(err).__name__)


async def _log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    logger.error("update handling failed", exc_info=context.error)
