"""bot.audio_gate: the pure parts with literal data (the VAD itself is exercised in test_audio.py)."""

from __future__ import annotations

import numpy as np
import pytest

from bot import audio_gate, errors
from bot.audio import Note
from bot.settings import AudioSettings


def test_a_downmix_that_cancels_out_falls_back_to_the_louder_channel():
    left = np.array([0.5, -0.25, 0.125, 0.0], dtype=np.float32)
    mono, note = audio_gate.downmix(np.stack([left, -left * 0.9]))
    assert mono.tolist() == left.tolist()
    assert note == Note("audio.note.channel_fallback", {"channel": 1})


def test_an_ordinary_stereo_downmix_is_the_mean():
    mono, note = audio_gate.downmix(np.array([[0.5, 0.5], [0.25, 0.0]], dtype=np.float32))
    assert mono.tolist() == [0.375, 0.25]
    assert note is None


def test_completeness_notes_compare_with_the_declared_length_only_when_far_shorter():
    assert audio_gate.completeness_notes(3.0, 8.1, 0) == [
        Note("audio.note.truncated", {"heard_s": 3.0, "declared_s": 8.1})
    ]
    assert audio_gate.completeness_notes(7.6, 8.0, 0) == []  # rounding, not a cut
    assert audio_gate.completeness_notes(3.0, None, 0) == []
    assert audio_gate.completeness_notes(3.0, float("inf"), 0) == []
    assert audio_gate.completeness_notes(1.9, None, 191) == [Note("audio.note.damaged", {"errors": 191})]


def test_loud_level_is_the_level_of_the_loud_frames():
    t = np.arange(16000) / 16000
    sine = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # RMS 0.0707 = -23.0 dBFS
    assert audio_gate.loud_level_dbfs(sine) == pytest.approx(-23.0, abs=0.1)
    half_silent = np.concatenate([sine, np.zeros(16000, dtype=np.float32)])
    assert audio_gate.loud_level_dbfs(half_silent) == pytest.approx(-23.0, abs=0.1)


def test_digital_silence_and_too_short_audio_are_refused_before_the_vad():
    with pytest.raises(errors.Silence):
        audio_gate.check(np.zeros(48000, dtype=np.float32), AudioSettings())
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, 4800).astype(np.float32)  # 0.3 s
    with pytest.raises(errors.TooShort) as caught:
        audio_gate.check(noise, AudioSettings())
    assert caught.value.params == {"seconds": 0.3, "min_seconds": 0.5}


def test_white_noise_is_not_speech():
    noise = np.random.default_rng(0).normal(0, 0.05, 3 * 16000).astype(np.float32)
    with pytest.raises(errors.NoSpeech):
        audio_gate.check(noise, AudioSettings())
