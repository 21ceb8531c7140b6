"""A Timeline-shaped test object: one window per label in ``seq``, the named label at 0.9."""

import types

import numpy as np

from engine.labels import EMOTIONS


def timeline(seq, hop=0.25, window=1.0):
    probs = np.full((len(seq), len(EMOTIONS)), 0.01, dtype=np.float32)
    for i, emotion in enumerate(seq):
        probs[i, EMOTIONS.index(emotion)] = 0.9
    return types.SimpleNamespace(times_s=np.arange(len(seq)) * hop, window_s=window, hop_s=hop,
                                 probs=probs, labels=EMOTIONS)
