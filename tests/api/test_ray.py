"""The API on a real local Ray Serve cluster, inside a network namespace that has only loopback
(``unshare -rn``), so no Ray socket can reach the machine's network: results equal the in-process
engine, backpressure is 503, a replica killed with SIGKILL is replaced, shutdown leaves nothing."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import app, audio
from bot.settings import from_mapping
from tests.api.conftest import VOICE

pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                       reason="the ray extra is not installed (pip install -e '.[ray]')"),
    pytest.mark.skipif(shutil.which("unshare") is None or subprocess.run(
        ["unshare", "-rn", "true"], capture_output=True).returncode != 0,
        reason="unshare -rn (a user and network namespace) is not available here"),
]
HELPER = Path(__file__).with_name("ray_cluster.py")


@pytest.fixture(scope="module")
def cluster(tiny_model_dir, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("ray")
    proc = subprocess.run(
        ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable,
         str(HELPER), str(tiny_model_dir), str(work)],
        capture_output=True, text=True, timeout=300)
    assert 0 == proc.returncode, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_ray_serve_gives_the_in_process_engines_scores(cluster, tiny_model):
    settings = from_mapping({"engine": {"device": "cpu"}})
    wave = audio.decode(VOICE, settings.audio).waveform

    async def local():
        async with app.inference(settings, tiny_model) as engine:
            return (await engine.infer(wave, "utterance")).score_map()

    expected = asyncio.run(local())
    assert 200 == cluster["status"]
    assert expected.keys() == cluster["scores"].keys()
    assert max(abs(expected[k] - cluster["scores"][k]) for k in expected) <= 1e-6
    # the bots' remote engine through Ray's proxy: what `run` with backend = "remote" uses
    assert max(abs(expected[k] - cluster["remote_scores"][k]) for k in expected) <= 1e-6
    assert (401, "engine: ok\n") == (cluster["unauthorized"], cluster["readyz"])


def test_a_full_queue_is_503(cluster):
    # 1 ongoing + 1 queued per the deployment's settings: the rest of a burst of 12 is refused
    assert {200, 503} == set(cluster["flood"])
    assert 1 <= cluster["flood"].count(200) and 1 <= cluster["flood"].count(503)


def test_a_replica_killed_with_sigkill_is_replaced(cluster):
    assert cluster["new_replica"] and 200 == cluster["recovered"]
    assert cluster["recovered_s"] < 150


def test_shutdown_leaves_no_process_and_no_listener(cluster):
    assert ([], False) == (cluster["left_processes"], cluster["listener_left"])
