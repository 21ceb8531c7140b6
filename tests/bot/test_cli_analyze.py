"""End to end: `emotion-bot analyze` as a subprocess on real speech in several encodings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import struct
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from engine.labels import EMOTIONS
from tests.conftest import SAMPLES, sample_durations

ENCODED = [
    "03a02Wc__telegram_voice.oga",  # Ogg/Opus
    "08a01Wc__iphone_voice_memo.m4a",  # M4A/AAC
    "03a02Ta__mp3_128k_stereo.mp3",  # MP3 stereo
    "LJ001-0008.wav",  # WAV 22.05 kHz
]


def run_cli(*args: str, model: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "EMOTION_BOT__ENGINE__MODEL": str(model),
           "EMOTION_BOT__HISTORY__PATH": str(cwd / "history.db")}
    env.pop("EMOTION_BOT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


def wav_info(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes() / w.getframerate()


def test_analyze_writes_the_seed_layout_for_each_encoding(tmp_path, tiny_model_dir):
    inputs = [str(SAMPLES / name) for name in ENCODED]
    proc = run_cli("analyze", *inputs, "--embedding", "--json", "--out", str(tmp_path / "out"),
                   "--record", "--user", "tester", model=tiny_model_dir, cwd=tmp_path)
    assert 0 == proc.returncode, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    listed = run_cli("history", "--user", "tester", "--json", model=tiny_model_dir, cwd=tmp_path)
    rows = json.loads(listed.stdout)
    assert [line["emotion"] for line in lines][::-1] == [row["emotion"] for row in rows]
    assert sorted(line["history_id"] for line in lines) == sorted(row["id"] for row in rows)
    assert ENCODED == [line["source"] for line in lines]
    folders = sorted((tmp_path / "out").iterdir())
    assert 4 == len(folders)
    durations = sample_durations()
    for line in lines:
        out = Path(line["output_dir"])
        assert out.name.startswith("outputs_")
        assert {"processed_audio.wav", "result.json", "embedding.npy"} == {p.name for p in out.iterdir()}
        result = json.loads((out / "result.json").read_text())
        assert {"emotion", "confidence", "scores", "granularity", "timestamp", "duration_s",
                "model", "source"} <= set(result)
        assert set(EMOTIONS) == set(result["scores"])
        assert 1.0 == pytest.approx(sum(result["scores"].values()), abs=1e-5)
        assert result["emotion"] == max(result["scores"], key=result["scores"].get)
        assert result["confidence"] == pytest.approx(result["scores"][result["emotion"]])
        assert "utterance" == result["granularity"]
        assert str(tiny_model_dir) == result["model"]
        assert 19 == len(result["timestamp"])  # YYYY-MM-DD HH:MM:SS
        assert (32,) == np.load(out / "embedding.npy").shape
        assert np.float32 == np.load(out / "embedding.npy").dtype
        rate, channels, width, seconds = wav_info(out / "processed_audio.wav")
        assert (16000, 1, 2) == (rate, channels, width)
        assert durations[result["source"]] == pytest.approx(seconds, abs=0.05)
        assert durations[result["source"]] == pytest.approx(result["duration_s"], abs=0.05)


def test_folder_frame_mode_skips_non_audio_and_names_failures(tmp_path, tiny_model_dir):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(SAMPLES / "03a02Wc.wav", folder / "a.wav")
    shutil.copy(SAMPLES / "13a01Ea__webm_opus_browser.webm", folder / "sub" / "b.webm")
    (folder / "notes.txt").write_text("not audio")
    missing = tmp_path / "missing.ogg"
    proc = run_cli("analyze", str(folder), str(missing), "--recursive", "--granularity", "frame",
                   "--embedding", "--out", str(tmp_path / "out"), model=tiny_model_dir, cwd=tmp_path)
    assert 1 == proc.returncode  # the missing file failed; the others still ran
    assert f"FAILED {missing}: no such file or folder" in proc.stderr
    assert f"skipped (not audio): {folder / 'notes.txt'}" in proc.stderr
    assert 2 == proc.stdout.count("saved: ")
    outputs = sorted((tmp_path / "out").iterdir())
    assert 2 == len(outputs)
    shapes = sorted(np.load(o / "embedding.npy").shape for o in outputs)
    assert [(99, 32), (99, 32)] == shapes  # 2.0 s -> floor((32000 - 400) / 320) + 1 frames
    results = [json.loads((o / "result.json").read_text()) for o in outputs]
    assert {"frame"} == {r["granularity"] for r in results}
    assert ["a.wav", "b.webm"] == sorted(r["source"] for r in results)
    for out, result in zip(outputs, results):
        timeline = result["timeline"]
        assert (1.0, 0.25) == (timeline["window_s"], timeline["hop_s"])
        assert list(EMOTIONS) == timeline["labels"]
        # 99 frames: windows of 50 frames start at frames 0, 13, 25, 38, 50 (the last reaches the end)
        assert [0.0, 0.26, 0.5, 0.76, 1.0] == timeline["times_s"]
        assert [pytest.approx(1.0, abs=1e-4)] * 5 == [sum(p) for p in timeline["probabilities"]]
        assert timeline["segments"][0]["start_s"] == 0.0
        assert len(timeline["segments"]) == len(timeline["transitions"]) + 1
        png = (out / "timeline.png").read_bytes()
        assert png.startswith(b"\x89PNG")
        assert (800, 400) == struct.unpack(">II", png[16:24])  # IHDR width, height


def test_named_unreadable_file_fails_with_reason_and_others_still_run(tmp_path, tiny_model_dir):
    bogus = tmp_path / "voice.ogg"
    bogus.write_text('{"ok": false, "error_code": 404}')
    proc = run_cli("analyze", str(bogus), str(SAMPLES / "08a02Fe__whatsapp_voice.opus"),
                   "--out", str(tmp_path / "out"), model=tiny_model_dir, cwd=tmp_path)
    assert 1 == proc.returncode
    assert f"FAILED {bogus}: " in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert 1 == len(list((tmp_path / "out").iterdir()))


def test_unreachable_model_is_a_clear_error(tmp_path):
    env = {**os.environ, "EMOTION_BOT__ENGINE__MODEL": str(tmp_path / "no" / "such" / "model")}
    proc = subprocess.run([sys.executable, "-m", "bot", "analyze", str(SAMPLES / "03a02Wc.wav")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert 2 == proc.returncode
    assert "cannot load the model" in proc.stderr and "no such directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_option_is_accepted_before_and_after_the_command(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[audio]\nmax_secondz = 3\n")
    for args in (["--config", str(bad), "analyze", "x.wav"], ["analyze", "x.wav", "--config", str(bad)]):
        proc = subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert 2 == proc.returncode
        assert "configuration error: unknown key audio.max_secondz" in proc.stderr
