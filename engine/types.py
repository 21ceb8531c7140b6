"""What the engine returns for one clip."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
FRAME_RATE = 50  # emotion2vec frames per second (320-sample hop)


def frame_count(samples: int) -> int:
    """Frames emotion2vec produces for ``samples`` samples at 16 kHz: floor((N - 400) / 320) + 1."""
    return max(0, (samples - 400) // 320 + 1)


@dataclass(frozen=True)
class ClipResult:
    labels: tuple[str, ...]
    scores: np.ndarray  # float32 (len(labels),), sums to 1
    embedding: np.ndarray | None  # float32 (D,): mean of the frame features
    frames: np.ndarray | None = None  # float32 (T, D), frame granularity only
    timeline: object | None = None  # engine.timeline.Timeline, frame granularity only

    @property
    def emotion(self) -> str:
        return self.labels[int(np.argmax(self.scores))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.scores))

    def score_map(self) -> dict[str, float]:
        return {label: float(s) for label, s in zip(self.labels, self.scores)}
