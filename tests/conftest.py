"""Shared fixtures: the in-repo sample clips, ../shared/audio when present, and a tiny model.

The tiny model is a real emotion2vec checkpoint written through FunASR's own class
(``engine.checkpoint.make_model``) with random weights, and loaded by exactly the code users run.
"""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SHARED_AUDIO = ROOT.parent / "shared" / "audio"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_durations() -> dict[str, float]:
    """File name -> duration in seconds, from samples/MANIFEST.csv."""
    with open(SAMPLES / "MANIFEST.csv", newline="", encoding="utf-8") as fh:
        return {Path(row["file"]).name: float(row["duration_s"]) for row in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    if not SHARED_AUDIO.is_dir():
        pytest.skip(f"../shared/audio not present beside the repo ({SHARED_AUDIO}): "
                    "the full corpus tests need it")
    return SHARED_AUDIO


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from engine.checkpoint import make_model

    return make_model(tmp_path_factory.mktemp("models") / "tiny", "tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from engine.loader import ModelSpec, load_model

    return load_model(ModelSpec(model=str(tiny_model_dir), device="cpu"))
