import pytest

from bot.runner import StartupError, platforms
from bot.settings import Secrets, from_mapping


def settings(secrets: Secrets, **sections):
    return from_mapping(sections, secrets=secrets)


def test_platforms_follow_the_tokens_present():
    assert ["telegram"] == platforms(settings(Secrets(telegram_bot_token="1:x")))
    both = Secrets(telegram_bot_token="1:x", slack_bot_token="xoxb", slack_signing_secret="s")
    assert ["telegram", "slack"] == platforms(settings(both))
    socket = Secrets(slack_bot_token="xoxb", slack_app_token="xapp")
    assert ["slack"] == platforms(settings(socket, slack={"mode": "socket"}))


@pytest.mark.parametrize("secrets, sections, missing", [
    (Secrets(), {}, "no chat platform is configured: set TELEGRAM_BOT_TOKEN"),
    (Secrets(telegram_bot_token="1:x"), {"telegram": {"mode": "webhook"}},
     "webhook mode needs TELEGRAM_WEBHOOK_SECRET"),
    (Secrets(slack_signing_secret="s"), {}, "Slack needs SLACK_BOT_TOKEN"),
    (Secrets(slack_bot_token="xoxb"), {}, "Slack HTTP mode needs SLACK_SIGNING_SECRET"),
    (Secrets(slack_bot_token="xoxb"), {"slack": {"mode": "socket"}},
     'slack.mode = "socket" needs SLACK_APP_TOKEN'),
])
def test_startup_names_exactly_what_is_missing(secrets, sections, missing):
    with pytest.raises(StartupError) as err:
        platforms(settings(secrets, **sections))
    assert missing in str(err.value)


def test_retention_purge_runs_at_start_and_on_schedule(tmp_path):
    import asyncio
    from datetime import datetime, timedelta, timezone

    import numpy as np

    from bot.history import History, UserSettings
    from bot.runner import purge_daily
    from engine.labels import EMOTIONS
    from engine.types import ClipResult

    history = History(tmp_path / "h.db", defaults=UserSettings(retention_days=7))
    result = ClipResult(EMOTIONS, np.full(9, 1 / 9, dtype=np.float32), None)
    now = datetime.now(timezone.utc)
    for age_days in (30, 1):
        history.record("telegram:1", result, duration_s=2.0, granularity="utterance",
                       model="m", at=now - timedelta(days=age_days))

    async def scenario():
        task = asyncio.create_task(purge_daily(history, period_s=0.05))
        await asyncio.sleep(0.3)
        task.cancel()

    asyncio.run(scenario())
    rows = history.history("telegram:1", 10)
    assert 1 == len(rows)  # the 30-day-old record is gone, yesterday's stays
    history.close()
