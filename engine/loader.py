"""Load emotion2vec the real way: a hub id or a local FunASR directory -> a checked, ready model.

The weights go into FunASR's own ``Emotion2vec`` class. We build that class on the ``meta`` device
and ``assign`` tensors memory-mapped from ``model.pt``, so loading never holds two copies of the
weights (FunASR's own loader deep-copies the state dict: 2.6x the weights' size in peak RSS).
Then we check what FunASR only logs: every tensor the inference uses must be present with the right
shape, and the head must have one output per label. Extra checkpoint keys (training state) are fine.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from engine.labels import read_tokens

logger = logging.getLogger(__name__)

# FunASR's own aliases for the same models on Hugging Face.
HF_NAMES = {
    "iic/emotion2vec_plus_large": "emotion2vec/emotion2vec_plus_large",
    "iic/emotion2vec_plus_base": "emotion2vec/emotion2vec_plus_base",
    "iic/emotion2vec_plus_seed": "emotion2vec/emotion2vec_plus_seed",
    "iic/emotion2vec_base_finetuned": "emotion2vec/emotion2vec_base_finetuned",
}
# Tensors only pre-training uses. They are dropped (never built) for inference.
UNUSED_PREFIXES = ("modality_encoders.AUDIO.decoder.", "ema.", "_ema")
# Prefixes FunASR strips when mapping checkpoint keys to the model's (its ``scope_map``).
SCOPE_PREFIXES = ("d2v_model.", "module.")


class ModelLoadError(RuntimeError):
    """The model could not be loaded. The message says what happened and how to fix it."""


@dataclass(frozen=True)
class ModelSpec:
    model: str = "iic/emotion2vec_plus_large"
    hub: str = "modelscope"
    cache_dir: str = ""
    device: str = "auto"
    precision: str = "auto"
    threads: int = 0
    hub_timeout_s: float = 5.0


@dataclass
class LoadedModel:
    """A ready model: FunASR's module in eval mode plus what the engine needs to know about it."""

    module: object  # funasr Emotion2vec (torch.nn.Module)
    labels: tuple[str, ...]
    head_index: tuple[int, ...]  # head outputs kept, in label order
    model_id: str
    directory: Path
    device: object  # torch.device
    dtype: object  # torch.dtype of the compute (fp32 or bf16)
    embed_dim: int
    normalize: bool
    random_weights: bool


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(
            f"engine.device = {device!r} but this machine has no usable CUDA GPU. "
            'Set engine.device = "cpu" (or "auto").'
        )
    return device


def resolve_dtype(precision: str, device: str):
    import torch

    if precision == "auto":
        precision = "bf16" if device.startswith("cuda") else "fp32"
    return torch.bfloat16 if precision == "bf16" else torch.float32


def set_threads(threads: int) -> int:
    """Use every core (FunASR's default of 4 threads is a 20x slowdown on a 2-core machine)."""
    import torch

    from engine.cores import usable_cores

    count = threads or usable_cores()
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


def load_model(spec: ModelSpec) -> LoadedModel:
    import torch

    directory = resolve_directory(spec)
    set_threads(spec.threads)
    device = resolve_device(spec.device)
    dtype = resolve_dtype(spec.precision, device)
    module, labels, head_index, cfg = build(directory, dtype)
    module.to(device=device)
    module.eval()
    info = _read_json(directory / "configuration.json")
    loaded = LoadedModel(
        module=module,
        labels=tuple(labels),
        head_index=tuple(head_index),
        model_id=spec.model,
        directory=directory,
        device=torch.device(device),
        dtype=dtype,
        embed_dim=int(cfg["model_conf"]["embed_dim"]),
        normalize=bool(cfg["model_conf"].get("normalize", True)),
        random_weights=bool(info.get("random_weights", False)),
    )
    logger.info(
        "model %s loaded from %s on %s (%s), %d labels",
        spec.model, directory, device, str(dtype).removeprefix("torch."), len(labels),
    )
    return loaded


def build(directory: Path, dtype=None):
    """Build FunASR's Emotion2vec from a checkpoint directory without a second copy of the weights.

    In fp32 the parameters are the memory-mapped file's pages. For another ``dtype`` each tensor is
    converted on its own and its file pages are released at once, so loading never holds both.
    """
    import torch
    import yaml

    from engine.funasr_env import emotion2vec_class

    config_path, weights_path = directory / "config.yaml", directory / "model.pt"
    for required in (config_path, weights_path):
        if not required.is_file():
            raise ModelLoadError(
                f"{directory} is not an emotion2vec model directory: {required.name} is missing. "
                "A model directory needs config.yaml and model.pt (FunASR's layout)."
            )
    try:
        cfg = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise ModelLoadError(f"{config_path} is not a YAML file{at}: restore it from the "
                             "model's download") from None
    if not isinstance(cfg, dict) or cfg.get("model") != "Emotion2vec":
        raise ModelLoadError(f"{config_path} does not describe an Emotion2vec model")
    if not isinstance(cfg.get("model_conf"), dict):
        raise ModelLoadError(f"{config_path} has no model_conf section: restore it from the "
                             "model's download")
    tokens_path = directory / "tokens.txt"
    tokens = tokens_path.read_text(encoding="utf-8") if tokens_path.is_file() else ""
    labels, head_index = read_tokens(tokens)
    conf = cfg["model_conf"]
    conf.setdefault("modalities", {}).setdefault("audio", {})["decoder"] = None
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # a corrupt or non-torch file
        raise ModelLoadError(f"cannot read {weights_path}: {exc}") from exc
    if not isinstance(state, dict):
        raise ModelLoadError(f"{weights_path} holds a {type(state).__name__}, not a state dict "
                             "of tensors: it is not an emotion2vec checkpoint")
    for nested in ("state_dict", "model_state_dict", "model"):
        if isinstance(state.get(nested), dict):
            state = state[nested]
    vocab = _head_size(state)
    if not labels:  # no tokens.txt: the nine emotion2vec+ labels in head order
        from engine.labels import TOKENS

        labels, head_index = read_tokens("\n".join(TOKENS[:vocab]))
    with torch.device("meta"):
        module = emotion2vec_class()(model_conf=conf, vocab_size=vocab)
    expected = {
        k: v for k, v in module.state_dict().items() if not k.startswith(UNUSED_PREFIXES)
    }
    mapped, problems = {}, []
    for key, tensor in expected.items():
        source = next((p + key for p in ("", *SCOPE_PREFIXES) if p + key in state), None)
        if source is None:
            problems.append(f"missing {key}")
        elif not isinstance(state[source], torch.Tensor):
            problems.append(f"{key}: checkpoint holds a {type(state[source]).__name__}")
        elif tuple(state[source].shape) != tuple(tensor.shape):
            problems.append(
                f"{key}: checkpoint {tuple(state[source].shape)} != model {tuple(tensor.shape)}"
            )
        elif dtype is not None and state[source].is_floating_point() and state[source].dtype != dtype:
            mapped[key] = state[source].to(dtype)
            _release_pages(state[source])
        else:
            mapped[key] = state[source]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ModelLoadError(
            f"{weights_path} does not match {config_path}: {shown}. "
            "The checkpoint and config must come from the same model."
        )
    if max(head_index, default=-1) >= vocab or len(labels) > vocab:
        raise ModelLoadError(
            f"the classification head has {vocab} outputs but tokens.txt lists {len(labels)} labels"
        )
    module.load_state_dict(mapped, strict=False, assign=True)
    leftover = [n for n, t in module.state_dict().items() if t.is_meta]
    if leftover:
        raise ModelLoadError(f"tensors not loaded from {weights_path}: {', '.join(leftover[:5])}")
    return module, labels, head_index, cfg


def _release_pages(tensor) -> None:
    """Drop the resident pages of a tensor memory-mapped read-only from a file (MADV_DONTNEED).

    The mapping is private and never written, so the kernel re-reads the file if it is touched again.
    """
    import ctypes
    import mmap

    start = tensor.data_ptr()
    end = start + tensor.numel() * tensor.element_size()
    page = mmap.PAGESIZE
    first, last = -(-start // page) * page, end // page * page  # whole pages inside the tensor
    if last > first:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), 4)  # MADV_DONTNEED


def _head_size(state) -> int:
    for key in ("proj.weight", *(p + "proj.weight" for p in SCOPE_PREFIXES)):
        if key in state and getattr(state[key], "ndim", 0) == 2:
            return int(state[key].shape[0])
    raise ModelLoadError(
        "this checkpoint has no emotion classification head (proj.weight): it is a feature "
        "extractor such as emotion2vec_base, not a fine-tuned emotion2vec+ model"
    )


def resolve_directory(spec: ModelSpec) -> Path:
    """A local directory as given, else the hub's cached copy, else a download (failing fast)."""
    local = Path(spec.model).expanduser()
    if local.is_dir():
        return local
    if spec.model.startswith((".", "/", "~")) or spec.model.count("/") > 1:
        raise ModelLoadError(f"engine.model = {spec.model!r}: no such directory")
    model_id = HF_NAMES.get(spec.model, spec.model) if spec.hub == "huggingface" else spec.model
    cache_dir = spec.cache_dir or None
    cached = _hub_download(spec.hub, model_id, cache_dir, local_only=True)
    if cached is not None:
        return cached
    host = _hub_host(spec.hub)
    try:
        socket.create_connection((host, 443), timeout=spec.hub_timeout_s).close()
    except OSError as exc:
        raise ModelLoadError(
            f"cannot download the model {model_id!r}: the model hub ({host}) is unreachable "
            f"from this machine ({exc}). Download the model directory on a machine with access "
            f"(for example `modelscope download --model {spec.model} --local_dir emotion2vec_plus_large`"
            f" or `huggingface-cli download {HF_NAMES.get(spec.model, spec.model)} --local-dir "
            "emotion2vec_plus_large`), copy it here and set engine.model to that directory "
            "(or EMOTION_BOT__ENGINE__MODEL=/path/to/emotion2vec_plus_large)."
        ) from None
    logger.info("downloading %s from %s (first use; about 2 GB for the large model)", model_id, host)
    directory = _hub_download(spec.hub, model_id, cache_dir, local_only=False)
    if directory is None:
        raise ModelLoadError(f"the hub {host} has no model {model_id!r}")
    return directory


def _hub_host(hub: str) -> str:
    if hub == "huggingface":
        return urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    domain = (os.environ.get("MODELSCOPE_ENDPOINT") or os.environ.get("MODELSCOPE_DOMAIN")
              or "www.modelscope.cn")
    return urlparse(domain if "://" in domain else f"https://{domain}").hostname


def _hub_download(hub: str, model_id: str, cache_dir: str | None, local_only: bool) -> Path | None:
    try:
        if hub == "huggingface":
            from huggingface_hub import snapshot_download

            path = snapshot_download(model_id, cache_dir=cache_dir, local_files_only=local_only)
        else:
            from modelscope.hub.snapshot_download import snapshot_download

            path = snapshot_download(model_id, cache_dir=cache_dir, local_files_only=local_only)
    except Exception as exc:
        if local_only:
            return None
        raise ModelLoadError(f"downloading {model_id!r} failed: {exc}") from exc
    path = Path(path)
    return path if (path / "model.pt").is_file() else None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
