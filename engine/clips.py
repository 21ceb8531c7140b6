"""One clip <-> the windows the model runs on: normalize, split long audio, combine the results.

Long audio is split so attention memory stays bounded (it grows with the square of the length).
Window k starts at sample k * S, S = window_s * 16000 rounded down to a multiple of 320 (one frame
hop), and is S + 80 samples long, so its frames are exactly the clip's frames k * S / 320 onwards:
the windows' frames tile the clip's frames with no gap and no overlap (their count is the clip's
``frame_count``). Each frame sees the same samples as in one pass over the whole clip; only the
attention context is limited to its window.

The clip is normalized (layer norm over all its samples, as FunASR does) before it is split.
Window results are combined weighted by frames: the clip's embedding is the mean of all its frames
(= sum_k T_k e_k / sum_k T_k), and its scores are the head applied to that embedding.
"""

from __future__ import annotations

import numpy as np

from engine.forward import WindowOutput
from engine.timeline import make_timeline, softmax
from engine.types import SAMPLE_RATE, ClipResult

HOP = 320
RECEPTIVE_FIELD = 400


def normalize(waveform: np.ndarray) -> np.ndarray:
    """FunASR's per-clip normalization: ``F.layer_norm(x, x.shape)`` (eps 1e-5), in float32."""
    import torch
    import torch.nn.functional as F

    source = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))
    return F.layer_norm(source, source.shape).numpy()


def window_samples(window_s: float) -> int:
    return max(HOP, int(window_s * SAMPLE_RATE) // HOP * HOP)


def split(waveform: np.ndarray, window_s: float) -> list[np.ndarray]:
    """Views of ``waveform``: window k = samples [k S, k S + S + 80), while it has a frame."""
    step = window_samples(window_s)
    span = step + RECEPTIVE_FIELD - HOP
    starts = range(0, max(1, len(waveform) - RECEPTIVE_FIELD + 1), step)
    return [waveform[s : s + span] for s in starts]


class Head:
    """The classification head kept in float64 on the host, for combining and timelines."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, labels: tuple[str, ...]):
        self.weight = np.asarray(weight, dtype=np.float64)
        self.bias = np.asarray(bias, dtype=np.float64)
        self.labels = tuple(labels)

    @classmethod
    def of(cls, model) -> Head:
        proj = model.module.proj
        index = list(model.head_index)
        weight = proj.weight.detach().float().cpu().numpy()[index]
        bias = proj.bias.detach().float().cpu().numpy()[index]
        return cls(weight, bias, model.labels)

    def scores(self, embedding: np.ndarray) -> np.ndarray:
        return softmax(self.weight @ embedding + self.bias).astype(np.float32)


def combine(
    outputs: list[WindowOutput],
    head: Head,
    granularity: str,
    embeddings: bool,
    timeline_window_s: float,
    timeline_hop_s: float,
) -> ClipResult:
    counts = np.array([o.n_frames for o in outputs], dtype=np.float64)
    stacked = np.stack([o.embedding for o in outputs]).astype(np.float64)
    embedding = (counts[:, None] * stacked).sum(axis=0) / counts.sum()
    frames = timeline = None
    if granularity == "frame":
        frames = np.concatenate([o.frames for o in outputs]).astype(np.float32, copy=False)
        timeline = make_timeline(frames, head.weight, head.bias, head.labels,
                                 timeline_window_s, timeline_hop_s)
    return ClipResult(
        labels=head.labels,
        scores=head.scores(embedding),
        embedding=embedding.astype(np.float32) if embeddings else None,
        frames=frames if embeddings else None,
        timeline=timeline,
    )
