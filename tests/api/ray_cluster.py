"""Run by ``test_ray.py`` inside ``unshare -rn`` (a network namespace with only loopback): a real
local Ray cluster (token auth on, no dashboard, a small object store) serving ``bot.api.ray_serve``
with the tiny checkpoint. Prints one JSON object of observations; the test asserts on them.

    python tests/api/ray_cluster.py MODEL_DIR WORK_DIR
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
VOICE = (ROOT / "samples" / "03a02Wc__telegram_voice.oga").read_bytes()
TOKEN = "ray-test-api-token"


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def replicas() -> list[int]:
    return [p for p in descendants(os.getpid()) if "ServeReplica" in cmdline(p)]


def remote_scores(url: str) -> dict:
    """What the bots' remote engine (``backend = "remote"``) gets from the deployment."""
    import asyncio

    from bot import audio
    from bot.remote import RemoteInference
    from bot.settings import AudioSettings

    wave = audio.decode(VOICE, AudioSettings()).waveform

    async def run():
        remote = await RemoteInference(url, TOKEN).connect()
        try:
            return (await remote.infer(wave, "utterance")).score_map()
        finally:
            await remote.close()

    return asyncio.run(run())


def main(model_dir: str, work: str) -> dict:
    import httpx
    import numpy as np

    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="ray-cluster-token-" + "0" * 16,
                      EMOTION_BOT_API_TOKEN=TOKEN, PYTHONPATH=str(ROOT))
    config = Path(work) / "config.toml"
    config.write_text(f'[engine]\nmodel = "{model_dir}"\ndevice = "cpu"\n')
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    out: dict = {}
    started = time.monotonic()

    import ray
    from ray import serve

    from bot.api.ray_serve import app_builder

    ray.init(include_dashboard=False, object_store_memory=80 * 1024 * 1024, num_cpus=2,
             _temp_dir=str(Path(work) / "ray"), log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(app_builder({"config": str(config), "max_ongoing_requests": 1,
                               "max_queued_requests": 1}), route_prefix="/", name="emotion")
        answer = httpx.post(f"{url}/v1/analyze", content=VOICE, headers=auth, timeout=120)
        out["first_answer_s"] = round(time.monotonic() - started, 1)
        out["status"] = answer.status_code
        out["scores"] = answer.json()["scores"]
        out["remote_scores"] = remote_scores(url)
        out["unauthorized"] = httpx.get(f"{url}/v1/info", timeout=30).status_code
        out["readyz"] = httpx.get(f"{url}/readyz", timeout=30).text

        def one(_):
            return httpx.post(f"{url}/v1/analyze", content=VOICE, headers=auth, timeout=120)

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            flood = list(pool.map(one, range(12)))
        out["flood"] = sorted(r.status_code for r in flood)
        out["busy_retry_after"] = sorted({r.headers.get("retry-after", "") for r in flood
                                          if r.status_code == 503})

        (victim,) = replicas()
        os.kill(victim, signal.SIGKILL)
        killed_at, failures = time.monotonic(), 0
        while time.monotonic() - killed_at < 150:
            try:
                if one(0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            failures += 1
            time.sleep(0.5)
        out["recovered_s"] = round(time.monotonic() - killed_at, 1)
        out["recovered"] = one(0).status_code
        out["new_replica"] = [p for p in replicas() if p != victim] != []
    finally:
        serve.shutdown()
        ray.shutdown()
    deadline = time.monotonic() + 60
    while descendants(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.2)
    out["left_processes"] = [cmdline(p)[:80] for p in descendants(os.getpid())]
    try:
        httpx.get(f"{url}/livez", timeout=5)
        out["listener_left"] = True
    except httpx.HTTPError:
        out["listener_left"] = False
    out["total_s"] = round(time.monotonic() - started, 1)
    del np
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
