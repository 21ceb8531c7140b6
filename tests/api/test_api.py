"""The API's answers against the in-process engine, its shapes, auth and operator endpoints."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import httpx
import numpy as np
import pytest

from bot import app, audio
from engine.labels import EMOTIONS
from tests.api.conftest import AUTH, TOKEN, VOICE
from tests.conftest import SAMPLES

NPZ = {"Accept": "application/x-npz"}


@pytest.fixture(scope="module")
def local(api, tiny_model):
    """The in-process engine's results for VOICE, per granularity (same settings as the server)."""
    wave = audio.decode(VOICE, api.settings.audio).waveform

    async def run():
        async with app.inference(api.settings, tiny_model) as engine:
            return {g: await engine.infer(wave, g) for g in ("utterance", "frame")}

    return asyncio.run(run())


def post(api, path, body, *, params=None, headers=None, **kwargs) -> httpx.Response:
    return httpx.post(f"{api.url}{path}", content=body, params=params,
                      headers={**AUTH, **(headers or {})}, timeout=60, **kwargs)


def unpack(response: httpx.Response) -> tuple[dict, dict]:
    with np.load(io.BytesIO(response.content), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return json.loads(bytes(arrays.pop("record")).decode("utf-8")), arrays


def test_analyze_gives_the_in_process_engines_scores_and_the_documented_record(api, local):
    response = post(api, "/v1/analyze", VOICE, headers={"Content-Type": "audio/ogg"})
    assert 200 == response.status_code
    record = response.json()
    expected = local["utterance"].score_map()
    assert list(EMOTIONS) == list(record["scores"])
    for label, score in expected.items():
        assert abs(score - record["scores"][label]) <= 1e-6
    assert local["utterance"].emotion == record["emotion"]
    assert {"emotion", "confidence", "scores", "granularity", "duration_s", "model", "notes",
            "random_weights", "warning"} <= set(record)
    assert ("utterance", 2.0, [], True) == (record["granularity"], record["duration_s"],
                                            record["notes"], record["random_weights"])
    assert "embedding" not in record and "timeline" not in record


def test_multipart_uploads_take_the_file_field_and_keep_its_name(api, local):
    response = httpx.post(f"{api.url}/v1/analyze", headers=AUTH, timeout=60,
                          files={"file": ("note.ogg", VOICE, "audio/ogg")})
    assert 200 == response.status_code
    record = response.json()
    assert "note.ogg" == record["source"]
    assert local["utterance"].emotion == record["emotion"]
    missing = httpx.post(f"{api.url}/v1/analyze", headers=AUTH, timeout=60,
                         files={"audio": ("note.ogg", VOICE, "audio/ogg")})
    assert (400, "bad_request") == (missing.status_code, missing.json()["error"])


def test_utterance_embedding_as_json_and_npz_match_the_engine(api, local):
    as_json = post(api, "/v1/analyze", VOICE, params={"embedding": "true"}).json()
    assert np.abs(np.array(as_json["embedding"]) - local["utterance"].embedding).max() <= 1e-6
    record, arrays = unpack(post(api, "/v1/analyze", VOICE, headers=NPZ))
    assert {"scores", "embedding"} == set(arrays)
    assert "embedding" not in record
    assert np.abs(arrays["embedding"] - local["utterance"].embedding).max() <= 1e-6
    assert np.abs(arrays["scores"] - local["utterance"].scores).max() <= 1e-6


def test_frame_mode_has_the_timeline_in_json_and_the_frames_only_in_npz(api, local):
    expected = local["frame"]
    record = post(api, "/v1/analyze", VOICE, params={"granularity": "frame"}).json()
    probs = np.array(record["timeline"]["probabilities"])
    assert expected.timeline.probs.shape == probs.shape
    assert np.abs(probs - expected.timeline.probs).max() <= 1e-6
    assert expected.frames.shape[0] == record["frames"]
    refused = post(api, "/v1/analyze", VOICE, params={"granularity": "frame", "embedding": "true"})
    assert (406, "npz_required") == (refused.status_code, refused.json()["error"])
    record, arrays = unpack(post(api, "/v1/analyze", VOICE, headers=NPZ,
                                 params={"granularity": "frame", "embedding": "true"}))
    assert expected.frames.shape == arrays["frames"].shape == (expected.frames.shape[0], 32)
    assert np.float32 == arrays["frames"].dtype
    assert np.abs(arrays["frames"] - expected.frames).max() <= 1e-6
    assert "frame" == record["granularity"]


def test_emotion_takes_float32_or_npy_samples_and_matches_the_engine(api, local):
    wave = audio.decode(VOICE, api.settings.audio).waveform
    raw = post(api, "/v1/emotion", wave.astype("<f4").tobytes(),
               headers={"Content-Type": "application/octet-stream"})
    buffer = io.BytesIO()
    np.save(buffer, wave.astype(np.float64))
    npy = post(api, "/v1/emotion", buffer.getvalue(), headers={"Content-Type": "application/x-npy"})
    for response in (raw, npy):
        assert 200 == response.status_code
        record = response.json()
        assert [] == record["notes"]
        for label, score in local["utterance"].score_map().items():
            assert abs(score - record["scores"][label]) <= 1e-6
    other = post(api, "/v1/emotion", b"\0" * 16000, headers={"Content-Type": "text/plain"})
    assert (415, "unsupported_media_type") == (other.status_code, other.json()["error"])


def test_info_names_the_model_labels_limits_and_api_version(api, tiny_model):
    info = httpx.get(f"{api.url}/v1/info", headers=AUTH).json()
    assert {"api_version": "1", "model": tiny_model.model_id, "labels": list(EMOTIONS),
            "random_weights": True, "device": "cpu", "precision": "float32",
            "limits": {"max_file_mb": 20.0, "max_seconds": 300.0, "min_seconds": 0.5,
                       "sample_rate": 16000}} == info


@pytest.mark.parametrize("method,path", [("POST", "/v1/analyze"), ("POST", "/v1/emotion"),
                                         ("GET", "/v1/info"), ("GET", "/metrics")])
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer"])
def test_without_the_token_the_api_answers_401_with_www_authenticate(api, method, path, header):
    headers = {"Authorization": header} if header else {}
    response = httpx.request(method, f"{api.url}{path}", headers=headers, content=VOICE)
    assert 401 == response.status_code
    assert "unauthorized" == response.json()["error"]
    assert "Bearer" == response.headers["WWW-Authenticate"]


def test_livez_and_readyz_are_open_and_metrics_count_requests(api):
    assert (200, "ok\n") == (httpx.get(f"{api.url}/livez").status_code,
                             httpx.get(f"{api.url}/livez").text)
    ready = httpx.get(f"{api.url}/readyz")
    assert (200, "engine: ok\n") == (ready.status_code, ready.text)
    post(api, "/v1/analyze", b"")
    text = httpx.get(f"{api.url}/metrics", headers=AUTH).text
    assert 'emotion_bot_api_requests_total{route="analyze",status="400"}' in text
    assert "emotion_bot_inference_seconds_bucket" in text


def test_the_access_log_shows_neither_query_strings_nor_the_token(api, caplog):
    caplog.set_level(logging.INFO, logger="bot.api.access")
    post(api, "/v1/analyze", VOICE, params={"granularity": "frame", "secret": "q-value"})
    httpx.get(f"{api.url}/v1/info", headers={"Authorization": "Bearer wrong-token"})
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.api.access"]
    assert any('"POST /v1/analyze" 200' in line for line in lines), lines
    assert any('"GET /v1/info" 401' in line for line in lines), lines
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("q-value", "granularity", TOKEN, "wrong-token", "Bearer"):
        assert secret not in everything


def test_an_open_server_needs_no_token(api_server):
    served = api_server()
    response = httpx.post(f"{served.url}/v1/analyze", content=(SAMPLES / "LJ001-0008.wav")
                          .read_bytes(), timeout=60)
    assert 200 == response.status_code
    assert 1.783 == pytest.approx(response.json()["duration_s"], abs=0.01)
