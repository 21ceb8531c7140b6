"""Benchmark: end-to-end latency and throughput of the Telegram bot, as users meet it.

    python bench/e2e.py [--size tiny|base] [--notes 100] [--users 20] [--solo 10]

The real python-telegram-bot polls a fake Bot API on 127.0.0.1 (tests/adapters/fake_telegram.py);
the real Service (``bot.app.running``: audio decode, one engine, SQLite history with the job
journal) answers with the chart and the ``.npy`` embedding. The model is emotion2vec in the chosen
size with RANDOM weights (``make_model``; speed carries over, scores do not). A voice note's
end-to-end time runs from its update being queued at the fake to its last reply call arriving
there. Two phases: ``--solo`` notes one at a time (latency without queueing; the overhead is that
minus the engine's mean time per clip), then ``--notes`` notes from ``--users`` users at once
(p50/p95 under load, throughput), then ``--flood`` notes from ``--flood-users`` users with the
fake enforcing Telegram's flood control (one message per second per chat, 429 with
``retry_after`` beyond it): delivery latency when the platform makes the bot wait, beside the
figures without it. ``--long N`` (off by default: minutes of decoding) then sends N notes of
``--long-seconds`` each at once and reports the process's peak RSS before and after, the figure
``[limits] in_flight_mb`` bounds. The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VOICE = ROOT / "samples" / "03a02Wc__telegram_voice.oga"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def model_seconds() -> tuple[float, int]:
    from bot.metrics import REGISTRY

    total = REGISTRY.get_sample_value("emotion_bot_inference_seconds_sum") or 0.0
    count = REGISTRY.get_sample_value("emotion_bot_inference_seconds_count") or 0
    return total, int(count)


async def run(args, model_dir: Path) -> dict:
    from adapters.telegram import serve
    from bot import app
    from bot.settings import Secrets, from_mapping
    from tests.adapters import fake_telegram as fake

    data = VOICE.read_bytes()
    with fake.FakeTelegram() as tg, tempfile.TemporaryDirectory() as tmp:
        settings = from_mapping({
            "engine": {"model": str(model_dir), "device": "cpu", "max_queue_clips": 4096},
            "history": {"path": str(Path(tmp) / "bench.db")},
            "limits": {"requests_per_minute": 0, "daily_audio_seconds": 0},
            "telegram": {"base_url": tg.base_url, "base_file_url": tg.base_file_url,
                         "poll_timeout_s": 1},
        }, secrets=Secrets(telegram_bot_token=fake.TOKEN))
        async with app.running(settings) as core:
            stop = asyncio.Event()
            task = asyncio.create_task(serve(settings, core, stop))
            try:
                await asyncio.to_thread(tg.wait_for, lambda: tg.recorded("setMyCommands"), 60)
                tg.add_file("bench", data)
                warm = await send(tg, [1], data)  # first call pays lazy imports and caches
                log(f"warm-up note: {warm[0]:.2f} s")
                solo, solo_model = [], []
                for i in range(args.solo):
                    before = model_seconds()
                    solo += await send(tg, [100 + i % max(1, args.users)], data)
                    after = model_seconds()
                    solo_model.append((after[0] - before[0]) / max(1, after[1] - before[1]))
                before = model_seconds()
                started = time.monotonic()
                users = [1000 + n % args.users for n in range(args.notes)]
                burst = await send(tg, users, data, timeout=max(120.0, args.notes * 5.0))
                wall = time.monotonic() - started
                after = model_seconds()
                tg.flood_control(per_chat_s=1.0, group_per_minute=20)
                refused_before = len(tg.refused())
                flood_users = [5000 + n % args.flood_users for n in range(args.flood)]
                flood = await send(tg, flood_users, data, timeout=max(120.0, args.flood * 10.0))
                refused = len(tg.refused()) - refused_before
                long_figures = {}
                if args.long:
                    long_figures = await long_notes(tg, args.long, args.long_seconds)
            finally:
                stop.set()
                await asyncio.wait_for(task, 60)
    clip_s = 2.0  # the sample voice note's speech
    model_mean = (after[0] - before[0]) / max(1, after[1] - before[1])
    return {
        "size": args.size, "notes": args.notes, "users": args.users, "solo_notes": args.solo,
        "solo_p50_s": round(statistics.median(solo), 4) if solo else None,
        "solo_model_s": round(statistics.mean(solo_model), 4) if solo_model else None,
        "overhead_p50_s": (round(statistics.median(solo) - statistics.mean(solo_model), 4)
                           if solo else None),
        "p50_s": round(pct(burst, 50), 4), "p95_s": round(pct(burst, 95), 4),
        "engine_s_per_clip_under_load": round(model_mean, 4),
        "throughput_notes_per_s": round(args.notes / wall, 2),
        "audio_s_per_s": round(args.notes * clip_s / wall, 2), "wall_s": round(wall, 2),
        "flood_notes": args.flood, "flood_users": args.flood_users,
        "flood_p50_s": round(pct(flood, 50), 4) if flood else None,
        "flood_p95_s": round(pct(flood, 95), 4) if flood else None,
        "flood_429s": refused, **long_figures,
    }


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def long_notes(tg, count: int, seconds: float) -> dict:
    """``count`` voice notes of ``seconds`` (the sample looped, Opus like Telegram's) at once."""
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "long.oga"
        subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "-1", "-i", str(VOICE), "-t",
                        str(seconds), "-c:a", "libopus", "-b:a", "32k", str(out)], check=True)
        data = out.read_bytes()
    tg.add_file("long", data)
    before = peak_rss_mb()
    started = time.monotonic()
    await send(tg, [7000 + n for n in range(count)], data, timeout=max(600.0, count * 60.0),
               file_id="long")
    log(f"{count} notes of {seconds:.0f} s ({len(data) / 1e6:.1f} MB each) in "
        f"{time.monotonic() - started:.0f} s")
    return {"long_notes": count, "long_seconds": seconds, "long_bytes": len(data),
            "peak_rss_mb_before": round(before), "peak_rss_mb_after": round(peak_rss_mb())}


async def send(tg, users: list[int], data: bytes, timeout: float = 60.0,
               file_id: str = "bench") -> list[float]:
    """Push one voice note per entry of ``users`` at once; each note's end-to-end seconds."""
    from tests.adapters import fake_telegram as fake

    pushed = {}
    for uid in users:
        msg = fake.message(uid, uid, **fake.voice(file_id, len(data)))
        pushed[(uid, msg["message_id"])] = time.monotonic()
        tg.push({"message": msg})

    def finished():
        done = {}
        for call in tg.recorded():
            if call.method not in ("sendMessage", "sendDocument") or call.status != 200:
                continue
            params = call.params.get("reply_parameters")
            if isinstance(params, dict):
                key = (int(call.params["chat_id"]), int(params["message_id"]))
                if key in pushed:
                    done[key] = max(done.get(key, 0.0), call.at)
        return done if len(done) == len(pushed) else None

    done = await asyncio.to_thread(tg.wait_for, finished, timeout)
    await asyncio.sleep(0.2)  # a late document still counts
    done = finished() or done
    return [done[k] - pushed[k] for k in pushed]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=("tiny", "base"), default="tiny")
    parser.add_argument("--notes", type=int, default=100)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--solo", type=int, default=10)
    parser.add_argument("--flood", type=int, default=20)
    parser.add_argument("--flood-users", type=int, default=5)
    parser.add_argument("--long", type=int, default=0)
    parser.add_argument("--long-seconds", type=float, default=299.0)
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from engine.checkpoint import make_model

    with tempfile.TemporaryDirectory() as models:
        log(f"building a {args.size} emotion2vec with random weights")
        model_dir = make_model(Path(models) / args.size, args.size, seed=0)
        figures = asyncio.run(run(args, model_dir))
    rows = [("model", args.size), ("notes at once / users", f"{args.notes} / {args.users}"),
            ("solo p50 end-to-end", f"{figures['solo_p50_s'] * 1000:.0f} ms"),
            ("solo model time per clip", f"{figures['solo_model_s'] * 1000:.0f} ms"),
            ("overhead beyond the model (p50)", f"{figures['overhead_p50_s'] * 1000:.0f} ms"),
            ("under load p50 end-to-end", f"{figures['p50_s']:.2f} s"),
            ("under load p95 end-to-end", f"{figures['p95_s']:.2f} s"),
            ("engine time per clip under load (queue + run)",
             f"{figures['engine_s_per_clip_under_load'] * 1000:.0f} ms"),
            ("throughput", f"{figures['throughput_notes_per_s']:.2f} notes/s "
                           f"({figures['audio_s_per_s']:.1f} audio-s/s)"),
            ("under flood control: notes / users", f"{args.flood} / {args.flood_users}"),
            ("under flood control p50 / p95", f"{figures['flood_p50_s']:.2f} s / "
                                              f"{figures['flood_p95_s']:.2f} s"),
            ("429s answered by the fake", f"{figures['flood_429s']}")]
    if args.long:
        rows.append((f"peak RSS before / after {args.long} notes of {args.long_seconds:.0f} s",
                     f"{figures['peak_rss_mb_before']} / {figures['peak_rss_mb_after']} MB"))
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
