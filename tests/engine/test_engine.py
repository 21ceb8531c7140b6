"""The engine's API: what callers await, what they get, and how it refuses."""

import asyncio

import numpy as np
import pytest

from engine import ClipResult, Engine, EngineBusy, EngineClosed, EngineConfig, Timeline
from engine.hardware import auto_batch_size, bf16_supported
from engine.loader import resolve_dtype
from tests.engine.conftest import speech


async def _started(model, **config):
    engine = Engine(model, EngineConfig(**config))
    await engine.start()
    return engine


@pytest.mark.asyncio
async def test_utterance_and_frame_results(tiny_model):
    engine = await _started(tiny_model)
    utterance = await engine.infer(speech(2.0), "utterance")
    frame = await engine.infer(speech(2.0), "frame")
    bare = await engine.infer(speech(2.0), "frame", embeddings=False)
    await engine.close()
    assert isinstance(utterance, ClipResult)
    assert tiny_model.labels == utterance.labels
    assert (9,) == utterance.scores.shape
    assert (32,) == utterance.embedding.shape
    assert None is utterance.frames and None is utterance.timeline
    assert 1.0 == pytest.approx(float(utterance.scores.sum()), abs=1e-6)
    np.testing.assert_allclose(utterance.scores, frame.scores, atol=1e-7)
    assert (99, 32) == frame.frames.shape
    assert isinstance(frame.timeline, Timeline)
    assert None is bare.embedding and None is bare.frames
    np.testing.assert_allclose(frame.timeline.probs, bare.timeline.probs, atol=1e-7)


@pytest.mark.asyncio
async def test_bad_input_is_a_value_error(tiny_model):
    engine = await _started(tiny_model)
    with pytest.raises(ValueError, match="at least 400 samples"):
        await engine.infer(np.zeros(399, dtype=np.float32))
    with pytest.raises(ValueError, match="1-D"):
        await engine.infer(np.zeros((2, 8000), dtype=np.float32))
    with pytest.raises(ValueError, match="finite"):
        await engine.infer(np.full(8000, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="granularity"):
        await engine.infer(speech(1.0), "word")
    # float64 is accepted (FunASR crashes on it) and gives the float32 result
    wave = speech(1.0)
    np.testing.assert_allclose((await engine.infer(wave.astype(np.float64))).scores,
                               (await engine.infer(wave)).scores, atol=1e-7)
    await engine.close()


@pytest.mark.asyncio
async def test_too_much_queued_audio_is_busy_at_once(tiny_model):
    engine = await _started(tiny_model, max_queue_audio_s=1.5)
    with pytest.raises(EngineBusy) as err:
        await engine.infer(speech(2.0))
    assert "audio" == err.value.reason
    assert 1 == engine.stats()["rejected"]
    assert (9,) == (await engine.infer(speech(1.0))).scores.shape  # smaller clips still run
    await engine.close()


@pytest.mark.asyncio
async def test_concurrent_callers_and_a_cancelled_one(tiny_model):
    engine = await _started(tiny_model, max_batch_size=4, max_wait_ms=50)
    tasks = [asyncio.ensure_future(engine.infer(speech(1.0 + i / 2, offset_s=i))) for i in range(4)]
    await asyncio.sleep(0)
    tasks[2].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[2], asyncio.CancelledError)
    assert all(isinstance(done[i], ClipResult) for i in (0, 1, 3))
    stats = engine.stats()
    assert 0 == stats["queued_clips"]
    assert {"batches", "batch_sizes", "queued_clips", "queued_cost", "device", "dtype"} <= set(stats)
    assert ("cpu", "float32", 4) == (stats["device"], stats["dtype"], stats["max_batch_size"])
    await engine.close()
    with pytest.raises(EngineClosed):
        await engine.infer(speech(1.0))


def test_auto_settings():
    assert 1 == auto_batch_size("auto", "cpu")
    assert 16 == auto_batch_size("auto", "cuda:0")
    assert 3 == auto_batch_size(3, "cuda")
    with pytest.raises(ValueError):
        auto_batch_size(0, "cpu")
    import torch

    assert torch.float32 == resolve_dtype("auto", "cpu")
    assert torch.bfloat16 == resolve_dtype("auto", "cuda")
    assert torch.bfloat16 == resolve_dtype("bf16", "cpu")
    assert isinstance(bf16_supported("cpu")[1], str)


def test_inference_never_builds_pretraining_tensors(tiny_model):
    names = set(tiny_model.module.state_dict())
    assert not any(n.startswith(("modality_encoders.AUDIO.decoder.", "ema.")) for n in names)
    assert None is tiny_model.module.modality_encoders["AUDIO"].decoder
