"""Engine fixtures: real speech at 16 kHz from samples/, and a base-size random model."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SPEECH_FILES = ("03a02Wc.wav", "LJ001-0008.wav")


@functools.cache
def _speech() -> np.ndarray:
    parts = []
    for name in SPEECH_FILES:
        raw = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(SAMPLES / name),
             "-f", "f32le", "-ac", "1", "-ar", "16000", "-"],
            check=True, capture_output=True, timeout=60,
        ).stdout
        parts.append(np.frombuffer(raw, dtype=np.float32))
    return np.concatenate(parts)


def speech(seconds: float, offset_s: float = 0.0) -> np.ndarray:
    """``seconds`` of real speech (the samples looped), starting ``offset_s`` in."""
    source = _speech()
    start = int(offset_s * 16000) % len(source)
    count = int(round(seconds * 16000))
    reps = (start + count) // len(source) + 1
    return np.ascontiguousarray(np.tile(source, reps)[start : start + count])


@pytest.fixture(scope="session")
def base_model_dir(tmp_path_factory) -> Path:
    """emotion2vec+ base's architecture (768 wide, 95-wide positional convs), random weights."""
    from engine.checkpoint import make_model

    return make_model(tmp_path_factory.mktemp("models") / "base", "base", seed=0)


@pytest.fixture(scope="session")
def base_model(base_model_dir):
    from engine.loader import ModelSpec, load_model

    return load_model(ModelSpec(model=str(base_model_dir), device="cpu"))


@functools.cache
def _automodel(directory: str):
    from funasr import AutoModel

    return AutoModel(model=directory, disable_update=True, device="cpu", ncpu=2, log_level="ERROR")


def funasr_generate(directory: Path, wave: np.ndarray, granularity: str) -> dict:
    """FunASR's own per-clip result for one waveform (labels, scores, feats)."""
    return _automodel(str(directory)).generate(
        wave, granularity=granularity, extract_embedding=True, disable_pbar=True
    )[0]
