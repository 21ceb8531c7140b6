"""Audio intake: bytes or a file -> 16 kHz mono float32, or a typed ``AudioError``.

The content is identified by probing it with ffprobe, never by its name, MIME type or the size and
duration a platform reports. All work is bounded: input bytes, decoded seconds (``ffmpeg -t`` plus a
byte cap on ffmpeg's output), sample rate, and one deadline shared by every ffprobe/ffmpeg process,
which is killed when it expires. Processes get argument lists, never a shell; temporary files are
always removed (``bot.audio_temp``; a killed process's are removed at the next start).
``bot.audio_gate`` then decides whether the result holds speech.

This module and its helper ``bot.audio_ffmpeg`` are the only ffmpeg users.
"""

from __future__ import annotations

import json
import logging
import os
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot import audio_ffmpeg as ff
from bot import audio_temp
from bot import errors
from bot.settings import AudioSettings

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FFMPEG = "ffmpeg"  # executables; tests point these at fakes
FFPROBE = "ffprobe"
TEMP_DIR: str | None = None  # where bytes are spooled for ffmpeg (None: the system default)
remove_stale_temp = audio_temp.remove_stale  # for a runner to call at start (also run lazily)

# Surround -> stereo adds channels (5.1: front + 0.707 centre + 0.707 surround, peaking at 2.4x
# the source): scale the mix so it cannot exceed full scale, instead of clipping it
DOWNMIX_NORMALISED = ("-rematrix_maxval", "1.0")
MAX_AUDIO_STREAMS = 4  # streams decoded when a file has several, to find the one with speech
_PROBE_OUTPUT_CAP = 1 << 20
# ffmpeg refuses any single allocation larger than this: a header that lies about its sample rate
# otherwise makes the resampler allocate one huge frame (1 Hz -> 16 kHz: ~700 MB), whatever -t says
MAX_ALLOC = str(64 << 20)


@dataclass(frozen=True)
class Note:
    """A quality note for the reply: a catalogue key (``audio.note.quiet``) and its parameters."""

    key: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DecodedAudio:
    waveform: np.ndarray  # float32, 1-D, 16 kHz mono
    duration_s: float
    notes: tuple[Note, ...]
    format: str  # e.g. "ogg/opus", for logs


def decode(
    source: bytes | str | os.PathLike,
    settings: AudioSettings,
    *,
    declared_duration_s: float | None = None,
    check_speech: bool = True,
) -> DecodedAudio:
    """Decode ``source`` to 16 kHz mono float32. Raises ``bot.errors.AudioError`` subclasses only.

    ``declared_duration_s`` (what the platform claims) is used only to note a cut-off recording.
    With ``check_speech`` the speech gate runs: silence, non-speech and too-short audio raise,
    quiet speech is normalised and noted.
    """
    deadline = time.monotonic() + settings.decode_timeout_s
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        _check_size(len(data), settings)
        _sniff(data[:4096])
        with audio_temp.spooled(data, TEMP_DIR) as path:  # removed when the decode ends
            return _decode_path(path, settings, deadline, declared_duration_s, check_speech)
    path = Path(source)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise errors.NotAudio(f"{path} is not a regular file")
        _check_size(size, settings)
        with open(path, "rb") as fh:
            _sniff(fh.read(4096))
    except OSError as exc:
        raise errors.AudioError(f"cannot read input: {exc.strerror}") from None
    return _decode_path(path, settings, deadline, declared_duration_s, check_speech)


def is_probably_audio(path: str | os.PathLike) -> bool:
    """Cheap check (one ffprobe, 10 s at most) that ``path`` holds a decodable audio stream. Never raises."""
    try:
        path = Path(path)
        if not path.is_file() or path.stat().st_size == 0:
            return False
        info = _probe(path, time.monotonic() + 10)
        return any(s.codec not in ("", "none", "unknown") for s in ff.audio_streams(info))
    except Exception:  # noqa: BLE001 - by contract this never raises
        return False


def write_wav(path: str | os.PathLike, waveform: np.ndarray) -> None:
    """Write ``waveform`` (float, 16 kHz mono) as a 16-bit PCM WAV file."""
    pcm = np.clip(np.asarray(waveform, dtype=np.float32), -1.0, 1.0)
    pcm = np.round(pcm * 32767.0).astype("<i2")
    with wave.open(os.fspath(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())


# --- steps ----------------------------------------------------------------------------------------


def _check_size(size: int, settings: AudioSettings) -> None:
    if size == 0:
        raise errors.EmptyFile("0 bytes")
    if size > settings.max_file_mb * 1024 * 1024:
        raise errors.TooLarge(
            f"{size} bytes", size_mb=round(size / 1024 / 1024, 1), max_mb=settings.max_file_mb
        )


def _sniff(head: bytes) -> None:
    """Catch what is plainly not a recording before any process starts: saved HTTP/API errors."""
    text = head.lstrip()[:512].lower()
    if text.startswith(b"{") and (b'"ok"' in text or b'"error' in text):
        raise errors.DownloadFailed("the file is a JSON error body")
    if text.startswith((b"<!doctype html", b"<html")):
        raise errors.DownloadFailed("the file is an HTML page (a login page?)")


def _decode_path(path: Path, settings, deadline, declared_duration_s, check_speech) -> DecodedAudio:
    from bot import audio_gate  # the gate imports us; keep the cycle at call time

    info = _probe(path, deadline)
    streams = ff.audio_streams(info)
    fmt = ff.format_name(info)
    if not streams:
        raise errors.NotAudio(f"no audio stream in {fmt}", kind=ff.kind(info))
    if ff.is_encrypted(path, fmt):
        raise errors.Encrypted(f"{fmt} with encrypted samples")
    problems = [_stream_problem(s, settings) for s in streams]
    usable = [s for s, problem in zip(streams, problems) if problem is None]
    if not usable:
        raise problems[0]
    chosen = _choose(path, usable[:MAX_AUDIO_STREAMS], settings, deadline, check_speech)
    stream, channels, decoder_errors = chosen
    notes: list[Note] = []
    if len(streams) > 1:
        position = streams.index(stream) + 1
        if position != 1:
            notes.append(Note("audio.note.other_track", {"track": position, "tracks": len(streams)}))
    waveform, channel_note = audio_gate.downmix(channels)
    if channel_note:
        notes.append(channel_note)
    duration = len(waveform) / SAMPLE_RATE
    if duration > settings.max_seconds:
        raise errors.TooLong(f"more than {settings.max_seconds} s", max_seconds=settings.max_seconds)
    notes += audio_gate.completeness_notes(duration, declared_duration_s, decoder_errors)
    if check_speech:
        try:
            waveform, speech_notes = audio_gate.check(waveform, settings)
        except (errors.Silence, errors.NoSpeech) as exc:
            if len(usable) > MAX_AUDIO_STREAMS:  # say which tracks were heard
                raise _unheard(exc, len(streams), MAX_AUDIO_STREAMS) from None
            raise
        notes += speech_notes
    fmt = f"{fmt}/{stream.codec}"
    logger.debug("decoded %s: %.2f s, notes %s", fmt, duration, [n.key for n in notes])
    return DecodedAudio(waveform.astype(np.float32, copy=False), duration, tuple(notes), fmt)


def _unheard(exc: errors.AudioError, tracks: int, checked: int) -> errors.AudioError:
    """The same refusal, saying that only the first ``checked`` of ``tracks`` were listened to."""
    err = type(exc)(f"{exc.detail}; first {checked} of {tracks} audio tracks checked",
                    tracks=tracks, checked=checked)
    err.key = "audio.tracks_unheard"
    return err


def _stream_problem(stream: ff.Stream, settings: AudioSettings) -> errors.AudioError | None:
    if stream.codec in ("", "none", "unknown"):
        return errors.UnsupportedCodec(f"no decoder for stream {stream.index}", codec="unknown")
    if not settings.min_sample_rate <= stream.sample_rate <= settings.max_sample_rate:
        return errors.UnsupportedSampleRate(
            f"stream {stream.index} at {stream.sample_rate} Hz", rate=stream.sample_rate
        )
    return None


def _choose(path, streams, settings, deadline, check_speech):
    """Decode each candidate stream; keep the one with the most speech (then signal)."""
    if len(streams) == 1:
        return (streams[0], *_decode_stream(path, streams[0], settings, deadline))
    best, best_score, first_error = None, None, None
    for stream in streams:
        try:
            channels, decoder_errors = _decode_stream(path, stream, settings, deadline)
        except errors.DecodeTimeout:
            raise
        except errors.AudioError as exc:
            first_error = first_error or exc
            continue
        score = _speech_score(channels, check_speech)
        if best_score is None or score > best_score:
            best, best_score = (stream, channels, decoder_errors), score
    if best is None:
        raise first_error
    return best


def _speech_score(channels: np.ndarray, check_speech: bool) -> tuple[float, float]:
    from bot import audio_gate

    mono = channels.mean(axis=0) if channels.size else channels.reshape(-1)
    rms = float(np.sqrt(np.mean(np.square(mono, dtype=np.float64)))) if mono.size else 0.0
    speech = audio_gate.speech_seconds(mono) if check_speech and rms > 0 else 0.0
    return speech, rms


def _decode_stream(path: Path, stream: ff.Stream, settings, deadline) -> tuple[np.ndarray, int]:
    """One stream -> (channels x samples) float32 at 16 kHz, at most 2 channels, capped in time."""
    n_channels = 2 if stream.channels >= 2 else 1
    limit_s = settings.max_seconds + 0.5  # a little over the limit, so "too long" is detectable
    cap = int(limit_s * SAMPLE_RATE + SAMPLE_RATE) * 4 * n_channels
    args = [
        FFMPEG, "-nostdin", "-hide_banner", "-v", "error", "-max_alloc", MAX_ALLOC,
        "-i", ff.url(path), "-map", f"0:{stream.index}", "-vn", "-sn", "-dn",
        "-t", f"{limit_s:.3f}", "-ac", str(n_channels), "-ar", str(SAMPLE_RATE),
        *DOWNMIX_NORMALISED[: 2 if stream.channels > 2 else 0],
        "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1",
    ]  # fmt: skip
    rc, out, err = ff.run(args, deadline, cap)
    error_lines = [line for line in err.splitlines() if line.strip()]
    usable = len(out) - len(out) % (4 * n_channels)
    if usable == 0:
        raise _decode_failure(rc, err, stream)
    pcm = np.frombuffer(out[:usable], dtype="<f4").reshape(-1, n_channels).T
    pcm = np.nan_to_num(pcm, nan=0.0, posinf=1.0, neginf=-1.0)
    return pcm, len(error_lines)


def _decode_failure(rc: int, err: str, stream: ff.Stream) -> errors.AudioError:
    low = err.lower()
    if "decoder" in low and "not found" in low:
        return errors.UnsupportedCodec(f"ffmpeg: {ff.first_line(err)}", codec=stream.codec)
    if rc == 0 or not err.strip():
        return errors.NoAudio("0 samples decoded")
    return errors.Corrupt(f"ffmpeg rc {rc}: {ff.first_line(err)}")


def _probe(path: Path, deadline: float) -> dict:
    args = [FFPROBE, "-v", "error", "-hide_banner", "-max_alloc", MAX_ALLOC,
            "-show_streams", "-show_format", "-of", "json", ff.url(path)]  # fmt: skip
    rc, out, err = ff.run(args, deadline, _PROBE_OUTPUT_CAP)
    if rc != 0:
        raise ff.probe_failure(path, err)
    try:
        info = json.loads(out or b"{}")
    except ValueError:
        raise errors.Corrupt("ffprobe output is not JSON (too many streams?)") from None
    return info if isinstance(info, dict) else {}
