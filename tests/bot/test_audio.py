"""bot.audio: every chat-app format decodes; every hostile file gets the behaviour its README asks for.

The shared audio set (``../shared/audio`` beside the repository) is used when present; the in-repo
copies in ``tests/fixtures/bad`` keep the key hostile cases running on any clone. Safety limits
(timeouts, temp files, memory) are in ``test_audio_limits.py``.
"""

from __future__ import annotations

import csv
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from bot import audio, errors, messages
from bot.settings import AudioSettings

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "audio"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
SETTINGS = AudioSettings()

# file -> (expected error, or None for a result; decoded seconds; note keys), per bad/README.md
HOSTILE = {
    "empty.ogg": (errors.EmptyFile, None, set()),
    "truncated_40pct.ogg": (None, 2.99, {"audio.note.truncated"}),  # declared 8.1 s, see below
    "headers_only_no_audio.ogg": (errors.NoAudio, None, set()),
    "telegram_error_json.ogg": (errors.DownloadFailed, None, set()),
    "png_image.mp3": (errors.NotAudio, None, set()),
    "silence_3s.ogg": (errors.Silence, None, set()),
    "speech_0.2s.ogg": (errors.TooShort, None, set()),
    "long_10min_speechlike_noise.ogg": (errors.TooLong, None, set()),
    "ogg_granule_huge_duration.ogg": (None, 2.01, set()),
    "wav_samplerate_1hz.wav": (errors.UnsupportedSampleRate, None, set()),
    "wav_samplerate_0.wav": (errors.Corrupt, None, set()),
    "wav_datasize_4GB_declared.wav": (None, 2.0, set()),
    "video_note_h264_aac.mp4": (None, 2.0, set()),
    "video_two_audio_tracks_first_silent.mp4": (None, 2.0, {"audio.note.other_track"}),
    "wav_unknown_codec_tag_0x3A2B.wav": (errors.UnsupportedCodec, None, set()),
    "m4a_cenc_encrypted_drm.m4a": (errors.Encrypted, None, set()),
    "amr_nb_with_dtx_phone.amr": (None, 1.94, {"audio.note.damaged"}),
    "mp3_content_named.ogg": (None, 2.0, set()),
    "stereo_phase_inverted.wav": (None, 2.0, {"audio.note.channel_fallback"}),
    "speech_very_quiet_-45dB.ogg": (None, 2.0, {"audio.note.quiet"}),
    "non_speech_birdsong.ogg": (errors.NoSpeech, None, set()),
}
DECLARED = {"truncated_40pct.ogg": 8.1}  # what Telegram's voice.duration would say


def shared(folder: str) -> Path:
    path = SHARED / folder
    if not path.is_dir():
        pytest.skip(f"../shared/audio not present: {path} (the in-repo fixtures still run)")
    return path


def manifest_durations() -> dict[str, float]:
    if not (SHARED / "MANIFEST.csv").is_file():
        return {}
    with open(SHARED / "MANIFEST.csv", newline="") as fh:
        return {
            row["file"].split("/", 1)[1]: float(row["duration_s"])
            for row in csv.DictReader(fh)
            if row["file"].startswith("encoded/")
        }


DURATIONS = manifest_durations()
# The speech detector runs on one clip of every encoding (it costs ~0.8 s a file; the decode is
# what differs between encodings of one clip); the rest are decoded and measured without it.
GATED = {min(n for n in DURATIONS if n.split("__")[-1] == profile)
         for profile in {n.split("__")[-1] for n in DURATIONS}}


@pytest.mark.parametrize("name", sorted(DURATIONS) or ["(shared set absent)"])
def test_every_chat_app_encoding_decodes_to_16k_mono_of_the_right_length(name):
    path = shared("encoded") / name
    decoded = audio.decode(path, SETTINGS, check_speech=name in GATED)
    assert decoded.waveform.dtype == np.float32
    assert decoded.waveform.ndim == 1
    assert abs(decoded.duration_s - DURATIONS[name]) <= 0.05
    assert len(decoded.waveform) == round(decoded.duration_s * audio.SAMPLE_RATE)
    assert decoded.notes == ()
    assert float(np.max(np.abs(decoded.waveform))) > 0.1


def check_hostile(path: Path) -> None:
    error, seconds, note_keys = HOSTILE[path.name]
    declared = DECLARED.get(path.name)
    if error is not None:
        with pytest.raises(error) as caught:
            audio.decode(path, SETTINGS, declared_duration_s=declared)
        text = messages.describe(caught.value, "en")
        assert text != messages.text("error.internal")
        return
    decoded = audio.decode(path, SETTINGS, declared_duration_s=declared)
    assert abs(decoded.duration_s - seconds) <= 0.05
    assert {note.key for note in decoded.notes} == note_keys
    assert float(np.max(np.abs(decoded.waveform))) > 0.1  # speech, never silence or a cancelled mix


def test_the_shared_hostile_set_is_fully_covered():
    present = {p.name for p in shared("bad").iterdir() if p.suffix not in (".md", ".json")}
    assert set(HOSTILE) == present


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_shared_hostile_file_gets_the_behaviour_its_readme_asks_for(name):
    check_hostile(shared("bad") / name)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.name in HOSTILE))
def test_in_repo_hostile_fixture_gets_the_behaviour_its_readme_asks_for(name):
    check_hostile(FIXTURES / name)


def test_in_repo_fixtures_hold_the_key_cases():
    assert len([p for p in FIXTURES.iterdir() if p.name in HOSTILE]) == 19


def test_errors_carry_what_the_reply_needs():
    with pytest.raises(errors.TooShort) as short:
        audio.decode(FIXTURES / "speech_0.2s.ogg", SETTINGS)
    assert short.value.params == {"seconds": 0.2, "min_seconds": 0.5}
    assert "too short (0.2 s" in messages.describe(short.value, "en")
    with pytest.raises(errors.UnsupportedSampleRate) as rate:
        audio.decode(FIXTURES / "wav_samplerate_1hz.wav", SETTINGS)
    assert rate.value.params == {"rate": 1}
    assert "1 Hz" in messages.describe(rate.value, "zh")
    with pytest.raises(errors.NotAudio) as image:
        audio.decode(FIXTURES / "png_image.mp3", SETTINGS)
    assert image.value.key == "audio.not_audio.image"


def test_a_cut_recording_is_analysed_with_a_note_naming_both_lengths():
    decoded = audio.decode(FIXTURES / "truncated_40pct.ogg", SETTINGS, declared_duration_s=8.1)
    assert decoded.notes == (audio.Note("audio.note.truncated", {"heard_s": 3.0, "declared_s": 8.1}),)
    assert "first 3 s of 8.1 s" in messages.text(decoded.notes[0].key, "en", **decoded.notes[0].params)
    # without the platform's claim there is nothing to compare against, and no note
    assert audio.decode(FIXTURES / "truncated_40pct.ogg", SETTINGS).notes == ()


def test_quiet_speech_is_raised_to_a_normal_level():
    decoded = audio.decode(FIXTURES / "speech_very_quiet_-45dB.ogg", SETTINGS)
    peak_dbfs = 20 * np.log10(np.max(np.abs(decoded.waveform)))
    assert -12 < peak_dbfs <= -0.9
    assert decoded.notes[0].params["gain_db"] >= 30


def test_the_track_with_speech_is_chosen_over_a_silent_default_track():
    decoded = audio.decode(FIXTURES / "video_two_audio_tracks_first_silent.mp4", SETTINGS)
    assert decoded.notes == (audio.Note("audio.note.other_track", {"track": 2, "tracks": 2}),)
    assert decoded.format == "mp4/aac"


def test_a_phase_inverted_stereo_file_falls_back_to_one_channel(tmp_path):
    inverted = tmp_path / "inverted.wav"
    ffmpeg(["-i", FIXTURES / "mp3_content_named.ogg", "-af", "pan=stereo|c0=c0|c1=-1*c0",
            "-ar", "44100", "-c:a", "pcm_s16le", inverted])  # fmt: skip
    decoded = audio.decode(inverted, SETTINGS)
    assert decoded.notes == (audio.Note("audio.note.channel_fallback", {"channel": 1}),)
    assert float(np.max(np.abs(decoded.waveform))) > 0.5


def test_a_recording_too_loud_for_the_microphone_gets_a_clipping_note(tmp_path):
    clipped = tmp_path / "clipped.wav"
    ffmpeg(["-i", FIXTURES / "mp3_content_named.ogg", "-af", "volume=20dB", "-c:a", "pcm_s16le", clipped])
    decoded = audio.decode(clipped, SETTINGS)
    assert [note.key for note in decoded.notes] == ["audio.note.clipped"]
    assert decoded.notes[0].params["percent"] > 5


def test_audio_past_max_seconds_is_refused_after_a_capped_decode(tmp_path):
    long = tmp_path / "long.ogg"
    ffmpeg(["-f", "lavfi", "-i", "anoisesrc=color=pink:duration=12:amplitude=0.3",
            "-ar", "16000", "-c:a", "libopus", "-b:a", "8k", long])  # fmt: skip
    with pytest.raises(errors.TooLong) as caught:
        audio.decode(long, AudioSettings(max_seconds=10))
    assert caught.value.params == {"max_seconds": 10.0}
    # under a larger limit the same noise decodes and the VAD hears no speech in it
    with pytest.raises(errors.NoSpeech):
        audio.decode(long, AudioSettings(max_seconds=20))


def test_bytes_and_paths_give_the_same_audio():
    path = FIXTURES / "mp3_content_named.ogg"
    from_path = audio.decode(path, SETTINGS)
    from_bytes = audio.decode(path.read_bytes(), SETTINGS)
    assert from_path.format == from_bytes.format == "mp3/mp3"
    assert np.array_equal(from_path.waveform, from_bytes.waveform)


def test_without_the_speech_check_silence_is_returned_as_is():
    decoded = audio.decode(FIXTURES / "silence_3s.ogg", SETTINGS, check_speech=False)
    assert abs(decoded.duration_s - 3.0) <= 0.05
    assert float(np.max(np.abs(decoded.waveform))) < 1e-3


def test_is_probably_audio_checks_content_not_names(tmp_path):
    assert audio.is_probably_audio(FIXTURES / "mp3_content_named.ogg") is True
    assert audio.is_probably_audio(FIXTURES / "video_note_h264_aac.mp4") is True
    assert audio.is_probably_audio(FIXTURES / "png_image.mp3") is False
    assert audio.is_probably_audio(FIXTURES / "empty.ogg") is False
    assert audio.is_probably_audio(FIXTURES / "README.md") is False
    assert audio.is_probably_audio(tmp_path / "missing.ogg") is False
    assert audio.is_probably_audio(tmp_path) is False


def test_write_wav_writes_16k_mono_16_bit(tmp_path):
    waveform = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0], dtype=np.float32)
    audio.write_wav(tmp_path / "out.wav", waveform)
    with wave.open(str(tmp_path / "out.wav"), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert frames.tolist() == [0, 16384, -16384, 32767, -32767, 32767]


def test_every_audio_key_reads_well_in_english_and_chinese():
    audio_errors = [
        cls for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.AudioError)
    ]  # fmt: skip
    keys = {cls.key for cls in audio_errors} | {f"audio.not_audio.{k}" for k in errors.NotAudio.KINDS}
    keys |= {k for k in messages.CATALOGUE if k.startswith("audio.note.")}
    assert len(keys) >= 25
    for key in keys:
        assert set(messages.CATALOGUE[key]) == {"en", "zh"}, key


def ffmpeg(args: list) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True, timeout=60)
