"""A burst at the Slack HTTP listener: 100 simultaneous signed slash commands while 20 analyses
run on the real Service (tiny model, real ffmpeg decodes). Slack never retries a slash command, so
every one must be acked: no connection reset, every ack within Slack's 3 s."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

import httpx

from adapters import slack
from tests.adapters.fake_slack import signed_headers
from tests.adapters.startup_kit import until
from tests.adapters.test_slack import SECRET, VOICE, real_service, settings_for

ANALYSES, BURST, SLACK_ACK_S = 20, 100, 3.0


def command(fake, user: str, text: str) -> str:
    return urlencode({"command": "/emotion", "text": text, "user_id": user, "team_id": "T1",
                      "channel_id": "C1", "trigger_id": f"t-{user}-{text}",
                      "response_url": f"{fake.url}/respond/{user}"})


def test_100_simultaneous_commands_while_20_analyses_run(fake, tmp_path, tiny_model, log):
    for i in range(ANALYSES):
        fake.add_file(f"FBURST{i:03d}", VOICE, user=f"UA{i}", channel="C1",
                      ts=f"1700000900.{i:06d}")

    settings = settings_for(fake, tmp_path)
    url = f"http://127.0.0.1:{settings.slack.port}{slack.EVENTS_PATH}"

    async def scenario():
        async with real_service(settings, tiny_model) as core:
            stop = asyncio.Event()
            task = asyncio.create_task(slack.serve(settings, core, stop))
            try:
                return await burst(task)
            finally:
                stop.set()
                await asyncio.wait_for(task, 60)

    async def burst(task):
        async with httpx.AsyncClient(timeout=10) as http:
            async def post(body: str) -> httpx.Response:
                return await http.post(url, content=body.encode(),
                                       headers=signed_headers(body, SECRET))

            async def listening() -> bool:
                assert not task.done(), task
                try:
                    return (await http.post(url, content=b"")).status_code == 401
                except httpx.TransportError:
                    return False

            await until(listening, 30, "the listener")
            for i in range(ANALYSES):
                assert 200 == (await post(command(fake, f"UA{i}", f"analyse FBURST{i:03d}"))
                               ).status_code
            # at once: 20 analyses (files.info, download, ffmpeg, the model) run during the burst
            running = len(fake.calls("/api/chat.postMessage"))
            limits = httpx.Limits(max_connections=BURST * 2, max_keepalive_connections=BURST * 2)
            async with httpx.AsyncClient(timeout=30, limits=limits) as burst_http:
                async def one(n: int):
                    body = command(fake, f"UB{n}", "history")
                    started = time.monotonic()
                    try:
                        resp = await burst_http.post(url, content=body.encode(),
                                                     headers=signed_headers(body, SECRET))
                    except httpx.TransportError as err:
                        return type(err).__name__, time.monotonic() - started
                    return resp.status_code, time.monotonic() - started

                results = await asyncio.gather(*(one(n) for n in range(BURST)))
            await until(lambda: len([r for r in fake.records if r.path.startswith("/respond/UB")])
                        >= BURST, 120, "every command answered")
            await until(lambda: len(fake.calls("/api/chat.postMessage")) >= ANALYSES, 180,
                        "every analysis answered")
            return running, results

    running, results = asyncio.run(scenario())
    codes = [code for code, _ in results]
    slowest = max(took for _, took in results)
    print(f"burst of {BURST}: slowest ack {slowest:.3f} s, "
          f"median {sorted(t for _, t in results)[BURST // 2]:.3f} s; "
          f"{ANALYSES - running} of {ANALYSES} analyses still running when it began")
    assert [200] * BURST == codes  # no reset, no refusal
    assert slowest < SLACK_ACK_S
    assert running < ANALYSES  # the burst met analyses in progress (each needs ffmpeg)
    log.assert_clean(SECRET, fake.bot_token)
