"""The speech gate: is there speech in a decoded waveform, and is it good enough to analyse?

Pure numpy plus the Silero voice-activity detector (``silero-vad``, weights inside the wheel, torch
only). Energy alone cannot tell very quiet speech from silence or speech-like noise from speech, so
the level is only used for digital silence and for normalising quiet recordings; the VAD decides
whether there is speech. The VAD model loads lazily, once per process, and is used under a lock
(it keeps recurrent state between windows).
"""

from __future__ import annotations

import logging
import math
import threading
import warnings

import numpy as np

from bot import errors
from bot.audio import SAMPLE_RATE, Note
from bot.settings import AudioSettings

logger = logging.getLogger(__name__)

_FRAME = 480  # 30 ms level frames
_TARGET_DBFS = -20.0  # loud-frame level quiet speech is raised to
_PEAK_CEILING_DBFS = -1.0
_CANCELLED_DB = -20.0  # a downmix this far under its loudest channel cancelled out
_CLIP_LEVEL = 0.999
ABSURD_RATIO = 10.0  # a declared length over 10x what decoded is a broken header, not a cut
ABSURD_SECONDS = 86_400.0  # nor is one over a day

_vad_lock = threading.Lock()
_vad_model = None


def check(waveform: np.ndarray, settings: AudioSettings) -> tuple[np.ndarray, list[Note]]:
    """Raise ``Silence``, ``TooShort`` or ``NoSpeech``; else return the (gain-adjusted) waveform and notes."""
    duration = len(waveform) / SAMPLE_RATE
    peak = _db(float(np.max(np.abs(waveform))) if waveform.size else 0.0)
    if peak < settings.silence_dbfs:
        raise errors.Silence(f"peak {peak:.1f} dBFS over {duration:.2f} s")
    if duration < settings.min_seconds:
        raise errors.TooShort(
            f"{duration:.2f} s", seconds=round(duration, 1), min_seconds=settings.min_seconds
        )
    notes = []
    clipped = float(np.mean(np.abs(waveform) >= _CLIP_LEVEL))
    if clipped >= settings.clipped_fraction:
        notes.append(Note("audio.note.clipped", {"percent": round(clipped * 100, 1)}))
    level = loud_level_dbfs(waveform)
    if level < settings.quiet_dbfs:
        gain_db = min(_TARGET_DBFS - level, _PEAK_CEILING_DBFS - peak, settings.max_gain_db)
        waveform = (waveform * np.float32(10 ** (gain_db / 20))).astype(np.float32)
        notes.append(Note("audio.note.quiet", {"level_dbfs": round(level), "gain_db": round(gain_db)}))
    speech = speech_seconds(waveform, settings.vad_threshold)
    if speech == 0.0:
        raise errors.NoSpeech(f"VAD found no speech in {duration:.2f} s (level {level:.0f} dBFS)")
    if speech < settings.min_seconds:
        raise errors.TooShort(
            f"{speech:.2f} s of speech in {duration:.2f} s",
            seconds=round(speech, 1),
            min_seconds=settings.min_seconds,
        )
    return waveform, notes


def downmix(channels: np.ndarray) -> tuple[np.ndarray, Note | None]:
    """(channels x samples) -> mono. A downmix that cancels out (R = -L) falls back to the loudest channel."""
    if channels.shape[0] == 1:
        return channels[0], None
    mono = channels.mean(axis=0)
    rms = [_rms(c) for c in channels]
    loudest = int(np.argmax(rms))
    if rms[loudest] > 0 and _db(_rms(mono)) < _db(rms[loudest]) + _CANCELLED_DB:
        return np.ascontiguousarray(channels[loudest]), Note(
            "audio.note.channel_fallback", {"channel": loudest + 1}
        )
    return mono.astype(np.float32, copy=False), None


def completeness_notes(
    duration_s: float, declared_duration_s: float | None, decoder_errors: int
) -> list[Note]:
    """Notes for audio that decoded only in part. ``declared_duration_s`` feeds this note only."""
    notes = []
    if (
        declared_duration_s
        and math.isfinite(declared_duration_s)
        and declared_duration_s - duration_s >= 1.0
        and duration_s < 0.8 * declared_duration_s
        and not _absurd(declared_duration_s, duration_s)
    ):
        notes.append(Note("audio.note.truncated", {
            "heard_s": round(duration_s, 1), "declared_s": round(declared_duration_s, 1),
        }))  # fmt: skip
    if decoder_errors:
        notes.append(Note("audio.note.damaged", {"errors": decoder_errors}))
    return notes


def _absurd(declared_s: float, heard_s: float) -> bool:
    """A declared length no cut-off explains (a header claiming 10,000 hours): not a note."""
    return declared_s > ABSURD_RATIO * heard_s or declared_s > ABSURD_SECONDS


def speech_seconds(waveform: np.ndarray, threshold: float = 0.5) -> float:
    """Seconds of speech the VAD finds. The VAD hears a level-normalised copy."""
    if waveform.size < 512:
        return 0.0
    import torch
    from silero_vad import get_speech_timestamps

    level = loud_level_dbfs(waveform)
    peak = _db(float(np.max(np.abs(waveform))))
    gain_db = max(0.0, min(_TARGET_DBFS - level, _PEAK_CEILING_DBFS - peak))
    gain = np.float32(10 ** (gain_db / 20))
    heard = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32) * gain)
    with _vad_lock:
        model = _vad()
        with torch.inference_mode():
            spans = get_speech_timestamps(heard, model, threshold=threshold, sampling_rate=SAMPLE_RATE)
    return sum(s["end"] - s["start"] for s in spans) / SAMPLE_RATE


def loud_level_dbfs(waveform: np.ndarray) -> float:
    """Level of the loud part: the 95th percentile of 30 ms frame RMS, in dBFS."""
    n = len(waveform) // _FRAME
    if n == 0:
        return _db(_rms(waveform))
    frames = waveform[: n * _FRAME].reshape(n, _FRAME).astype(np.float64)
    return _db(float(np.percentile(np.sqrt(np.mean(frames * frames, axis=1)), 95)))


def _vad():
    """The Silero VAD model, loaded once per process. Call with ``_vad_lock`` held."""
    global _vad_model
    if _vad_model is None:
        from silero_vad import load_silero_vad

        with warnings.catch_warnings():  # deprecations inside silero-vad/torch.jit, not ours
            warnings.simplefilter("ignore", DeprecationWarning)
            _vad_model = load_silero_vad()
        logger.info("loaded the Silero voice-activity detector")
    return _vad_model


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _db(amplitude: float) -> float:
    return 20 * np.log10(amplitude) if amplitude > 1e-10 else -200.0
