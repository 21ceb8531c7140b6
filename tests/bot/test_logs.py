import json
import logging

from bot import logs


def test_user_ref_is_salted_stable_and_short():
    logs.set_salt("a" * 32)
    first = logs.user_ref("telegram:123")
    assert first == logs.user_ref("telegram:123")
    assert first != logs.user_ref("telegram:124")
    assert "123" not in first and first.startswith("u:") and 14 == len(first)
    logs.set_salt("b" * 32)
    assert first != logs.user_ref("telegram:123")


def test_json_lines_and_quiet_http_loggers(capsys):
    logs.configure("INFO", "json")
    logging.getLogger("bot.test").info("analysed %s", "u:abc")
    logging.getLogger("httpx").info("POST https://api.telegram.org/bot123:SECRET/getFile")
    line = capsys.readouterr().err.strip().splitlines()
    assert 1 == len(line)
    entry = json.loads(line[0])
    assert ("INFO", "bot.test", "analysed u:abc") == (entry["level"], entry["logger"], entry["message"])
    logs.configure("WARNING", "text")


# --- redaction: no configured secret, token or secret URL in any line ---------------------------

import asyncio  # noqa: E402
import io  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402

TOKEN = "7000123456:AAE-logs-test-token-abcdefghij"
SIGNING = "logs-signing-secret-5a4b3c"


def product_log(fmt: str = "text") -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    log = logging.getLogger("bot.test.redaction")
    log.handlers[:] = [logs.handler(fmt, stream)]
    log.propagate, log.level = False, logging.DEBUG
    return log, stream


def test_configured_secrets_never_reach_a_line_message_args_or_traceback():
    logs.protect([TOKEN, SIGNING, ""])
    log, stream = product_log()
    log.debug("calling https://api.telegram.org/bot%s/getMe", TOKEN)
    log.info(f"signing with {SIGNING}")
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        log.exception("start failed")
    written = stream.getvalue()
    assert TOKEN not in written and SIGNING not in written
    assert "calling https://api.telegram.org/bot[redacted]/getMe" in written
    assert f"signing with {logs.MASK}" in written
    assert f"RuntimeError: The token `{logs.MASK}` was rejected by the server." in written


@pytest.mark.parametrize("line, kept", [
    ("GET https://api.telegram.org/file/bot999:unknown-token/voice/f.oga", "/bot[redacted]/voice"),
    ("respond to https://hooks.slack.com/commands/T1/123/abcDEF now", "respond to [redacted] now"),
    ("fetch https://files.slack.com/files-pri/T1-F1/download/a.ogg", "fetch [redacted]"),
    ("token xoxb-1234-5678-abcdefgh and xapp-1-A1-12345-zzzz", "token [redacted] and [redacted]"),
    ("bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0 in text", "bot [redacted] in text"),
])
def test_token_shapes_and_secret_urls_are_masked_even_when_not_configured(line, kept):
    log, stream = product_log("json")
    log.warning(line)
    message = json.loads(stream.getvalue())["message"]
    assert kept in message
    assert not any(part in message for part in ("unknown-token", "abcDEF", "files-pri",
                                                 "abcdefgh", "AAHdq"))


def test_a_record_redacted_by_the_product_handler_is_redacted_for_later_handlers():
    logs.protect([TOKEN])
    stream, later = io.StringIO(), io.StringIO()
    log = logging.getLogger("bot.test.order")
    log.handlers[:] = [logs.handler("text", stream), logging.StreamHandler(later)]
    log.propagate = False
    log.error("token %s", TOKEN)
    assert TOKEN not in stream.getvalue() + later.getvalue()


def test_bolt_logs_no_body_at_debug_and_malformed_headers_get_401(caplog):
    """Bolt's per-class loggers copy the level of the logger they are built from: the adapter
    hands it one at WARNING, so even with the root at DEBUG a refused request's body (a
    response_url, file URLs, user ids) is never logged; malformed signature headers are a 401."""
    from adapters import slack
    from bot.settings import Secrets, from_mapping
    from tests.adapters.fake_slack import signed_headers
    from tests.adapters.startup_kit import free_port

    caplog.set_level(logging.DEBUG)
    logs.protect([SIGNING, "xoxb-logs-test"])
    port = free_port()
    settings = from_mapping({"slack": {"port": port}},
                            secrets=Secrets(slack_bot_token="xoxb-logs-test",
                                            slack_signing_secret=SIGNING))
    auth = {"ok": True, "user_id": "UBOT", "bot_id": "B1", "team_id": "T1"}
    body = urlencode({"command": "/emotion", "text": "history", "user_id": "U0SECRETUSER",
                      "team_id": "T1", "channel_id": "C1",
                      "response_url": "https://hooks.slack.com/commands/T1/1/SECRETPATH",
                      "file": "https://files.slack.com/files-pri/T1-F1/SECRETFILE"})
    url = f"http://127.0.0.1:{port}{slack.EVENTS_PATH}"

    async def scenario():
        app = slack.build_app(settings, auth)
        slack.register(app, bridge=None)
        runner = await slack.start_http(app, "127.0.0.1", port)
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                codes = []
                for headers in (signed_headers(body, "not-the-secret"),
                                {**signed_headers(body, SIGNING), "X-Slack-Request-Timestamp": ""},
                                {**signed_headers(body, SIGNING), "X-Slack-Request-Timestamp": "12ab"},
                                {"Content-Type": "application/x-www-form-urlencoded"}):
                    resp = await http.post(url, content=body.encode(), headers=headers)
                    codes.append(resp.status_code)
                return codes
        finally:
            await runner.cleanup()

    assert [401, 401, 401, 401] == asyncio.run(scenario())
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in ("U0SECRETUSER", "SECRETPATH", "SECRETFILE", SIGNING, "xoxb-logs-test"):
        assert secret not in text
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert 1 == len([r for r in caplog.records if "bad signature" in r.getMessage()])
