"""Bot API calls with Telegram's manners: replies sent as planned by ``telegram_render``,
downloads checked against the size limit, and "typing…" kept on screen while the core works.
An analysis's reply (``Outbox``) makes each call once and reports a 429 to the core, which waits
as long as Telegram said; short command replies wait out a brief 429 here (``retry``). Errors
never carry a file URL (it holds the bot token).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut

from adapters import telegram_render as render
from bot.reply import Reply
from bot.requests import FetchError

logger = logging.getLogger(__name__)

MB = 1024 * 1024
ATTEMPTS = 4  # per Bot API call, for flood control (429) and dropped connections


async def send(bot, reply: Reply, chat_id: int, reply_to: int | None) -> None:
    await Outbox(reply, chat_id, reply_to).flush(bot)


class Outbox:
    """One reply's calls in order, from the ``sent``-th on; after a failure ``sent`` says how
    far it got, so a later attempt never repeats a message Telegram already accepted.
    ``patient``: wait out short flood control here (command replies); else each call is made
    once and a 429 is raised for the caller to wait."""

    def __init__(self, reply: Reply, chat_id: int, reply_to: int | None, sent: int = 0,
                 patient: bool = True) -> None:
        self.calls, self.chat_id, self.sent = render.plan(reply), chat_id, sent
        self.patient = patient
        self.params = (ReplyParameters(reply_to, allow_sending_without_reply=True)
                       if reply_to else None)

    async def flush(self, bot) -> None:
        while self.sent < len(self.calls):
            try:
                await self._one(bot, self.calls[self.sent])
            except TimedOut:  # it may have arrived: going on beats sending it twice
                self.sent += 1
                raise
            self.sent += 1

    async def _one(self, bot, call) -> None:
        chat_id, params = self.chat_id, self.params
        if call.method == "send_message":
            send = lambda: bot.send_message(  # noqa: E731
                chat_id, call.text, parse_mode=ParseMode.HTML, reply_parameters=params,
                reply_markup=keyboard(call.buttons), disable_web_page_preview=True)
        elif call.method == "send_photo":
            send = lambda: bot.send_photo(chat_id, call.file.data,  # noqa: E731
                                          reply_parameters=params)
        else:
            send = lambda: bot.send_document(chat_id, call.file.data,  # noqa: E731
                                             filename=call.file.filename, reply_parameters=params)
        await (retry(send) if self.patient else send())


async def retry(call, attempts: int = ATTEMPTS, max_wait_s: float = 60.0):
    """Run one Bot API call, waiting out flood control (429 ``retry_after``) and retrying a
    dropped connection; a timeout is not retried (the message may have been sent)."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except RetryAfter as err:
            wait = seconds(err)
            if attempt == attempts or wait > max_wait_s:
                raise
            logger.info("flood control: retrying in %.0f s", wait)
            await asyncio.sleep(wait)
        except TimedOut:
            raise
        except NetworkError:
            if attempt == attempts:
                raise
            await asyncio.sleep(0.5 * attempt)


def seconds(err: RetryAfter) -> float:
    """A 429's ``retry_after`` in seconds (PTB 22 warns that it becomes a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wait = err.retry_after
    return wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)


def fetcher(bot, file_id: str, platform_limit: int, timeout_s: float = 120.0):
    """``fetch(max_bytes)``: ``getFile``, then the download, streamed and stopped at
    ``max_bytes`` and after ``timeout_s`` in all (a file without a declared size is capped too)."""

    async def fetch(max_bytes: int) -> bytes:
        try:
            file = await retry(lambda: bot.get_file(file_id))
        except BadRequest as err:
            if "too big" in err.message.lower():
                raise FetchError("fetch.too_big_for_platform", "getFile: file is too big",
                                 size=f"> {platform_limit / MB:g}",
                                 limit=f"{platform_limit / MB:g}") from None
            raise FetchError("fetch.failed", f"getFile: {err.message}") from None
        except TelegramError as err:
            raise FetchError("fetch.failed", f"getFile: {type(err).__name__}") from None
        if file.file_size is not None and file.file_size > max_bytes:
            raise FetchError("audio.too_large", "getFile size over the limit",
                             size_mb=round(file.file_size / MB, 1), max_mb=max_bytes / MB)
        try:
            async with asyncio.timeout(timeout_s):
                return await _download(file, max_bytes)
        except TimeoutError:
            raise FetchError("fetch.failed", f"download: over {timeout_s:g} s") from None

    return fetch


async def _download(file, max_bytes: int) -> bytes:
    """The file's bytes, at most ``max_bytes``. The URL holds the bot token: never in an error."""
    path = str(file.file_path or "")
    if not path.startswith(("http://", "https://")):  # a local Bot API server's own file
        try:
            data = bytes(await file.download_as_bytearray())
        except TelegramError as err:
            raise FetchError("fetch.failed", f"download: {type(err).__name__}") from None
        if len(data) > max_bytes:
            raise _too_large(len(data), max_bytes)
        return data
    parts = urlsplit(path)
    url = urlunsplit(parts._replace(path=quote(parts.path)))
    chunks, size = [], 0
    try:
        async with httpx.AsyncClient(timeout=30.0) as http, http.stream("GET", url) as resp:
            if resp.status_code != 200:
                raise FetchError("fetch.failed", f"download: HTTP {resp.status_code}")
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(size, max_bytes)
                chunks.append(chunk)
    except httpx.HTTPError as err:
        raise FetchError("fetch.failed", f"download: {type(err).__name__}") from None
    return b"".join(chunks)


def _too_large(size: int, max_bytes: int) -> FetchError:
    """A download stopped at the cap (the whole size is not known then)."""
    return FetchError("audio.too_large", f"download over the limit ({size} bytes read)",
                      size_mb=f"> {max_bytes / MB:.1f}", max_mb=max_bytes / MB)


@contextlib.asynccontextmanager
async def chat_action(bot, chat_id: int, action: str):
    """Keep "typing…" showing (it lasts 5 s) until the block ends."""
    async def keep() -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await bot.send_chat_action(chat_id, action)
            await asyncio.sleep(4.5)

    task = asyncio.create_task(keep())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def keyboard(buttons) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.action)]
                                 for b in buttons])


async def set_commands(bot, core) -> None:
    """The command menu, in English and Chinese."""
    for lang, code in (("en", None), ("zh", "zh")):
        entries = core.command_list("telegram", lang)
        try:
            commands = [BotCommand(name, about[:256]) for name, about in entries]
            await retry(lambda c=commands, code=code: bot.set_my_commands(c, language_code=code))
        except TelegramError as err:
            logger.warning("setMyCommands failed: %s", type(err).__name__)
