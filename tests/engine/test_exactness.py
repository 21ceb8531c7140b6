"""A padded batch of mixed lengths gives FunASR generate's per-clip results (fp32), and bf16 is close."""

import asyncio

import numpy as np
import pytest

from engine import Engine, EngineConfig, ModelSpec, load_model
from engine.clips import normalize
from engine.forward import Forward
from engine.types import frame_count
from tests.engine.conftest import funasr_generate, speech

TINY_SECONDS = (0.6, 1.0, 2.3, 4.1, 3.0, 0.03)  # 0.03 s = 480 samples: one frame
BASE_SECONDS = (0.5, 1.2, 3.0)


def assert_padded_batch_matches_generate(model, directory, seconds):
    waves = [speech(s, offset_s=3 * i) for i, s in enumerate(seconds)]
    outputs = Forward(model)([normalize(w) for w in waves], [True] * len(waves))
    result = asyncio.run(_engine_infer(model, waves))
    for wave, out, res in zip(waves, outputs, result):
        utt = funasr_generate(directory, wave, "utterance")
        frames = funasr_generate(directory, wave, "frame")["feats"]
        assert frame_count(len(wave)) == out.n_frames == len(frames) == len(res.frames)
        np.testing.assert_allclose(out.embedding, utt["feats"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(out.frames, frames, atol=1e-4, rtol=0)
        np.testing.assert_allclose(res.scores, utt["scores"], atol=1e-5, rtol=0)
        np.testing.assert_allclose(res.embedding, utt["feats"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(res.frames, frames, atol=1e-4, rtol=0)


async def _engine_infer(model, waves):
    engine = Engine(model, EngineConfig(max_batch_size=8, max_wait_ms=200))
    await engine.start()
    try:
        results = await asyncio.gather(*(engine.infer(w, "frame") for w in waves))
        assert {len(waves): 1} == engine.stats()["batch_sizes"]  # one padded batch
        return results
    finally:
        await engine.close()


def test_padded_batch_matches_generate_on_tiny_model(tiny_model, tiny_model_dir):
    assert_padded_batch_matches_generate(tiny_model, tiny_model_dir, TINY_SECONDS)


def test_padded_batch_matches_generate_on_base_size_model(base_model, base_model_dir):
    assert_padded_batch_matches_generate(base_model, base_model_dir, BASE_SECONDS)


def test_bf16_keeps_the_top_label(base_model_dir):
    import torch

    model = load_model(ModelSpec(model=str(base_model_dir), device="cpu", precision="bf16"))
    assert torch.bfloat16 == model.dtype
    assert torch.bfloat16 == next(model.module.parameters()).dtype
    waves = [speech(s, offset_s=3 * i) for i, s in enumerate(BASE_SECONDS)]
    results = asyncio.run(_engine_infer(model, waves))
    for wave, res in zip(waves, results):
        reference = funasr_generate(base_model_dir, wave, "utterance")
        assert np.argmax(reference["scores"]) == np.argmax(res.scores)
        assert np.abs(res.scores - np.asarray(reference["scores"])).max() < 0.02
        assert np.float32 == res.embedding.dtype


def test_long_audio_is_the_frame_weighted_mean_of_its_windows(tiny_model):
    wave = speech(70.0)
    engine = Engine(tiny_model, EngineConfig(window_s=30.0))
    result = asyncio.run(_infer_and_close(engine, wave))
    normalized = normalize(wave)
    windows = [normalized[:480_080], normalized[480_000:960_080], normalized[960_000:]]
    outs = [Forward(tiny_model)([w], [True])[0] for w in windows]  # each window on its own
    assert [1500, 1500, 499] == [o.n_frames for o in outs]
    assert frame_count(len(wave)) == 3499 == len(result.frames)
    mean = (1500 * outs[0].embedding.astype(np.float64) + 1500 * outs[1].embedding
            + 499 * outs[2].embedding) / 3499
    np.testing.assert_allclose(result.embedding, mean, atol=1e-6, rtol=0)
    np.testing.assert_allclose(result.frames, np.concatenate([o.frames for o in outs]), atol=1e-5)
    head = engine._head
    np.testing.assert_allclose(result.scores, head.scores(mean), atol=1e-7)
    logits = head.weight @ mean + head.bias
    assert pytest.approx(np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum(),
                         abs=1e-6) == result.scores


async def _infer_and_close(engine, wave):
    await engine.start()
    try:
        return await engine.infer(wave, "frame")
    finally:
        await engine.close()
