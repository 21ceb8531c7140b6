"""bot.audio safety bounds: process timeouts, temporary files, input size, peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot import audio, errors
from bot.settings import AudioSettings

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "bad"
SHARED_BAD = REPO.parent / "shared" / "audio" / "bad"
SPEECH = FIXTURES / "mp3_content_named.ogg"


def sleeper(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A fake ffmpeg/ffprobe that records its pid and hangs."""
    pid_file = tmp_path / f"{name}.pid"
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    script.chmod(0o755)
    return script, pid_file


def assert_gone(pid_file: Path) -> None:
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped, not left running or as a zombie


@pytest.mark.parametrize("tool", ["FFPROBE", "FFMPEG"])
def test_a_hung_process_is_killed_at_the_deadline_and_temp_files_go(tmp_path, monkeypatch, tool):
    fake, pid_file = sleeper(tmp_path, tool.lower())
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(audio, tool, str(fake))
    monkeypatch.setattr(audio, "TEMP_DIR", str(spool))
    started = time.monotonic()
    with pytest.raises(errors.DecodeTimeout):
        audio.decode(SPEECH.read_bytes(), AudioSettings(decode_timeout_s=1))
    assert time.monotonic() - started < 5
    assert_gone(pid_file)
    assert list(spool.iterdir()) == []


def test_temp_files_are_removed_after_success_and_after_errors(tmp_path, monkeypatch):
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(audio, "TEMP_DIR", str(spool))
    assert audio.decode(SPEECH.read_bytes(), AudioSettings()).duration_s == pytest.approx(2.0, abs=0.05)
    with pytest.raises(errors.NotAudio):
        audio.decode((FIXTURES / "png_image.mp3").read_bytes(), AudioSettings())
    with pytest.raises(errors.NoSpeech):
        audio.decode((FIXTURES / "non_speech_birdsong.ogg").read_bytes(), AudioSettings())
    assert list(spool.iterdir()) == []


def test_a_missing_ffmpeg_is_a_typed_error(monkeypatch):
    monkeypatch.setattr(audio, "FFPROBE", "/nonexistent/ffprobe")
    with pytest.raises(errors.DecoderMissing):
        audio.decode(SPEECH, AudioSettings())


def test_input_over_max_file_mb_is_refused_before_any_process_runs(monkeypatch):
    monkeypatch.setattr(audio, "FFPROBE", "/nonexistent/ffprobe")  # proves nothing is started
    data = (FIXTURES / "video_note_h264_aac.mp4").read_bytes()  # 84,689 bytes
    with pytest.raises(errors.TooLarge) as caught:
        audio.decode(data, AudioSettings(max_file_mb=0.05))
    assert caught.value.params == {"size_mb": 0.1, "max_mb": 0.05}
    with pytest.raises(errors.EmptyFile):
        audio.decode(b"", AudioSettings())


def test_saved_error_pages_are_reported_as_failed_downloads():
    with pytest.raises(errors.DownloadFailed):
        audio.decode(b'{"ok":false,"error_code":400,"description":"Bad Request"}', AudioSettings())
    with pytest.raises(errors.DownloadFailed):
        audio.decode(b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>", AudioSettings())


def test_concurrent_decodes_share_one_voice_activity_detector_safely():
    names = ["speech_very_quiet_-45dB.ogg", "non_speech_birdsong.ogg", "mp3_content_named.ogg"] * 3

    def outcome(name: str) -> str:
        try:
            return audio.decode(FIXTURES / name, AudioSettings()).format
        except errors.AudioError as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(outcome, names))
    assert outcomes == ["ogg/opus", "NoSpeech", "mp3/mp3"] * 3


MEMORY_PROBE = r"""
import json, resource, sys
from pathlib import Path
from bot import audio
from bot.settings import AudioSettings
def peak(who): return resource.getrusage(who).ru_maxrss // 1024
check_speech = sys.argv[1] == "speech"
audio.decode(Path(sys.argv[2]), AudioSettings(), check_speech=check_speech)  # warm up (torch, VAD)
baseline = peak(resource.RUSAGE_SELF)
outcomes = {}
for name in sys.argv[3:]:
    path = Path(name)
    # no sample-rate check: the output caps alone must hold the 1 Hz WAV (1 GB if uncapped)
    for settings in (AudioSettings(), AudioSettings(min_sample_rate=1)):
        try:
            outcomes[path.name] = audio.decode(path, settings, check_speech=check_speech).format
        except audio.errors.AudioError as exc:
            outcomes[path.name] = type(exc).__name__
print(json.dumps({"baseline": baseline, "self": peak(resource.RUSAGE_SELF),
                  "children": peak(resource.RUSAGE_CHILDREN), "outcomes": outcomes}))
"""


def memory_report(mode: str) -> dict:
    files = sorted(FIXTURES.iterdir()) + (sorted(SHARED_BAD.iterdir()) if SHARED_BAD.is_dir() else [])
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, mode, str(SPEECH), *map(str, files)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.splitlines()[-1])


def test_peak_memory_while_decoding_hostile_files_stays_bounded():
    # Python side, with the speech gate: growth over the warmed-up process, in MB
    report = memory_report("speech")
    assert report["self"] - report["baseline"] < 300, report
    assert report["outcomes"]["wav_samplerate_1hz.wav"] in ("Corrupt", "TooLong")
    # ffmpeg/ffprobe side: a lean parent (no torch), so a child's peak is its own (forked children
    # inherit the parent's high-water mark), in MB
    report = memory_report("no-speech")
    assert report["children"] < 300, report
    assert report["self"] - report["baseline"] < 300, report
