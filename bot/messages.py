"""The message catalogue: every sentence a user can read, in English and Simplified Chinese.

Keys are dotted names (``audio.too_long``); values are ``str.format`` templates. ``text`` picks the
language (falling back to English for a missing language or key) and fills in the parameters.
"""

from __future__ import annotations

from bot.errors import UserFacingError

LANGUAGES = ("en", "zh")

CATALOGUE: dict[str, dict[str, str]] = {
    # --- generic ---------------------------------------------------------------------------------
    "error.internal": {
        "en": "Something went wrong on our side while analysing this. Please try again later.",
        "zh": "分析时我们这边出了问题，请稍后再试。",
    },
    # --- audio intake ----------------------------------------------------------------------------
    "audio.unreadable": {
        "en": "I couldn't read this file as audio. Please send a voice note or a common audio file "
        "(OGG, MP3, M4A, WAV, FLAC).",
        "zh": "无法把这个文件读取为音频。请发送语音消息或常见音频文件（OGG、MP3、M4A、WAV、FLAC）。",
    },
}


def language(code: str | None) -> str:
    """Map a platform language code (``en-GB``, ``zh-hans``, ``zh_CN``) to a catalogue language."""
    if code:
        base = code.replace("_", "-").split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return "en"


def text(key: str, lang: str = "en", **params: object) -> str:
    entry = CATALOGUE.get(key) or CATALOGUE["error.internal"]
    template = entry.get(language(lang)) or entry["en"]
    return template.format(**params) if params else template


def describe(error: BaseException, lang: str = "en") -> str:
    """The one place an error becomes user text. Unknown errors never leak their details."""
    if isinstance(error, UserFacingError):
        return text(error.key, lang, **error.params)
    return text("error.internal", lang)
