"""Start-up and reconnection through ``emotion-bot run``'s own code (``bot.runner.run``): the real
python-telegram-bot and slack-bolt against the fake platforms, which are down for the first
seconds, reject a token, or drop the connection mid-run. Each test reads ``/readyz`` as an
operator's probe would, and checks the whole log for the test's secrets."""

from __future__ import annotations

import asyncio

from bot.settings import Secrets
from tests.adapters import fake_telegram as fake
from tests.adapters.startup_kit import log, running, settings_for  # noqa: F401  (log: a fixture)

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
