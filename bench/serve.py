"""Benchmark: `emotion-bot serve` against the in-process engine, on the same model and clip.

    python bench/serve.py [--size tiny|base|large] [--requests N] [--concurrency C]

One run: a checkpoint with RANDOM weights (``make_model``; speed carries over to the real model,
scores do not), the in-process engine (``bot.app.inference``) in this process, and `serve` as its
own process on 127.0.0.1 (so client and server do not share one interpreter). The clip is the
bundled 2 s Telegram voice note. Measured, each for N requests, first one at a time, then with C
concurrent callers:

- ``local``     ``Inference.infer`` of the decoded samples in this process;
- ``emotion``   ``POST /v1/emotion`` with the same samples (JSON answer);
- ``remote``    the remote engine (``bot.remote``) as the bots use it: samples in, ``.npz`` out;
- ``analyze``   ``POST /v1/analyze`` with the file (adds the ffmpeg decode and speech gate);
- ``local+decode``  decode + infer in this process: what ``analyze`` does.

With ``--ray`` the whole bench re-runs itself inside ``unshare -rn`` (loopback only) and adds the
HTTP rows against a local Ray Serve cluster (``bot.api.ray_serve``) with 1 and 2 replicas
(``ray1-*``, ``ray2-*``; one CPU and one torch thread per replica).

Prints requests/s, p50/p95 latency and the per-request overhead (p50 minus the in-process p50 of
the same work); the last line is one JSON object with every figure. Other processes on the
machine skew every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NOTE = ROOT / "samples" / "03a02Wc__telegram_voice.oga"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def start_serve(model_dir: Path, threads: int = 0) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "EMOTION_BOT__ENGINE__MODEL": str(model_dir),
           "EMOTION_BOT__ENGINE__THREADS": str(threads),
           "EMOTION_BOT__ENGINE__DEVICE": "cpu", "EMOTION_BOT__API__PORT": "0",
           "EMOTION_BOT__LOGGING__LEVEL": "INFO"}
    env.pop("EMOTION_BOT_API_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    found: dict = {}
    done = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            match = re.search(r"serving on (http://\S+)", line)
            if match and not done.is_set():
                found["url"] = match.group(1)
                done.set()
        done.set()

    threading.Thread(target=read, daemon=True).start()
    if not done.wait(300) or "url" not in found:
        proc.kill()
        raise SystemExit("serve did not start within 300 s")
    return proc, found["url"]


def summary(latencies: list[float], wall_s: float) -> dict:
    ms = np.array(latencies) * 1000
    return {"requests_per_s": round(len(latencies) / wall_s, 2),
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2)}


async def measure(call, n: int, concurrency: int) -> dict:
    """``n`` awaited calls of ``call()`` by ``concurrency`` callers (after 3 warm-up calls)."""
    for _ in range(3):
        await call()
    latencies: list[float] = []
    left = iter(range(n))

    async def caller() -> None:
        for _ in left:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return summary(latencies, time.perf_counter() - started)


async def run(model_dir: Path, url: str, n: int, concurrency: int, threads: int,
              ray_url=None) -> dict:
    import httpx

    from bot import app, audio
    from bot.remote import RemoteInference
    from bot.settings import from_mapping

    settings = from_mapping({"engine": {"model": str(model_dir), "device": "cpu",
                                        "threads": threads, "max_queue_clips": 4096}})
    data = NOTE.read_bytes()
    wave = audio.decode(data, settings.audio).waveform
    samples = wave.astype("<f4").tobytes()
    figures: dict = {}
    async with app.inference(settings) as local, \
            httpx.AsyncClient(base_url=url, timeout=120,
                              limits=httpx.Limits(max_connections=concurrency)) as client:
        remote = await RemoteInference(url, max_in_flight=4096).connect()

        async def local_decode():
            decoded = await asyncio.to_thread(audio.decode, data, settings.audio)
            await local.infer(decoded.waveform, "utterance")

        async def post(path, body, **headers):
            response = await client.post(path, content=body, headers=headers)
            response.raise_for_status()

        calls = {
            "local": lambda: local.infer(wave, "utterance"),
            "emotion": lambda: post("/v1/emotion", samples,
                                    **{"Content-Type": "application/octet-stream"}),
            "remote": lambda: remote.infer(wave, "utterance"),
            "local+decode": local_decode,
            "analyze": lambda: post("/v1/analyze", data),
        }
        for c in sorted({1, concurrency}):
            for name, call in calls.items():
                key = f"{name}@{c}"
                figures[key] = await measure(call, n, c)
                log(f"{key:>16}: {figures[key]['requests_per_s']:8.2f} req/s   "
                    f"p50 {figures[key]['p50_ms']:8.2f} ms   p95 {figures[key]['p95_ms']:8.2f} ms")
        await remote.close()
    clusters = ray_url() if ray_url else iter(())
    # serve.run blocks while replicas start: off the event loop
    while (cluster := await asyncio.to_thread(next, clusters, None)) is not None:
        replicas, url_of = cluster
        async with httpx.AsyncClient(base_url=url_of, timeout=120) as ray_client:
            remote = await RemoteInference(url_of, max_in_flight=4096).connect()

            async def ray_post(path, body, _c=ray_client, **headers):
                response = await _c.post(path, content=body, headers=headers)
                response.raise_for_status()

            ray_calls = {
                "emotion": lambda: ray_post("/v1/emotion", samples, **{
                    "Content-Type": "application/octet-stream"}),
                "remote": lambda r=remote: r.infer(wave, "utterance"),
                "analyze": lambda: ray_post("/v1/analyze", data),
            }
            for c in sorted({1, concurrency}):
                for name, call in ray_calls.items():
                    key = f"ray{replicas}-{name}@{c}"
                    figures[key] = await measure(call, n, c)
                    base = "local+decode" if name == "analyze" else "local"
                    figures[key]["overhead_p50_ms"] = round(
                        figures[key]["p50_ms"] - figures[f"{base}@{c}"]["p50_ms"], 2)
                    log(f"{key:>16}: {figures[key]['requests_per_s']:8.2f} req/s   "
                        f"p50 {figures[key]['p50_ms']:8.2f} ms")
            await remote.close()
    for c in sorted({1, concurrency}):
        for name, base in (("emotion", "local"), ("remote", "local"), ("analyze", "local+decode")):
            figures[f"{name}@{c}"]["overhead_p50_ms"] = round(
                figures[f"{name}@{c}"]["p50_ms"] - figures[f"{base}@{c}"]["p50_ms"], 2)
    return figures


def ray_clusters(model_dir: Path, work: Path):
    """Yield ``(replicas, url)`` for a local Ray Serve app with 1, then 2 replicas."""
    import socket

    import ray
    from ray import serve

    from bot.api.ray_serve import app_builder

    config = work / "config.toml"
    config.write_text(f'[engine]\nmodel = "{model_dir}"\ndevice = "cpu"\n')
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ["PYTHONPATH"] = str(ROOT)
    ray.init(include_dashboard=False, object_store_memory=80 * 1024 * 1024,
             _temp_dir=str(work / "ray"), log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        for replicas in (1, 2):
            started = time.perf_counter()
            serve.run(app_builder({"config": str(config), "replicas": replicas,
                                   "max_queued_requests": 4096}), route_prefix="/", name="bench")
            log(f"ray: {replicas} replica(s) ready in {time.perf_counter() - started:.1f} s")
            yield replicas, f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("tiny", "base", "large"), default="tiny")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads of each engine (0: every core). Two engines of 2 "
                        "threads each on 2 cores slow each other down: 1 compares them fairly")
    parser.add_argument("--ray", action="store_true",
                        help="also Ray Serve with 1 and 2 replicas (inside unshare -rn)")
    args = parser.parse_args()
    if args.ray and not os.environ.get("BENCH_IN_NETNS"):
        os.execvp("unshare", ["unshare", "-rn", "sh", "-c",
                              'ip link set lo up && BENCH_IN_NETNS=1 exec "$0" "$@"',
                              sys.executable, *sys.argv])
    from engine.checkpoint import make_model

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        log(f"writing a {args.size} checkpoint with RANDOM weights")
        model_dir = make_model(Path(tmp) / args.size, args.size, seed=0)
        proc, url = start_serve(model_dir, args.threads)
        try:
            log(f"serve is up at {url}; {args.requests} requests per row, 2.0 s voice note")
            ray_url = (lambda: ray_clusters(model_dir, Path(tmp))) if args.ray else None
            figures = asyncio.run(run(model_dir, url, args.requests, args.concurrency,
                                      args.threads, ray_url))
        finally:
            proc.terminate()
            rc = proc.wait(60)
    log("overhead per request (p50 minus in-process p50 of the same work):")
    for key, row in figures.items():
        if "overhead_p50_ms" in row:
            log(f"{key:>16}: {row['overhead_p50_ms']:+.2f} ms")
    print(json.dumps({"size": args.size, "requests": args.requests, "clip_s": 2.0,
                      "threads": args.threads,
                      "cores": len(os.sched_getaffinity(0)), "serve_exit": rc,
                      "figures": figures}))


if __name__ == "__main__":
    main()
