"""A fake Telegram Bot API on 127.0.0.1 that the real python-telegram-bot talks HTTP to.

It serves getMe, deleteWebhook, getUpdates (long polling over a queue the test fills), getFile and
the file bytes, the send*/edit* methods, setMyCommands, answerCallbackQuery and any other method
(answered ``true``), and records every call with its time. Like Telegram, ``getUpdates`` with an
``offset`` confirms (forgets) every earlier update. Faults on demand: bursts of 429 with
``retry_after`` or of 5xx on the next calls of a method, 403 for chats that never started the
bot, 400 "file is too big" like the cloud API for files over 20 MB. Time-based flood control
like Telegram's (``flood_control``, ``ban``): a send too soon after the last one in a chat, or
over a group's per-minute allowance, gets 429 with the ``retry_after`` still left, and a send
during a ban prolongs it, as Telegram punishes. Outages like the real network's:
``outage(seconds=..., requests=...)`` makes every Bot API call answer 502 Bad Gateway (or, with
``status=0``, drop the connection unanswered) for a while, then recover; ``rejected = True``
answers 401 Unauthorized like Telegram for a revoked token. Builders at the bottom make update
dicts.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import math
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

from tests.adapters.outages import Outages

TOKEN = "123456:TEST-token"
BOT = {"id": 123456, "is_bot": True, "first_name": "Emotion", "username": "emotion_test_bot",
       "can_join_groups": True, "can_read_all_group_messages": False,
       "supports_inline_queries": False}
CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024


@dataclass
class Recorded:
    method: str
    params: dict
    files: dict = field(default_factory=dict)  # field name -> (filename, bytes)
    status: int = 200
    at: float = field(default_factory=time.monotonic)


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Recorded] = []
        self.files: dict[str, tuple[bytes, int]] = {}  # file_id -> (data, reported size)
        self.forbidden: set[int] = set()  # chat ids that answer 403
        self.sizeless: set[str] = set()  # file_ids whose getFile has no file_size
        self.faults: dict[str, list[tuple[int, int]]] = {}  # method -> [(status, retry_after)]
        self.rejected = False  # True: every call answers 401 Unauthorized (a revoked token)
        self._outages = Outages()  # phases, in order (see ``outage``)
        self._updates: list[dict] = []
        self._flood: tuple[float, int, float] | None = None  # see flood_control
        self._bans: dict[int, tuple[float, float, float]] = {}  # chat -> (until, length,
        # the time the last refusal said the bot may send again)
        self._sent_at: dict[int, list[float]] = {}  # chat -> times of accepted sends
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def __enter__(self) -> FakeTelegram:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what tests do -------------------------------------------------------------------------

    def push(self, update: dict) -> int:
        with self._cond:
            update = {"update_id": next(self._ids), **update}
            self._updates.append(update)
            self._cond.notify_all()
        return update["update_id"]

    def add_file(self, file_id: str, data: bytes, size: int | None = None) -> None:
        self.files[file_id] = (data, len(data) if size is None else size)

    def fail_next(self, method: str, status: int = 429, retry_after: int = 1,
                  times: int = 1) -> None:
        """The next ``times`` calls of ``method`` fail with ``status`` (429 says ``retry_after``)."""
        with self._cond:
            self.faults.setdefault(method, []).extend([(status, retry_after)] * times)

    # --- flood control -----------------------------------------------------------------------

    def flood_control(self, per_chat_s: float = 1.0, group_per_minute: int = 20,
                      minute_s: float = 60.0) -> None:
        """Telegram's limits, scaled as a test likes: at most one message per ``per_chat_s``
        in a private chat, ``group_per_minute`` per ``minute_s`` in a group."""
        with self._cond:
            self._flood = (per_chat_s, group_per_minute, minute_s)

    def ban(self, chat_id: int, seconds: float) -> None:
        """Every send to ``chat_id`` in the next ``seconds`` is refused with 429; a send during
        the ban starts it again (what Telegram does to bots that ignore ``retry_after``)."""
        with self._cond:
            self._bans[chat_id] = (time.monotonic() + seconds, seconds, 0.0)

    def refused(self, chat_id: int | None = None) -> list[Recorded]:
        """The sends answered 429."""
        return [c for c in self.recorded() if c.status == 429 and c.method.startswith("send")
                and (chat_id is None or _int(c.params.get("chat_id")) == chat_id)]

    def _flood_answer(self, chat_id: int | None) -> int | None:
        """``retry_after`` (whole seconds, at least 1) when this send is over a limit, else
        None (and the send is counted). Called with the lock held."""
        now = time.monotonic()
        ban = self._bans.get(chat_id)
        if ban is not None and now < ban[0]:
            until, length, announced = ban
            if now < announced:  # sent before the time it was told: the ban starts again
                until = now + length
            retry_after = max(1, math.ceil(until - now))
            self._bans[chat_id] = (until, length, now + retry_after)
            return retry_after
        if self._flood is None or chat_id is None:
            return None
        per_chat_s, group_per_minute, minute_s = self._flood
        sent = self._sent_at.setdefault(chat_id, [])
        if chat_id > 0 and sent and now - sent[-1] < per_chat_s:
            return max(1, math.ceil(per_chat_s - (now - sent[-1])))
        recent = [t for t in sent if now - t < minute_s]
        if chat_id < 0 and len(recent) >= group_per_minute:
            return max(1, math.ceil(minute_s - (now - recent[0])))
        sent.append(now)
        return None

    def outage(self, seconds: float | None = None, requests: int | None = None,
               status: int = 502) -> None:
        """Every Bot API call fails for ``seconds`` (counted from the first call it meets) or for
        the next ``requests`` calls, then the API recovers: ``status`` 502 (a proxy in front of a
        Bot API that is down) or 0 (the connection closed unanswered: the network is not up).
        Calls queue: an outage added during another begins when that one ends."""
        self._outages.add(seconds, requests, status)

    def recorded(self, method: str | None = None) -> list[Recorded]:
        with self._cond:
            return [c for c in self.calls if method is None or c.method == method]

    def sent(self, chat_id: int | None = None, method: str = "sendMessage") -> list[Recorded]:
        return [c for c in self.recorded(method) if c.status == 200
                and (chat_id is None or int(c.params["chat_id"]) == chat_id)]

    def wait_for(self, predicate, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.02)
        seen = [(c.method, c.status, str(c.params.get("text", ""))[:200])
                for c in self.recorded() if c.method != "getUpdates"]
        raise AssertionError(f"condition not met within {timeout} s; calls: {seen}")

    # --- the API -------------------------------------------------------------------------------

    def _answer(self, method: str, params: dict, files: dict) -> tuple[int, dict]:
        with self._cond:
            faults = self.faults.get(method)
            fault = faults.pop(0) if faults else None
        if fault is not None:
            status, retry_after = fault
            if status != 429:
                return status, {"ok": False, "error_code": status,
                                "description": "Internal Server Error"}
            return status, {"ok": False, "error_code": status,
                            "description": f"Too Many Requests: retry after {retry_after}",
                            "parameters": {"retry_after": retry_after}}
        chat_id = _int(params.get("chat_id"))
        if method.startswith("send") and method != "sendChatAction":
            with self._cond:
                retry_after = self._flood_answer(chat_id)
            if retry_after is not None:
                return 429, {"ok": False, "error_code": 429,
                             "description": f"Too Many Requests: retry after {retry_after}",
                             "parameters": {"retry_after": retry_after}}
        if chat_id in self.forbidden and method.startswith("send"):
            return 403, {"ok": False, "error_code": 403,
                         "description": "Forbidden: bot can't initiate conversation with a user"}
        if method == "getMe":
            return 200, {"ok": True, "result": BOT}
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._poll(params)}
        if method == "getFile":
            file_id = params.get("file_id")
            if file_id not in self.files:
                return 400, {"ok": False, "error_code": 400,
                             "description": "Bad Request: invalid file_id"}
            size = self.files[file_id][1]
            if size > CLOUD_DOWNLOAD_LIMIT:
                return 400, {"ok": False, "error_code": 400,
                             "description": "Bad Request: file is too big"}
            result = {"file_id": file_id, "file_unique_id": file_id, "file_path": f"f/{file_id}"}
            if file_id not in self.sizeless:  # getFile may leave file_size out
                result["file_size"] = size
            return 200, {"ok": True, "result": result}
        if method in ("sendMessage", "editMessageText", "sendDocument", "sendPhoto"):
            chat = {"id": chat_id, "type": "private" if chat_id and chat_id > 0 else "group",
                    "title": "g"}
            result = {"message_id": _int(params.get("message_id")) or next(self._message_ids),
                      "date": int(time.time()), "chat": chat, "text": params.get("text", "")}
            if method == "sendDocument":
                name = files.get("document", ("file",))[0]
                result["document"] = {"file_id": "d1", "file_unique_id": "d1", "file_name": name}
            if method == "sendPhoto":
                result["photo"] = [{"file_id": "p1", "file_unique_id": "p1", "width": 1,
                                    "height": 1}]
            return 200, {"ok": True, "result": result}
        return 200, {"ok": True, "result": True}

    def _poll(self, params: dict) -> list[dict]:
        offset = _int(params.get("offset")) or 0
        wait = min(float(params.get("timeout") or 0), 0.5)
        with self._cond:
            if offset:  # confirmed: Telegram will not send these again
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._cond.wait_for(lambda: any(u["update_id"] >= offset for u in self._updates),
                                timeout=wait)
            return [u for u in self._updates if u["update_id"] >= offset][:100]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                prefix, path = f"/file/bot{fake.token}/f/", unquote(self.path)
                file_id = path[len(prefix):] if path.startswith(prefix) else None
                with fake._cond:
                    fake.calls.append(Recorded("download", {"file_id": file_id}))
                if file_id not in fake.files:
                    self._reply(404, b"not found", "text/plain")
                    return
                self._reply(200, fake.files[file_id][0], "application/octet-stream")

            def do_POST(self) -> None:
                prefix, path = f"/bot{fake.token}/", unquote(self.path)
                if not path.startswith(prefix):
                    self._reply(401, b'{"ok":false,"error_code":401,"description":"Unauthorized"}')
                    return
                method = path[len(prefix):]
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                down = fake._outages.now()
                if down is not None or fake.rejected:
                    status = 401 if down is None else down
                    with fake._cond:
                        fake.calls.append(Recorded(method, {}, {}, status))
                    if status == 0:  # the network is down: no answer at all
                        self.close_connection = True
                        return
                    text = "Unauthorized" if status == 401 else "Bad Gateway"
                    self._reply(status, json.dumps({"ok": False, "error_code": status,
                                                    "description": text}).encode())
                    return
                params, files = _parse(self.headers.get("Content-Type", ""), body)
                status, answer = fake._answer(method, params, files)
                with fake._cond:
                    fake.calls.append(Recorded(method, params, files, status))
                self._reply(status, json.dumps(answer).encode())

            def _reply(self, status: int, data: bytes, ctype: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the bot stopped polling
                    pass

        return Handler


def _parse(ctype: str, body: bytes) -> tuple[dict, dict]:
    """Form, multipart or JSON body -> (params, files). JSON-looking values are decoded."""
    params: dict = {}
    files: dict = {}
    if ctype.startswith("multipart/"):
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            if part.get_filename():
                files[name] = (part.get_filename(), data)
            else:
                params[name] = data.decode()
    elif ctype.startswith("application/json") and body:
        params = json.loads(body)
    elif body:
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    for key, value in list(params.items()):
        if isinstance(value, str) and value[:1] in "{[":
            try:
                params[key] = json.loads(value)
            except ValueError:
                pass
    return params, files


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- update builders -----------------------------------------------------------------------------

_message_ids = itertools.count(1)


def user(user_id: int, lang: str = "en") -> dict:
    return {"id": user_id, "is_bot": False, "first_name": f"U{user_id}", "language_code": lang}


def chat(chat_id: int) -> dict:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"U{chat_id}"}
    return {"id": chat_id, "type": "supergroup", "title": "Group"}


def message(chat_id: int, from_id: int, **fields) -> dict:
    return {"message_id": next(_message_ids), "date": int(time.time()), "chat": chat(chat_id),
            "from": user(from_id), **fields}


def voice(file_id: str, size: int, duration: int = 3) -> dict:
    return {"voice": {"file_id": file_id, "file_unique_id": file_id, "duration": duration,
                      "mime_type": "audio/ogg", "file_size": size}}


def document(file_id: str, size: int, name: str, mime: str) -> dict:
    return {"document": {"file_id": file_id, "file_unique_id": file_id, "file_name": name,
                         "mime_type": mime, "file_size": size}}


def command(chat_id: int, from_id: int, text: str, reply_to: dict | None = None) -> dict:
    name = text.split()[0]
    fields = {"text": text, "entities": [{"type": "bot_command", "offset": 0,
                                          "length": len(name)}]}
    if reply_to is not None:
        fields["reply_to_message"] = reply_to
    return {"message": message(chat_id, from_id, **fields)}


def callback(chat_id: int, from_id: int, data: str, message_id: int = 1) -> dict:
    return {"callback_query": {
        "id": f"cb{next(_message_ids)}", "from": user(from_id), "chat_instance": "ci",
        "data": data, "message": {"message_id": message_id, "date": int(time.time()),
                                  "chat": chat(chat_id), "from": BOT, "text": "?"}}}


# --- shared identities, media that is not a voice note (tests of who speaks, nothing silent) -----

ANONYMOUS_ADMIN = 1087968824  # GroupAnonymousBot: every anonymous admin of every group
CHANNEL_SERVICE = 777000  # "Telegram": posts of a linked channel in its discussion group


def shared_user(user_id: int) -> dict:
    names = {ANONYMOUS_ADMIN: "GroupAnonymousBot", CHANNEL_SERVICE: "Telegram"}
    return {"id": user_id, "is_bot": user_id == ANONYMOUS_ADMIN, "first_name": names[user_id],
            "username": names[user_id]}


def as_shared(msg: dict, user_id: int, channel_id: int = -100555) -> dict:
    """``msg`` posted by an anonymous admin (as the group) or as a linked channel's post."""
    msg = {**msg, "from": shared_user(user_id)}
    if user_id == ANONYMOUS_ADMIN:
        msg["sender_chat"] = {"id": msg["chat"]["id"], "type": "supergroup", "title": "Group"}
    else:
        channel = {"id": channel_id, "type": "channel", "title": "Channel"}
        msg.update(sender_chat=channel, is_automatic_forward=True, forward_origin={
            "type": "channel", "date": 1, "chat": channel, "message_id": 3})
    return msg


def video(file_id: str, size: int, duration: int = 3) -> dict:
    return {"video": {"file_id": file_id, "file_unique_id": file_id, "width": 64, "height": 64,
                      "duration": duration, "mime_type": "video/mp4", "file_size": size}}


def photo(file_id: str = "ph1") -> dict:
    return {"photo": [{"file_id": file_id, "file_unique_id": file_id, "width": 90,
                       "height": 90, "file_size": 1200}]}


def sticker(file_id: str = "st1") -> dict:
    return {"sticker": {"file_id": file_id, "file_unique_id": file_id, "type": "regular",
                        "width": 512, "height": 512, "is_animated": False, "is_video": False,
                        "emoji": "🙂"}}


def hidden_forward() -> dict:
    """Forwarded from someone whose privacy settings hide who they are."""
    return {"forward_origin": {"type": "hidden_user", "date": 1, "sender_user_name": "Someone"}}
