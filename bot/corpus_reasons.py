"""What happened to a local file, in command-line words (the chat catalogue speaks to a sender).

``outcome(error)`` -> (status, code, text): ``refused`` when the file itself cannot be analysed
(re-running gives the same answer), ``failed`` when the cause may pass (unreadable right now, a
timeout, a missing decoder, an engine error) and a resume retries it. ``code`` is a short name
for the summary line (``no speech``), ``text`` the specific reason for the table and stderr.
"""

from __future__ import annotations

import logging
import string

from bot import errors

logger = logging.getLogger(__name__)

# catalogue key -> (status, code, text template over the error's params)
CLI_REASONS: dict[str, tuple[str, str, str]] = {
    "audio.unreadable": ("failed", "unreadable", "cannot read the file ({detail})"),
    "audio.empty": ("refused", "empty", "the file is empty (0 bytes)"),
    "audio.download_failed": ("refused", "error page",
                              "the file holds an HTTP or JSON error body, not audio "
                              "(a failed download?)"),
    "audio.not_audio": ("refused", "not audio", "not audio: the file has no audio stream"),
    "audio.not_audio.image": ("refused", "not audio", "not audio: the file is an image"),
    "audio.not_audio.video": ("refused", "no sound track", "a video without a sound track"),
    "audio.not_audio.text": ("refused", "not audio", "not audio: the file is text"),
    "audio.no_audio": ("refused", "no audio data", "an audio container with no audio data in it"),
    "audio.corrupt": ("refused", "damaged", "the audio is damaged and cannot be decoded"),
    "audio.unsupported_codec": ("refused", "unsupported codec",
                                "no decoder for its audio codec ({codec}) in this ffmpeg"),
    "audio.bad_sample_rate": ("refused", "bad sample rate",
                              "the file declares an implausible sample rate ({rate} Hz)"),
    "audio.encrypted": ("refused", "encrypted", "the audio is encrypted (DRM)"),
    "audio.too_large": ("refused", "too large",
                        "the file is {size_mb} MB, over the {max_mb:g} MB limit "
                        "([audio] max_file_mb)"),
    "audio.too_long": ("refused", "too long",
                       "longer than {max_seconds:g} s ([audio] max_seconds)"),
    "audio.too_short": ("refused", "too short",
                        "too short: {seconds:g} s of speech ([audio] min_seconds)"),
    "audio.silence": ("refused", "silent", "the recording is silent"),
    "audio.no_speech": ("refused", "no speech",
                        "no speech detected (music, noise or other sounds)"),
    "audio.timeout": ("failed", "timeout",
                      "decoding took longer than {seconds:g} s and was stopped "
                      "([audio] decode_timeout_s)"),
    "audio.decoder_missing": ("failed", "no ffmpeg",
                              "ffmpeg/ffprobe is not installed or cannot be run"),
}
# Files met while walking a folder that are plainly not recordings: skipped, not refused.
NOT_A_RECORDING = (errors.NotAudio, errors.EmptyFile, errors.DownloadFailed)


class OutputError(OSError):
    """An output (folder, table, matrix) could not be written: the input was fine."""


class _Lenient(string.Formatter):
    def get_value(self, key, args, kwargs):
        return kwargs.get(key, "?")

    def format_field(self, value, spec):
        try:
            return super().format_field(value, spec)
        except (TypeError, ValueError):
            return str(value)


def outcome(error: BaseException) -> tuple[str, str, str]:
    """(status, short code, specific reason) for an error raised while analysing one file."""
    if isinstance(error, OutputError):
        return "failed", "output error", f"cannot write the output ({_strerror(error)})"
    if isinstance(error, errors.AudioError):
        status, code, template = CLI_REASONS.get(
            error.key, ("refused", "unreadable", "cannot read the file as audio"))
        detail = str(error.detail).removeprefix("cannot read input: ") or "unknown error"
        return status, code, _Lenient().format(template, detail=detail, **error.params)
    if isinstance(error, FileNotFoundError):
        return "failed", "missing", "no such file or folder"
    if isinstance(error, OSError):
        return "failed", "unreadable", f"cannot read the file ({_strerror(error)})"
    if isinstance(error, ValueError):  # the engine's "unusable waveform"
        return "refused", "unusable audio", f"the audio cannot be analysed ({error})"
    if type(error).__name__ == "Unreachable":
        return "failed", "engine unreachable", f"the analysis service cannot be reached ({error})"
    return "failed", "internal error", "internal error (run with --verbose for details)"


def _strerror(error: OSError) -> str:
    return error.strerror or str(error) or type(error).__name__
