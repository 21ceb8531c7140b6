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
