"""Checkpoint directories in FunASR's layout: the config we write and the ``make_model`` builder.

``make_model`` writes a directory that loads exactly like the published emotion2vec+ models
(``config.yaml``, ``model.pt``, ``tokens.txt``, ``configuration.json``) but holds RANDOM weights.
It exists so tests and benchmarks can exercise the real loading and inference code on machines that
cannot reach a model hub. It is never a user-facing default.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from engine.labels import TOKENS

RANDOM_WEIGHTS_NOTICE = (
    "NOTE: this checkpoint has RANDOM weights. It is for tests and benchmarks only; "
    "its emotions mean nothing."
)

# The published emotion2vec+ large config (see FACTS.md), reduced to what the model class reads.
_LARGE = {
    "model": "Emotion2vec",
    "model_conf": {
        "loss_beta": 0.0,
        "loss_scale": None,
        "depth": 8,
        "start_drop_path_rate": 0.0,
        "end_drop_path_rate": 0.0,
        "num_heads": 16,
        "norm_eps": 1e-05,
        "norm_affine": True,
        "encoder_dropout": 0.1,
        "post_mlp_drop": 0.1,
        "attention_dropout": 0.1,
        "activation_dropout": 0.0,
        "dropout_input": 0.0,
        "layerdrop": 0.0,
        "embed_dim": 1024,
        "mlp_ratio": 4.0,
        "layer_norm_first": False,
        "average_top_k_layers": 8,
        "end_of_block_targets": False,
        "clone_batch": 8,
        "normalize": True,
        "modalities": {
            "audio": {
                "type": "AUDIO",
                "prenet_depth": 4,
                "prenet_layerdrop": 0.0,
                "prenet_dropout": 0.1,
                "start_drop_path_rate": 0.0,
                "end_drop_path_rate": 0.0,
                "num_extra_tokens": 10,
                "init_extra_token_zero": True,
                "mask_noise_std": 0.01,
                "mask_prob_min": None,
                "inverse_mask": False,
                "mask_prob_adjust": 0.05,
                "keep_masked_pct": 0.0,
                "mask_length": 5,
                "add_masks": False,
                "remove_masks": False,
                "mask_dropout": 0.0,
                "encoder_zero_mask": True,
                "mask_channel_prob": 0.0,
                "mask_channel_length": 64,
                "ema_local_encoder": False,
                "local_grad_mult": 1.0,
                "use_alibi_encoder": True,
                "alibi_scale": 1.0,
                "learned_alibi": False,
                "alibi_max_pos": None,
                "learned_alibi_scale": True,
                "learned_alibi_scale_per_head": True,
                "learned_alibi_scale_per_layer": False,
                "num_alibi_heads": 16,
                "model_depth": 8,
                "decoder": None,
                "extractor_mode": "layer_norm",
                "feature_encoder_spec": "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]",
                "conv_pos_width": 95,
                "conv_pos_groups": 16,
                "conv_pos_depth": 5,
                "conv_pos_pre_ln": False,
                "mask_prob": 0.5,
            }
        },
    },
    "tokenizer": "CharTokenizer",
    "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
    "scope_map": ["d2v_model.", "none"],
}

# name -> (embed_dim, heads, depth, prenet_depth, conv channels, conv_pos_width, conv_pos_groups)
SIZES = {
    "tiny": (32, 2, 2, 1, 32, 15, 4),
    "base": (768, 12, 8, 4, 512, 95, 16),
    "large": (1024, 16, 8, 4, 512, 95, 16),
}


def config_for(size: str) -> dict:
    """The FunASR config.yaml contents for a model of ``size`` (same strides at every size)."""
    dim, heads, depth, prenet, channels, pos_width, pos_groups = SIZES[size]
    cfg = copy.deepcopy(_LARGE)
    conf = cfg["model_conf"]
    conf.update(embed_dim=dim, num_heads=heads, depth=depth)
    audio = conf["modalities"]["audio"]
    audio.update(
        prenet_depth=prenet,
        model_depth=depth,
        num_alibi_heads=heads,
        conv_pos_width=pos_width,
        conv_pos_groups=pos_groups,
        feature_encoder_spec=(
            f"[({channels}, 10, 5)] + [({channels}, 3, 2)] * 4 + [({channels},2,2)] + [({channels},2,2)]"
        ),
    )
    return cfg


def make_model(directory: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    """Write a random-weight checkpoint directory built through FunASR's own Emotion2vec class."""
    import torch
    import yaml

    from engine.funasr_env import emotion2vec_class

    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cfg = config_for(size)
    torch.manual_seed(seed)
    model = emotion2vec_class()(model_conf=cfg["model_conf"], vocab_size=len(TOKENS))
    # FunASR initialises LayerNorms to the identity and biases to zero; give every tensor some spread
    # so a loading bug that leaves one at its initial value changes the outputs.
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.add_(torch.randn_like(tensor) * (0.02 if "weight" in name else 0.01))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(state, directory / "model.pt")
    (directory / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    (directory / "tokens.txt").write_text("\n".join(TOKENS) + "\n", encoding="utf-8")
    (directory / "configuration.json").write_text(
        json.dumps(
            {
                "framework": "pytorch",
                "task": "emotion-recognition",
                "model": {"type": "emotion2vec"},
                "file_path_metas": {"init_param": "model.pt", "config": "config.yaml",
                                    "tokenizer_conf": {"token_list": "tokens.txt"}},
                "random_weights": True,
                "size": size,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    (directory / "README.txt").write_text(RANDOM_WEIGHTS_NOTICE + "\n", encoding="utf-8")
    return directory
