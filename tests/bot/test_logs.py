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
