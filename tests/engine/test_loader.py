import time

import numpy as np
import pytest
import torch

from engine.checkpoint import config_for, make_model
from engine.labels import EMOTIONS, english, read_tokens
from engine.loader import ModelLoadError, ModelSpec, load_model
from tests.engine.one_clip import infer_one


def test_labels_map_to_english():
    assert "angry" == english("生气/angry")
    assert "unknown" == english("<unk>")
    labels, keep = read_tokens("unuse_0\n生气/angry\nunuse_1\n开心/happy\n难过/sad\n")
    assert ["angry", "happy", "sad"] == labels
    assert [1, 3, 4] == keep


def test_tiny_model_loads_with_nine_labels(tiny_model):
    assert EMOTIONS == tiny_model.labels
    assert 32 == tiny_model.embed_dim
    assert torch.float32 == tiny_model.dtype
    assert True is tiny_model.random_weights
    assert not any(t.is_meta for t in tiny_model.module.state_dict().values())


def test_inference_matches_funasr_generate(tiny_model, tiny_model_dir):
    """Our single-clip path gives FunASR AutoModel.generate's numbers on the same checkpoint."""
    from funasr import AutoModel

    rng = np.random.default_rng(1)
    wave = (rng.standard_normal(24_000) * 0.1).astype(np.float32)
    ours = infer_one(tiny_model, wave, frames=True)
    reference = AutoModel(model=str(tiny_model_dir), disable_update=True, device="cpu", ncpu=1)
    theirs = reference.generate(wave, granularity="frame", extract_embedding=True)[0]
    assert [english(t) for t in theirs["labels"]] == list(ours.labels)
    np.testing.assert_allclose(ours.scores, theirs["scores"], atol=1e-6)
    np.testing.assert_allclose(ours.frames, theirs["feats"], atol=1e-5)
    assert (74, 32) == ours.frames.shape  # floor((24000 - 400) / 320) + 1 frames
    assert 1.0 == pytest.approx(float(ours.scores.sum()), abs=1e-6)


def test_checkpoint_with_funasr_scope_prefix_loads(tmp_path, tiny_model_dir, tiny_model):
    """Published checkpoints may prefix keys with 'd2v_model.' (FunASR's scope_map)."""
    state = torch.load(tiny_model_dir / "model.pt", weights_only=True)
    prefixed = {("d2v_model." + k if k != "proj.weight" else k): v for k, v in state.items()}
    prefixed["optimizer.step"] = torch.tensor(5)  # extra training state is fine
    target = tmp_path / "prefixed"
    target.mkdir()
    for name in ("config.yaml", "tokens.txt"):
        (target / name).write_bytes((tiny_model_dir / name).read_bytes())
    torch.save({"model": prefixed}, target / "model.pt")
    loaded = load_model(ModelSpec(model=str(target), device="cpu"))
    wave = np.sin(np.arange(16_000) / 7).astype(np.float32)
    np.testing.assert_allclose(
        infer_one(loaded, wave).scores, infer_one(tiny_model, wave).scores, atol=1e-7
    )


def test_shape_mismatch_is_an_error_not_random_weights(tmp_path, tiny_model_dir):
    state = torch.load(tiny_model_dir / "model.pt", weights_only=True)
    key = "blocks.0.attn.qkv.weight"
    state[key] = torch.zeros(3, 3)
    target = tmp_path / "bad"
    target.mkdir()
    for name in ("config.yaml", "tokens.txt"):
        (target / name).write_bytes((tiny_model_dir / name).read_bytes())
    torch.save(state, target / "model.pt")
    with pytest.raises(ModelLoadError, match=r"blocks\.0\.attn\.qkv\.weight: checkpoint \(3, 3\)"):
        load_model(ModelSpec(model=str(target), device="cpu"))
    del state[key]
    torch.save(state, target / "model.pt")
    with pytest.raises(ModelLoadError, match=r"missing blocks\.0\.attn\.qkv\.weight"):
        load_model(ModelSpec(model=str(target), device="cpu"))


def test_head_size_must_cover_the_labels(tmp_path, tiny_model_dir):
    target = tmp_path / "fewer"
    make_model(target, "tiny")
    (target / "tokens.txt").write_text("\n".join(f"l{i}" for i in range(12)))
    with pytest.raises(ModelLoadError, match="head has 9 outputs but tokens.txt lists 12 labels"):
        load_model(ModelSpec(model=str(target), device="cpu"))


def test_fewer_labels_are_accepted(tmp_path, tiny_model_dir):
    target = tmp_path / "five"
    make_model(target, "tiny")
    (target / "tokens.txt").write_text(
        "生气/angry\nunuse_1\n开心/happy\n中立/neutral\n难过/sad\nunuse_5\nunuse_6\nunuse_7\n<unk>\n"
    )
    loaded = load_model(ModelSpec(model=str(target), device="cpu"))
    assert ("angry", "happy", "neutral", "sad", "unknown") == loaded.labels
    result = infer_one(loaded, np.sin(np.arange(8000) / 5).astype(np.float32))
    assert 5 == len(result.scores)
    assert 1.0 == pytest.approx(float(result.scores.sum()), abs=1e-6)


def test_missing_directory_and_files(tmp_path):
    with pytest.raises(ModelLoadError, match="no such directory"):
        load_model(ModelSpec(model=str(tmp_path / "nope" / "x"), device="cpu"))
    with pytest.raises(ModelLoadError, match="config.yaml is missing"):
        load_model(ModelSpec(model=str(tmp_path), device="cpu"))


def test_unreachable_hub_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", "http://127.0.0.1")  # nothing listens on 443 here
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path))
    start = time.monotonic()
    with pytest.raises(ModelLoadError) as err:
        load_model(ModelSpec(model="iic/emotion2vec_plus_large", cache_dir=str(tmp_path),
                             hub_timeout_s=2))
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert "the model hub (127.0.0.1) is unreachable" in message
    assert "set engine.model to that directory" in message


def test_cuda_request_without_gpu_is_explained(tiny_model_dir):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModelLoadError, match='no usable CUDA GPU. Set engine.device = "cpu"'):
        load_model(ModelSpec(model=str(tiny_model_dir), device="cuda"))


def test_sizes_keep_the_real_strides():
    for size in ("tiny", "base", "large"):
        spec = config_for(size)["model_conf"]["modalities"]["audio"]["feature_encoder_spec"]
        strides = [layer[2] for layer in eval(spec)]  # the spec is a Python expression by design
        assert [5, 2, 2, 2, 2, 2, 2] == strides
    assert 1024 == config_for("large")["model_conf"]["embed_dim"]
