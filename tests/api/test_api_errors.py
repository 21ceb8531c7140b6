"""Every refusal of the API: status, stable code and the bots' own English text."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest

from bot import audio, errors
from bot.api.errors import AUDIO_CODES, for_error
from bot.messages import describe, text
from tests.api.conftest import AUTH, VOICE
from tests.conftest import ROOT, SAMPLES

BAD = ROOT / "tests" / "fixtures" / "bad"
OCTET = {"Content-Type": "application/octet-stream"}


def post(url, path, body, headers=None, **kwargs) -> httpx.Response:
    return httpx.post(f"{url}{path}", content=body, headers={**AUTH, **(headers or {})},
                      timeout=60, **kwargs)


def expect(response, status, code, detail=None) -> None:
    assert (status, code) == (response.status_code, response.json()["error"]), response.text
    if detail is not None:
        assert detail == response.json()["detail"]


@pytest.mark.parametrize("name,code,error", [
    ("empty.ogg", "empty", errors.EmptyFile()),
    ("png_image.mp3", "not_audio", errors.NotAudio(kind="image")),
    ("telegram_error_json.ogg", "not_audio", errors.NotAudio(kind="text")),
    ("headers_only_no_audio.ogg", "corrupt", errors.NoAudio()),
    ("wav_samplerate_0.wav", "corrupt", errors.Corrupt()),
    ("wav_unknown_codec_tag_0x3A2B.wav", "unsupported_codec", None),
    ("m4a_cenc_encrypted_drm.m4a", "encrypted", errors.Encrypted()),
    ("wav_samplerate_1hz.wav", "bad_sample_rate", errors.UnsupportedSampleRate(rate=1)),
    ("silence_3s.ogg", "silence", errors.Silence()),
    ("non_speech_birdsong.ogg", "no_speech", errors.NoSpeech()),
    ("speech_0.2s.ogg", "too_short", None),
])
def test_bad_files_get_400_with_a_code_and_the_bots_text(api, name, code, error):
    response = post(api.url, "/v1/analyze", (BAD / name).read_bytes())
    expect(response, 400, code, describe(error, "en") if error else None)
    assert "Traceback" not in response.text and response.json()["detail"][-1] in ".?"


def test_too_large_and_too_long_are_413(api_server):
    served = api_server(token="", api={"max_file_mb": 0.02, "max_seconds": 1})
    big = (SAMPLES / "03a02Ta__mp3_128k_stereo.mp3").read_bytes()  # 33 KB > 20 KB
    too_large = describe(errors.TooLarge(size_mb=0.0, max_mb=0.02), "en").split(" (")[0]
    declared = post(served.url, "/v1/analyze", big)
    expect(declared, 413, "too_large")
    assert declared.json()["detail"].startswith(too_large)
    streamed = post(served.url, "/v1/analyze", iter([big[:10_000], big[10_000:]]))  # chunked
    expect(streamed, 413, "too_large")
    multipart = httpx.post(f"{served.url}/v1/analyze", files={"file": ("a.mp3", big)}, timeout=60)
    expect(multipart, 413, "too_large")
    long_text = describe(errors.TooLong(max_seconds=1.0), "en")
    expect(post(served.url, "/v1/analyze", VOICE), 413, "too_long", long_text)
    samples = np.zeros(20000, dtype="<f4").tobytes()  # 1.25 s
    expect(post(served.url, "/v1/emotion", samples, OCTET), 413, "too_long", long_text)


def npy(array) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=True)
    return out.getvalue()


@pytest.mark.parametrize("body,ctype", [
    (np.full(16000, 1e30, dtype="<f4").tobytes(), "application/octet-stream"),
    (np.array([0.1] * 8000 + [np.nan] * 8000, dtype="<f4").tobytes(), "application/octet-stream"),
    (np.array([0.1] * 8000 + [np.inf] * 8000, dtype="<f4").tobytes(), "application/octet-stream"),
    (np.full(16000, 3.0, dtype="<f4").tobytes(), "application/octet-stream"),
    (b"\0" * 16001, "application/octet-stream"),
    (npy(np.zeros((2, 8000), dtype=np.float32)), "application/x-npy"),
    (npy(np.zeros(16000, dtype=np.int16)), "application/x-npy"),
    (npy(np.array([{"a": 1}], dtype=object)), "application/x-npy"),  # never unpickled
    (b"\x93NUMPY garbage", "application/x-npy"),
])
def test_bad_samples_are_400_bad_samples(api, body, ctype):
    response = post(api.url, "/v1/emotion", body, {"Content-Type": ctype})
    expect(response, 400, "bad_samples")
    assert "[-1, 1]" in response.json()["detail"]


def test_samples_shorter_than_one_frame_are_too_short(api):
    response = post(api.url, "/v1/emotion", np.zeros(399, dtype="<f4").tobytes(), OCTET)
    expect(response, 400, "too_short")


def test_a_full_engine_is_503_busy_with_retry_after(api_server):
    served = api_server(engine={"max_queue_audio_s": 1})  # one 2 s clip is more than the queue
    response = post(served.url, "/v1/analyze", VOICE)
    expect(response, 503, "busy", text("engine.busy", "en"))
    assert "10" == response.headers["Retry-After"]


def test_a_decode_past_the_deadline_is_400_timeout(api_server, tmp_path, monkeypatch):
    hung = tmp_path / "ffprobe"
    hung.write_text("#!/bin/sh\nexec sleep 60\n")
    hung.chmod(0o755)
    monkeypatch.setattr(audio, "FFPROBE", str(hung))
    served = api_server(audio={"decode_timeout_s": 1})
    expect(post(served.url, "/v1/analyze", VOICE), 400, "timeout",
           describe(errors.DecodeTimeout(), "en"))


def test_bad_query_parameters_are_400_bad_request(api):
    for params in ({"granularity": "word"}, {"embedding": "maybe"}):
        expect(post(api.url, "/v1/analyze", VOICE, params=params), 400, "bad_request")


def test_every_audio_error_has_one_code_and_unknown_errors_say_nothing_inside():
    subclasses = {cls for cls, _, _ in AUDIO_CODES}
    defined = {c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, errors.AudioError)}
    assert defined - {errors.DownloadFailed} == subclasses
    internal = for_error(RuntimeError("secret /path/to/thing"))
    assert (500, "internal", text("error.internal", "en")) == (
        internal.status, internal.code, internal.detail)


def test_sigterm_style_stop_lets_a_request_in_progress_finish(api_server, tmp_path, monkeypatch):
    """Draining: a request whose decode is under way when the stop comes still gets its 200."""
    started, go = tmp_path / "started", tmp_path / "go"
    real = audio.FFPROBE
    gate = tmp_path / "ffprobe"
    gate.write_text(f"#!/bin/sh\ntouch {started}\nn=0\nwhile [ ! -e {go} ] && [ $n -lt 600 ]; "
                    f"do sleep 0.05; n=$((n+1)); done\nexec {real} \"$@\"\n")
    gate.chmod(0o755)
    monkeypatch.setattr(audio, "FFPROBE", str(gate))
    served = api_server()
    result: dict = {}
    client = threading.Thread(target=lambda: result.update(
        response=httpx.post(f"{served.url}/v1/analyze", content=VOICE, timeout=60)))
    client.start()
    _wait_for(started)
    stopper = threading.Thread(target=served.stop)
    stopper.start()
    with pytest.raises(httpx.ConnectError):  # the listener closes at once...
        _wait_refused(served.url)
    go.touch()  # ...while the decode under way goes on
    client.join(60)
    stopper.join(60)
    assert 200 == result["response"].status_code
    assert 2.0 == result["response"].json()["duration_s"]


def _wait_for(path: Path, timeout_s: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.01)


def _wait_refused(url: str, timeout_s: float = 30.0) -> None:
    """Return never: raise the ConnectError once the server stops listening (bounded)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        httpx.get(f"{url}/livez", timeout=5)
        time.sleep(0.01)
    raise AssertionError("the server kept listening")




def test_the_engine_refuses_samples_whose_normalisation_overflows(tiny_model):
    import asyncio

    from bot import app
    from bot.settings import from_mapping

    async def run():
        async with app.inference(from_mapping({"engine": {"device": "cpu"}}), tiny_model) as e:
            await e.infer(np.full(16000, 1e30, dtype=np.float32), "utterance")

    with pytest.raises(ValueError, match="too large to normalise"):
        asyncio.run(run())
