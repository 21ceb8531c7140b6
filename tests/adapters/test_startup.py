"""Start-up and reconnection through ``emotion-bot run``'s own code (``bot.runner.run``): the real
python-telegram-bot and slack-bolt against the fake platforms, which are down for the first
seconds, reject a token, or drop the connection mid-run. Each test reads ``/readyz`` as an
operator's probe would, and checks the whole log for the test's secrets."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode, urlparse

import httpx
import pytest

from adapters import slack
from bot.settings import Secrets
from tests.adapters import fake_telegram as fake
from tests.adapters.fake_slack import FakeSlack, FakeSocket, signed_headers
from tests.adapters.startup_kit import free_port, running, settings_for, until

TG_TOKEN = "7000123456:AAE-startup-test-token-0123456789abc"


def telegram_settings(tg, model_dir, tmp_path, server=None):
    return settings_for(model_dir, tmp_path, Secrets(telegram_bot_token=TG_TOKEN), server,
                        telegram={"base_url": tg.base_url, "base_file_url": tg.base_file_url,
                                  "poll_timeout_s": 1})


def test_telegram_down_at_start_is_retried_then_polls(tmp_path, tiny_model_dir, log):
    with fake.FakeTelegram(TG_TOKEN) as tg:
        tg.outage(requests=3, status=0)  # the network is not up yet: connections dropped
        tg.outage(seconds=1.0)  # ...then a proxy answering 502 for a second

        async def scenario():
            async with running(telegram_settings(tg, tiny_model_dir, tmp_path)) as bot:
                await bot.wait_line("telegram", "starting", 10)
                assert 503 == (await bot.ready())[0]
                await bot.wait_line("telegram", "ok", 20)
                status, body = await bot.ready()
                tg.push(fake.command(5, 5, "/help"))
                await asyncio.to_thread(tg.wait_for, lambda: tg.sent(5), 20)
                return status, body, await bot.stop()

        status, body, code = asyncio.run(scenario())
    assert (200, "model: ok\ndatabase: ok\ntelegram: ok\n", 0) == (status, body, code)
    attempts = log.lines("telegram: cannot connect (attempt")
    assert len(attempts) >= 2 and "Traceback" not in log.written
    assert all("trying again in" in line for line in attempts)
    log.assert_clean(TG_TOKEN)


def test_telegram_rejected_token_exits_2_naming_the_variable(tmp_path, tiny_model_dir, log):
    with fake.FakeTelegram(TG_TOKEN) as tg:
        tg.rejected = True

        async def scenario():
            async with running(telegram_settings(tg, tiny_model_dir, tmp_path)) as bot:
                return await bot.exit_code(30)

        assert 2 == asyncio.run(scenario())
        assert 1 == len(tg.recorded("getMe"))  # at once: no retries
    rejected = log.lines("rejected TELEGRAM_BOT_TOKEN")
    assert 1 == len(rejected) and "ERROR" in rejected[0]
    assert "Traceback" not in log.written
    log.assert_clean(TG_TOKEN)


def test_telegram_unreachable_past_start_retry_exits_1(tmp_path, tiny_model_dir, log):
    with fake.FakeTelegram(TG_TOKEN) as tg:
        tg.outage(seconds=3600)
        settings = telegram_settings(tg, tiny_model_dir, tmp_path, {"start_retry_s": 1.0})

        async def scenario():
            async with running(settings) as bot:
                return await bot.exit_code(30), bot.seen

        code, seen = asyncio.run(scenario())
    assert 1 == code
    assert all("telegram: ok" not in body for body in seen)
    assert 1 == len(log.lines("telegram: unreachable for 1 s (NetworkError: Bad Gateway); giving up"))
    assert 1 == len(log.lines("every platform has failed"))
    assert "Traceback" not in log.written
    log.assert_clean(TG_TOKEN)


def test_telegram_outage_mid_run_reconnects_and_loses_nothing(tmp_path, tiny_model_dir, log):
    with fake.FakeTelegram(TG_TOKEN) as tg:
        async def scenario():
            async with running(telegram_settings(tg, tiny_model_dir, tmp_path)) as bot:
                await bot.wait_line("telegram", "ok", 20)
                tg.outage(seconds=2.0)
                await bot.wait_line("telegram", "reconnecting", 10)
                assert 503 == (await bot.ready())[0]
                tg.push(fake.command(5, 5, "/help"))  # sent while the bot cannot poll
                await bot.wait_line("telegram", "ok", 20)
                await asyncio.to_thread(tg.wait_for, lambda: tg.sent(5), 20)
                assert 200 == (await bot.ready())[0]
                return await bot.stop()

        assert 0 == asyncio.run(scenario())
        assert 1 == len(tg.sent(5))
    failed = log.lines("telegram: polling failed (NetworkError: Bad Gateway); retrying")
    assert failed and "Traceback" not in log.written
    assert 1 == len(log.lines("telegram: connected again"))
    log.assert_clean(TG_TOKEN)


# --- Slack ---------------------------------------------------------------------------------------

SIGNING = "startup-signing-secret-9f8e7d"


def slack_settings(sl, model_dir, tmp_path, mode="http", bot_token=None, app_token=None,
                   server=None, **sections):
    secrets = Secrets(slack_bot_token=bot_token or sl.bot_token, slack_signing_secret=SIGNING,
                      slack_app_token=app_token or sl.app_token, **sections.pop("secrets", {}))
    return settings_for(model_dir, tmp_path, secrets, server,
                        slack={"mode": mode, "port": free_port(), "api_base_url": sl.api_url},
                        **sections)


def history_command(sl, user="U1") -> tuple[str, str]:
    url = f"{sl.url}/respond/{user}-history"
    return urlencode({"command": "/emotion", "text": "history", "user_id": user,
                      "team_id": "T1", "channel_id": "C1", "trigger_id": "1.2.3",
                      "response_url": url}), url


async def post_signed(settings, body: str) -> int:
    url = f"http://127.0.0.1:{settings.slack.port}{slack.EVENTS_PATH}"
    async with httpx.AsyncClient(timeout=10) as http:
        sig = signed_headers(body, SIGNING)
        return (await http.post(url, content=body.encode(), headers=sig)).status_code


def answered(sl, url: str):
    return [r for r in sl.records if r.path == urlparse(url).path]


@pytest.fixture
def sl():
    f = FakeSlack(bot_token="xoxb-1234-5678-startuptesttoken", app_token="xapp-1-A1-startupapp")
    yield f
    f.close()


def test_slack_is_ok_only_after_auth_test_and_listening(sl, tmp_path, tiny_model_dir, log):
    sl.outage(seconds=3600, status=0)
    settings = slack_settings(sl, tiny_model_dir, tmp_path)
    body, url = history_command(sl)

    async def scenario():
        async with running(settings) as bot:
            await until(lambda: len(sl.calls("/api/auth.test")) >= 5, 20, "auth.test retried")
            assert (503, "starting") == ((await bot.ready())[0], await bot.line("slack"))
            with pytest.raises(httpx.ConnectError):  # nothing listens before auth.test passed
                await post_signed(settings, body)
            sl.outages.clear()  # the network comes up
            await bot.wait_line("slack", "ok", 20)
            assert 200 == (await bot.ready())[0]
            assert 200 == await post_signed(settings, body)
            await until(lambda: answered(sl, url), 20, "the command answered")
            return await bot.stop()

    assert 0 == asyncio.run(scenario())
    attempts = log.lines("slack: cannot connect (attempt")
    assert len(attempts) >= 2 and all("ServerDisconnectedError" in a for a in attempts)
    assert "Traceback" not in log.written
    log.assert_clean(sl.bot_token, SIGNING, url)


@pytest.mark.parametrize("mode, variable", [("http", "SLACK_BOT_TOKEN"),
                                            ("socket", "SLACK_APP_TOKEN")])
def test_slack_rejected_token_exits_2_naming_the_variable(sl, tmp_path, tiny_model_dir, log,
                                                          mode, variable):
    wrong = {"bot_token": "xoxb-9999-revoked-token"} if variable == "SLACK_BOT_TOKEN" \
        else {"app_token": "xapp-1-revoked-app-token"}
    settings = slack_settings(sl, tiny_model_dir, tmp_path, mode, **wrong)

    async def scenario():
        async with running(settings) as bot:
            return await bot.exit_code(30)

    assert 2 == asyncio.run(scenario())
    rejected = log.lines(f"Slack rejected {variable}")
    assert 1 == len(rejected) and "ERROR" in rejected[0]
    assert "Traceback" not in log.written
    log.assert_clean(*wrong.values(), sl.bot_token, sl.app_token, SIGNING)


def test_one_platform_failed_for_good_the_other_keeps_serving(sl, tmp_path, tiny_model_dir, log):
    body, url = history_command(sl)
    with fake.FakeTelegram(TG_TOKEN) as tg:
        tg.outage(seconds=3600)
        settings = slack_settings(
            sl, tiny_model_dir, tmp_path, server={"start_retry_s": 1.0},
            secrets={"telegram_bot_token": TG_TOKEN},
            telegram={"base_url": tg.base_url, "base_file_url": tg.base_file_url})

        async def scenario():
            async with running(settings) as bot:
                await bot.wait_line("telegram", lambda s: s.startswith("failed"), 20)
                await bot.wait_line("slack", "ok", 20)
                ready = await bot.ready()
                assert 200 == await post_signed(settings, body)
                await until(lambda: answered(sl, url), 20, "the command answered")
                assert not bot.task.done()
                return ready, await bot.stop()

        (status, text), code = asyncio.run(scenario())
    assert 503 == status and 0 == code
    assert ("model: ok\ndatabase: ok\n"
            "telegram: failed: unreachable for 1 s (NetworkError: Bad Gateway)\n"
            "slack: ok\n") == text
    log.assert_clean(TG_TOKEN, sl.bot_token, SIGNING, url)


def test_socket_mode_reconnects_after_a_disconnect(sl, tmp_path, tiny_model_dir, log):
    ws = FakeSocket()
    sl.ws_url = ws.url
    url = f"{sl.url}/respond/after-reconnect"
    envelope = {"envelope_id": "env-after", "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {"command": "/emotion", "text": "history", "user_id": "U1",
                            "team_id": "T1", "channel_id": "C1", "response_url": url}}
    settings = slack_settings(sl, tiny_model_dir, tmp_path, "socket")

    async def scenario():
        async with running(settings) as bot:
            await bot.wait_line("slack", "ok", 20)
            sl.outage(seconds=1.0)  # apps.connections.open fails for a while...
            await asyncio.to_thread(ws.drop)  # ...after the WebSocket went away
            await bot.wait_line("slack", "reconnecting", 10)
            assert 503 == (await bot.ready())[0]
            await bot.wait_line("slack", "ok", 30)
            await until(lambda: ws.sessions, 10, "a live WebSocket")
            assert 1 == await asyncio.to_thread(ws.send, envelope)
            await until(lambda: ws.acked("env-after") and answered(sl, url), 20, "answered")
            return await bot.stop()

    try:
        assert 0 == asyncio.run(scenario())
    finally:
        ws.close()
    assert ws.connections >= 2 and len(sl.calls("/api/apps.connections.open")) >= 2
    assert 1 == len(log.lines("slack: the Socket Mode connection was lost; reconnecting"))
    assert 1 == len(log.lines("slack: connected again"))
    assert "Traceback" not in log.written
    log.assert_clean(sl.bot_token, sl.app_token, SIGNING, url)


def test_telegram_token_revoked_while_polling_exits_2(tmp_path, tiny_model_dir, log):
    with fake.FakeTelegram(TG_TOKEN) as tg:
        async def scenario():
            async with running(telegram_settings(tg, tiny_model_dir, tmp_path)) as bot:
                await bot.wait_line("telegram", "ok", 20)
                tg.rejected = True  # revoked in @BotFather
                return await bot.exit_code(30)

        assert 2 == asyncio.run(scenario())
    assert 1 == len(log.lines("Telegram rejected TELEGRAM_BOT_TOKEN"))
    log.assert_clean(TG_TOKEN)
