"""The remote engine: the same answers as the in-process engine through a real `serve`, and its
error mapping (refused, 404, 500 then success, 503/429 busy, timeout, token refused)."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import numpy as np
import pytest

from bot import app, audio
from bot.api import bodies
from bot.inference import Unreachable
from bot.remote import RemoteBusy, RemoteInference
from bot.settings import Secrets, SettingsError, from_mapping
from engine.labels import EMOTIONS
from engine.types import ClipResult
from tests.api.conftest import TOKEN, VOICE

INFO = {"api_version": "1", "model": "m", "labels": list(EMOTIONS), "random_weights": True,
        "device": "cpu", "precision": "float32"}
WAVE = np.linspace(-0.5, 0.5, 16000, dtype=np.float32)


def remote_settings(url: str, token: str = TOKEN, **engine):
    return from_mapping({"engine": {"backend": "remote", "url": url, **engine}},
                        secrets=Secrets(emotion_bot_engine_token=token))


def test_the_remote_engine_gives_the_in_process_engines_results(api, tiny_model):
    wave = audio.decode(VOICE, api.settings.audio).waveform

    async def run():
        async with app.inference(api.settings, tiny_model) as local, \
                app.inference(remote_settings(api.url)) as remote:
            assert (tiny_model.model_id, tuple(EMOTIONS), True) == (
                remote.model.id, remote.model.labels, remote.model.random_weights)
            return [(await local.infer(wave, g), await remote.infer(wave, g))
                    for g in ("utterance", "frame")]

    (utt_local, utt_remote), (frame_local, frame_remote) = asyncio.run(run())
    for local, remote in ((utt_local, utt_remote), (frame_local, frame_remote)):
        assert local.labels == remote.labels
        assert np.abs(local.scores - remote.scores).max() <= 1e-6
        assert np.abs(local.embedding - remote.embedding).max() <= 1e-6
    assert utt_remote.frames is None and utt_remote.timeline is None
    assert frame_local.frames.shape == frame_remote.frames.shape
    assert np.abs(frame_local.frames - frame_remote.frames).max() <= 1e-6
    assert np.abs(frame_local.timeline.probs - frame_remote.timeline.probs).max() <= 1e-6
    assert np.allclose(frame_local.timeline.times_s, frame_remote.timeline.times_s)


def npz_answer(granularity="utterance") -> bytes:
    scores = np.full(len(EMOTIONS), 1 / len(EMOTIONS), dtype=np.float32)
    result = ClipResult(tuple(EMOTIONS), scores, np.arange(4, dtype=np.float32))
    record = {"scores": dict(zip(EMOTIONS, scores.tolist())), "granularity": granularity}
    return bodies.npz(record, result)


def mocked(*answers):
    """A RemoteInference whose transport gives ``answers`` in turn (a status, an exception, or
    a Response); every request is recorded."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/info":
            return httpx.Response(200, json=INFO)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer, json={"error": "x", "detail": "y"})
        return answer

    remote = RemoteInference("http://127.0.0.1:9", "tok", transport=httpx.MockTransport(handler),
                             retry_delay_s=0)
    return remote, seen


def infer_with(remote) -> ClipResult:
    async def run():
        try:
            await remote.connect()
            return await remote.infer(WAVE, "utterance")
        finally:
            await remote.close()

    return asyncio.run(run())


def test_a_500_then_success_is_retried_once_and_sends_token_samples_and_accept():
    remote, seen = mocked(500, httpx.Response(200, content=npz_answer()))
    result = infer_with(remote)
    assert tuple(EMOTIONS) == result.labels and (4,) == result.embedding.shape
    posts = [r for r in seen if r.url.path == "/v1/emotion"]
    assert 2 == len(posts)
    assert "Bearer tok" == posts[0].headers["Authorization"]
    assert "application/x-npz" == posts[0].headers["Accept"]
    assert {"granularity": "utterance", "embedding": "true"} == dict(posts[0].url.params)
    assert np.array_equal(WAVE, np.frombuffer(posts[0].content, dtype="<f4"))
    assert 1 == remote.stats()["retries"]


def test_a_dropped_connection_then_success_is_retried_once():
    remote, seen = mocked(httpx.ConnectError("reset"), httpx.Response(200, content=npz_answer()))
    assert tuple(EMOTIONS) == infer_with(remote).labels


def test_two_500s_make_it_unreachable():
    remote, _ = mocked(500, 500)
    with pytest.raises(Unreachable, match="failed \\(500"):
        infer_with(remote)


@pytest.mark.parametrize("status", [503, 429])
def test_503_and_429_are_busy(status):
    remote, seen = mocked(status)
    with pytest.raises(RemoteBusy):
        infer_with(remote)
    assert RemoteBusy in remote.busy
    assert 1 == len([r for r in seen if r.url.path == "/v1/emotion"])  # busy is not retried


def test_404_says_the_url_is_not_an_emotion_bot_api():
    remote, seen = mocked(404)
    with pytest.raises(Unreachable, match="does not exist \\(404\\).*\\[engine\\] url"):
        infer_with(remote)
    assert 1 == len([r for r in seen if r.url.path == "/v1/emotion"])


def test_401_names_the_token_variable():
    remote, _ = mocked(401)
    with pytest.raises(Unreachable, match="EMOTION_BOT_ENGINE_TOKEN"):
        infer_with(remote)


def test_a_400_refusal_is_a_value_error_with_the_services_detail():
    remote, _ = mocked(httpx.Response(400, json={"error": "bad_samples", "detail": "peak 3"}))
    with pytest.raises(ValueError, match="bad_samples: peak 3"):
        infer_with(remote)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_refused_connection_is_retried_then_unreachable_naming_the_address():
    port = free_port()  # nothing listens there any more
    remote = RemoteInference(f"http://127.0.0.1:{port}", retry_delay_s=0)
    with pytest.raises(Unreachable, match=f"http://127.0.0.1:{port}.*emotion-bot serve"):
        asyncio.run(remote.connect())
    assert 1 == remote.stats()["retries"]
    assert remote.ready() is False


def test_a_service_that_never_answers_times_out_as_unreachable():
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        remote = RemoteInference(url, timeout_s=0.5, retry_delay_s=0)
        with pytest.raises(Unreachable, match="did not answer within 0.5 s"):
            asyncio.run(remote.connect())


def test_more_than_max_in_flight_is_busy_at_once():
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/info":
            return httpx.Response(200, json=INFO)
        await release.wait()
        return httpx.Response(200, content=npz_answer())

    async def run():
        remote = RemoteInference("http://127.0.0.1:9", max_in_flight=1,
                                 transport=httpx.MockTransport(handler))
        await remote.connect()
        first = asyncio.create_task(remote.infer(WAVE, "utterance"))
        while remote.stats()["in_flight"] < 1:  # bounded by the test timeout
            await asyncio.sleep(0)
        with pytest.raises(RemoteBusy):
            await remote.infer(WAVE, "utterance")
        release.set()
        result = await first
        await remote.close()
        return result

    assert tuple(EMOTIONS) == asyncio.run(run()).labels


@pytest.mark.parametrize("engine,message", [
    ({"backend": "remote"}, "needs engine.url"),
    ({"backend": "remote", "url": "http://10.1.2.3:8000"}, "use https://"),
    ({"backend": "remote", "url": "ftp://127.0.0.1"}, "expected http"),
])
def test_remote_settings_are_checked(engine, message):
    with pytest.raises(SettingsError, match=message):
        from_mapping({"engine": engine})


def test_https_and_loopback_http_urls_are_accepted():
    for url in ("https://gpu.example.org", "http://127.0.0.1:8000", "http://[::1]:8000",
                "http://localhost:8000"):
        assert url == from_mapping({"engine": {"backend": "remote", "url": url}}).engine.url


def test_the_info_answer_must_look_like_emotion_bot():
    def handler(request):
        return httpx.Response(200, content=json.dumps({"hello": 1}))

    async def run():
        remote = RemoteInference("http://127.0.0.1:9", transport=httpx.MockTransport(handler))
        try:
            await remote.connect()
        finally:
            await remote.close()

    with pytest.raises(Unreachable, match="did not answer like emotion-bot serve"):
        asyncio.run(run())


def test_ready_follows_the_services_readyz(api_server):
    served = api_server()
    remote = RemoteInference(served.url)
    assert remote.ready() is True
    served.stop()
    assert remote.ready() is False
    asyncio.run(remote.close())
