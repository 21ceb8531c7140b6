"""Surround downmixes and files with many audio tracks: no false notes, and an honest refusal.

Files are built at test time from the in-repo speech fixture (EmoDB ``08a02Fe``, the source of
several ``../shared/audio/bad`` files), scaled so that every source channel peaks at 0.97.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from bot import audio, errors, messages
from bot.settings import AudioSettings

SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "bad" / "mp3_content_named.ogg"


def ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True,
                   timeout=60)


def peak_097(tmp_path) -> Path:
    """The speech as float WAV whose peak is exactly 0.97."""
    mono = tmp_path / "mono.wav"
    ffmpeg("-i", SPEECH, "-c:a", "pcm_f32le", mono)
    measure = audio.decode(mono, AudioSettings(), check_speech=False).waveform
    scaled = tmp_path / "speech097.wav"
    ffmpeg("-i", mono, "-af", f"volume={0.97 / float(np.max(np.abs(measure))):.6f}",
           "-c:a", "pcm_f32le", scaled)
    return scaled


def test_a_5_1_file_is_downmixed_without_a_false_distortion_note(tmp_path):
    source = peak_097(tmp_path)
    surround = tmp_path / "surround.wav"
    ffmpeg("-i", source, "-filter_complex",
           "asplit=6[a][b][c][d][e][f];[a][b][c][d][e][f]join=inputs=6:channel_layout=5.1",
           "-c:a", "pcm_f32le", surround)
    deadline = time.monotonic() + 60
    [stream] = audio.ff.audio_streams(audio._probe(surround, deadline))
    assert 6 == stream.channels
    channels, _ = audio._decode_stream(surround, stream, AudioSettings(), deadline)
    decoded = audio.decode(surround, AudioSettings())
    assert () == decoded.notes  # was: "distorted (too loud for the microphone)", peak 2.34
    assert 0.97 == pytest.approx(float(np.max(np.abs(channels))), abs=0.01)
    assert 0.97 == pytest.approx(float(np.max(np.abs(decoded.waveform))), abs=0.01)


def many_tracks(tmp_path, speech_track: int, tracks: int) -> Path:
    """A Matroska file of ``tracks`` audio tracks, silent except ``speech_track`` (1-based)."""
    out = tmp_path / f"tracks_{speech_track}_of_{tracks}.mkv"
    maps = []
    for n in range(1, tracks + 1):
        maps += ["-map", "1:a" if n == speech_track else "0:a"]
    ffmpeg("-f", "lavfi", "-t", "2", "-i", "anullsrc=r=16000:cl=mono", "-i", SPEECH, *maps,
           "-c:a", "pcm_s16le", "-shortest", out)
    return out


def test_speech_on_a_later_track_within_the_first_four_is_found(tmp_path):
    decoded = audio.decode(many_tracks(tmp_path, 4, 6), AudioSettings())
    assert (audio.Note("audio.note.other_track", {"track": 4, "tracks": 6}),) == decoded.notes


def test_speech_on_the_fifth_track_gets_a_reply_saying_what_was_checked(tmp_path):
    with pytest.raises(errors.Silence) as caught:
        audio.decode(many_tracks(tmp_path, 5, 6), AudioSettings())
    assert ("I listened to the first 4 of this file's 6 audio tracks and heard no speech in "
            "them. If the speech is on a later track, please send that track on its own.") == \
        messages.describe(caught.value, "en")
    assert "这个文件有 6 条音轨，我听了前 4 条" in messages.describe(caught.value, "zh")


def test_a_silent_file_with_few_tracks_keeps_the_muted_microphone_reply(tmp_path):
    with pytest.raises(errors.Silence) as caught:
        audio.decode(many_tracks(tmp_path, 0, 3), AudioSettings())
    assert ("I couldn't hear anything: the recording is silent. Is your microphone muted?") == \
        messages.describe(caught.value, "en")
