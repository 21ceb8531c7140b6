"""The emotion timeline: frame features pooled over sliding windows, then passed through the head.

Definition (frame granularity only):

- emotion2vec gives one feature vector per frame, 50 frames per second; frame j covers samples
  [320 j, 320 j + 400) and starts at j / 50 s. A clip of N samples has T = floor((N - 400) / 320) + 1.
- A window is n = round(window_s * 50) consecutive frames (50 for 1.0 s). Window w starts at frame
  a_w = floor(w * hop_s * 50 + 1/2) (hop 0.25 s -> frames 0, 13, 25, 38, 50, ...) and covers frames
  a_w .. min(a_w + n, T) - 1. Windows are added until one reaches the last frame, so every frame is
  covered; only the last window may be shorter, and a clip shorter than one window has one window
  over all its frames.
- The window's feature is the mean of its frame features; its probabilities are the classification
  head applied to that mean, then a softmax over the labels: exactly how the utterance score is made
  from the whole clip (the head was trained on pooled features, so it is not applied per frame).
- ``times_s[w] = a_w / 50`` is the start of window w in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_RATE = 50


@dataclass(frozen=True)
class Timeline:
    times_s: np.ndarray  # float64 (W,): start of each window, seconds
    window_s: float
    hop_s: float
    probs: np.ndarray  # float32 (W, L): softmax over ``labels`` per window
    labels: tuple[str, ...]


def window_bounds(frames: int, window_s: float, hop_s: float) -> list[tuple[int, int]]:
    """``(start, end)`` frame indices of every window (end exclusive), as defined above."""
    if frames < 1:
        return []
    size = max(1, round(window_s * FRAME_RATE))
    bounds, w = [], 0
    while True:
        start = int(np.floor(w * hop_s * FRAME_RATE + 0.5))
        bounds.append((start, min(start + size, frames)))
        if start + size >= frames:
            return bounds
        w += 1


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def make_timeline(
    frames: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray,
    labels: tuple[str, ...],
    window_s: float = 1.0,
    hop_s: float = 0.25,
) -> Timeline:
    """The timeline of ``frames`` (T, D) under the head ``weight`` (L, D), ``bias`` (L,)."""
    bounds = window_bounds(len(frames), window_s, hop_s)
    sums = np.zeros((len(frames) + 1, frames.shape[1]), dtype=np.float64)
    np.cumsum(frames, axis=0, dtype=np.float64, out=sums[1:])
    starts = np.array([a for a, _ in bounds], dtype=np.int64)
    ends = np.array([b for _, b in bounds], dtype=np.int64)
    pooled = (sums[ends] - sums[starts]) / (ends - starts)[:, None]
    probs = softmax(pooled @ weight.T + bias)
    return Timeline(
        times_s=starts / FRAME_RATE,
        window_s=float(window_s),
        hop_s=float(hop_s),
        probs=probs.astype(np.float32),
        labels=tuple(labels),
    )
