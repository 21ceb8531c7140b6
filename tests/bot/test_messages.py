"""The one catalogue: plural forms, and every message key the code names exists in it."""

from __future__ import annotations

import ast
import logging

from bot.messages import CATALOGUE, LANGUAGES, text
from tests.conftest import ROOT

KEY_CALLS = {"text", "refuse", "_refusal", "FetchError", "_tell"}  # first argument: a key


def test_counts_take_the_singular_for_one_and_the_plural_otherwise():
    assert "Your last 1 analysis:" == text("history.title", "en", n=1)
    assert "Your last 3 analyses:" == text("history.title", "en", n=3)
    assert "Your history: 1 analysis, 2 embeddings." == text("export.done", "en", count=1,
                                                             embeddings=2)
    assert "Deleted: 0 analyses and everything else stored about you." == text(
        "forget.done", "en", records=0)
    assert "已删除：1 次分析，以及关于你的所有其他数据。" == text("forget.done", "zh", records=1)


def test_an_unknown_key_is_logged_and_shows_the_internal_error(caplog):
    with caplog.at_level(logging.ERROR, "bot.messages"):
        shown = text("no.such.key", "en")
    assert text("error.internal", "en") == shown
    assert ["no message 'no.such.key' in the catalogue"] == [r.getMessage() for r in caplog.records]


def keys_named_in_code() -> dict[str, str]:
    """Message keys the code names: first arguments of ``text``/``refuse``/``FetchError``…,
    ``key = "…"`` class attributes of the errors, and the values of the notice table."""
    found = {}
    for path in sorted((ROOT / "bot").rglob("*.py")) + sorted((ROOT / "adapters").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            literal = None
            if isinstance(node, ast.Call) and node.args:
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
                    node.func, "id", "")
                if name in KEY_CALLS and isinstance(node.args[0], ast.Constant):
                    literal = node.args[0].value
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1
                  and getattr(node.targets[0], "id", "") == "key"
                  and isinstance(node.value, ast.Constant)):
                literal = node.value.value
            if isinstance(literal, str) and "." in literal and " " not in literal:
                found[literal] = path.relative_to(ROOT).as_posix()
    from bot.messages import NOTICE_KEYS

    found.update({key: "bot/jobs.py" for key in NOTICE_KEYS.values()})
    return found


def test_every_key_the_code_names_is_in_the_catalogue():
    named = keys_named_in_code()
    assert len(named) > 40  # the walk sees the code's keys
    assert {} == {key: where for key, where in named.items() if key not in CATALOGUE}


def test_every_message_has_english_and_only_known_languages():
    assert [] == [key for key, entry in CATALOGUE.items()
                  if "en" not in entry or set(entry) - set(LANGUAGES)]


def test_one_function_turns_every_kind_of_error_into_words():
    from bot.errors import NoSpeech, UserFacingError
    from bot.messages import describe
    from bot.requests import FetchError
    from engine.errors import EngineBusy

    assert isinstance(FetchError("fetch.not_found"), UserFacingError)
    assert text("fetch.not_found", "zh") == describe(FetchError("fetch.not_found", "HTTP 404"), "zh")
    assert text("audio.no_speech", "en") == describe(NoSpeech("vad: 0 frames"), "en")
    assert text("engine.busy", "en") == describe(EngineBusy("clips", 64, 64), "en")
    assert text("error.internal", "en") == describe(KeyError("secret detail"), "en")
