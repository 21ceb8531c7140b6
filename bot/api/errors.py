"""Every refusal of the API as ``{"error": code, "detail": text}``, with its HTTP status.

The ``detail`` is the English text the bots give for the same problem (``bot.messages.describe``);
the ``code`` is stable for programs. ``for_error`` is the one place an exception becomes an answer.
"""

from __future__ import annotations

import logging

from bot import errors
from bot.messages import describe, text

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 10

# AudioError subclass -> (status, code); the first match in this order wins (subclasses first).
AUDIO_CODES: tuple[tuple[type[errors.AudioError], int, str], ...] = (
    (errors.EmptyFile, 400, "empty"),
    (errors.NotAudio, 400, "not_audio"),
    (errors.NoAudio, 400, "corrupt"),  # a container with no audio data in it
    (errors.Corrupt, 400, "corrupt"),
    (errors.UnsupportedCodec, 400, "unsupported_codec"),
    (errors.Encrypted, 400, "encrypted"),
    (errors.UnsupportedSampleRate, 400, "bad_sample_rate"),
    (errors.Silence, 400, "silence"),
    (errors.NoSpeech, 400, "no_speech"),
    (errors.TooShort, 400, "too_short"),
    (errors.DecodeTimeout, 400, "timeout"),
    (errors.TooLarge, 413, "too_large"),
    (errors.TooLong, 413, "too_long"),
    (errors.DecoderMissing, 500, "internal"),  # an operator problem, not the caller's
    (errors.AudioError, 400, "not_audio"),  # unreadable for another reason
)


class ApiError(Exception):
    """An answer other than 200: status, stable code, the user text, extra headers."""

    def __init__(self, status: int, code: str, detail: str, headers: dict | None = None):
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": self.code, "detail": self.detail}


def for_error(exc: BaseException, busy: tuple[type[BaseException], ...] = ()) -> ApiError:
    """The answer for ``exc`` raised while serving a request (logged when it is our fault)."""
    from bot.inference import Unreachable

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, errors.DownloadFailed):  # a saved JSON/HTML error body, not a recording
        return ApiError(400, "not_audio", describe(errors.NotAudio(kind="text"), "en"))
    if isinstance(exc, errors.AudioError):
        for cls, status, code in AUDIO_CODES:
            if isinstance(exc, cls):
                if status >= 500:
                    logger.error("cannot decode audio: %s", exc.detail or exc)
                return ApiError(status, code, describe(exc, "en"))
    if busy and isinstance(exc, busy):
        return busy_error()
    if isinstance(exc, Unreachable):
        logger.error("the engine behind this API is unreachable: %s", exc)
        return ApiError(502, "unreachable", text("engine.unreachable", "en"))
    logger.error("request failed", exc_info=exc)
    return ApiError(500, "internal", describe(exc, "en"))


def bad_samples(why: str) -> ApiError:
    return ApiError(400, "bad_samples", f"The samples can't be analysed: {why}. Send float32 "
                    "little-endian (application/octet-stream) or a .npy array "
                    "(application/x-npy): 16 kHz mono, every sample finite and within [-1, 1].")


def busy_error() -> ApiError:
    return ApiError(503, "busy", text("engine.busy", "en"), {"Retry-After": str(RETRY_AFTER_S)})


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "A valid 'Authorization: Bearer TOKEN' header is "
                    "required.", {"WWW-Authenticate": "Bearer"})
