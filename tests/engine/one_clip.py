"""One forward pass of emotion2vec on one clip through FunASR's module, as FunASR computes it: the
reference the tests hold the engine's exact batched forward against (not used by the product)."""

from __future__ import annotations

import numpy as np

from engine.loader import LoadedModel
from engine.types import ClipResult

MIN_SAMPLES = 400  # shorter inputs crash the feature extractor


def infer_one(model: LoadedModel, waveform: np.ndarray, frames: bool = False) -> ClipResult:
    """Scores (and embeddings) for one 16 kHz mono float32 waveform, exactly as FunASR computes them."""
    import torch
    import torch.nn.functional as F

    if waveform.ndim != 1 or len(waveform) < MIN_SAMPLES:
        raise ValueError(f"need a 1-D waveform of at least {MIN_SAMPLES} samples")
    with torch.inference_mode():
        source = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))
        source = source.to(model.device)
        if model.normalize:
            source = F.layer_norm(source, source.shape)
        source = source.to(model.dtype).view(1, -1)
        features = model.module.extract_features(source, padding_mask=None)["x"][0]
        pooled = features.mean(dim=0)
        logits = model.module.proj(pooled)[list(model.head_index)]
        scores = torch.softmax(logits.float(), dim=-1)
    return ClipResult(
        labels=model.labels,
        scores=scores.cpu().numpy().astype(np.float32),
        embedding=pooled.float().cpu().numpy(),
        frames=features.float().cpu().numpy() if frames else None,
    )
