"""Domain errors that a user may see, defined once.

Every error the product turns into a reply derives from ``UserFacingError``. An error carries a
catalogue key (see ``bot.messages``) and the parameters its text needs; it never carries text itself,
so the same error reads well in every language. ``bot.messages.describe(error, lang)`` is the one
function that turns an error into words.

    UserFacingError
    ├── AudioError            the file itself: empty, not audio, too long, no speech, ...
    └── FetchError            the platform would not give us the file (raised by an adapter's
                              ``fetch``; re-exported by ``bot.requests`` for the adapters)

Policy refusals (someone else's voice, a forward, the rate limit and the daily quota) are not
exceptions: ``Service.refuse`` answers them with their catalogue key. The engine's errors stay in
``engine.errors`` (``EngineBusy``) and ``bot.inference`` (``Unreachable``); ``describe`` maps them
to words too, so no other module turns an error into text.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose meaning a user needs to hear: what happened and what to do."""

    key = "error.internal"

    def __init__(self, detail: str = "", **params: object) -> None:
        super().__init__(detail or self.key)
        self.detail = detail  # for logs only; never shown to users
        self.params = params


# --- audio intake -------------------------------------------------------------------------------


class AudioError(UserFacingError):
    """Something about the audio file prevents analysis."""

    key = "audio.unreadable"


class EmptyFile(AudioError):
    """Zero bytes arrived."""

    key = "audio.empty"


class DownloadFailed(AudioError):
    """The 'file' is the body of an HTTP/API error (e.g. a Bot API ``ok: false`` JSON), not the upload."""

    key = "audio.download_failed"


class NotAudio(AudioError):
    """The content has no audio stream. ``kind`` says what it looks like: image, video, text or ''.

    A known kind selects a more precise catalogue key, e.g. ``audio.not_audio.image``.
    """

    key = "audio.not_audio"
    KINDS = ("image", "video", "text")

    def __init__(self, detail: str = "", kind: str = "", **params: object) -> None:
        super().__init__(detail, kind=kind, **params)
        if kind in self.KINDS:
            self.key = f"{NotAudio.key}.{kind}"


class NoAudio(AudioError):
    """An audio container with no audio data in it (headers only, or nothing decodes)."""

    key = "audio.no_audio"


class Corrupt(AudioError):
    """The container is recognised but damaged beyond reading (e.g. a WAV claiming 0 Hz)."""

    key = "audio.corrupt"


class UnsupportedCodec(AudioError):
    """The audio is in a codec this server cannot decode. ``codec`` names it."""

    key = "audio.unsupported_codec"


class UnsupportedSampleRate(AudioError):
    """The declared sample rate is implausible (``rate`` Hz), e.g. a WAV header claiming 1 Hz."""

    key = "audio.bad_sample_rate"


class Encrypted(AudioError):
    """The audio is encrypted (DRM, MP4 CENC), so it cannot be played."""

    key = "audio.encrypted"


class TooLarge(AudioError):
    """More bytes than ``max_mb`` allows (``size_mb``)."""

    key = "audio.too_large"


class TooLong(AudioError):
    """The decoded audio runs past ``max_seconds``."""

    key = "audio.too_long"


class TooShort(AudioError):
    """Under ``min_seconds`` of audio (or of speech): ``seconds`` were heard."""

    key = "audio.too_short"


class Silence(AudioError):
    """Digital silence or near it: a muted microphone."""

    key = "audio.silence"


class NoSpeech(AudioError):
    """Sound, but the voice-activity detector found no speech (music, birdsong, noise)."""

    key = "audio.no_speech"


class DecodeTimeout(AudioError):
    """Probing or decoding took longer than ``decode_timeout_s``; the process was killed."""

    key = "audio.timeout"


class DecoderMissing(AudioError):
    """ffmpeg/ffprobe is not installed or not runnable on this server (an operator problem)."""

    key = "audio.decoder_missing"


# --- the platforms ------------------------------------------------------------------------------


class FetchError(UserFacingError):
    """The adapter could not download the file. ``key`` is the catalogue key for the reason
    (``fetch.failed``, ``fetch.not_found``, ``fetch.too_big_for_platform``, ``audio.too_large``…)."""

    def __init__(self, key: str = "fetch.failed", detail: str = "", **params: object) -> None:
        super().__init__(detail or key, **params)
        self.key = key
