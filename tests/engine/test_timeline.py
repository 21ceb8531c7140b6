"""The timeline's definition on known inputs."""

import asyncio

import numpy as np
import pytest

from engine import Engine, EngineConfig
from engine.timeline import make_timeline, softmax, window_bounds
from tests.engine.conftest import speech


def test_window_bounds_for_one_second_windows_and_quarter_second_hops():
    # 100 frames = 2 s; windows of 50 frames start at round(12.5 w).
    assert [(0, 50), (13, 63), (25, 75), (38, 88), (50, 100)] == window_bounds(100, 1.0, 0.25)
    # the last window reaches the last frame and may be shorter
    assert [(0, 50), (13, 60)] == window_bounds(60, 1.0, 0.25)
    # a clip shorter than one window: one window over every frame
    assert [(0, 20)] == window_bounds(20, 1.0, 0.25)
    assert [(0, 2), (1, 3), (2, 4)] == window_bounds(4, 0.04, 0.02)


def test_timeline_is_the_head_over_window_means():
    # Two features; the head says "a" when feature 0 dominates, "b" for feature 1.
    frames = np.zeros((100, 2), dtype=np.float32)
    frames[:50, 0] = 4.0
    frames[50:, 1] = 4.0
    weight = np.array([[1.0, 0.0], [0.0, 1.0]])
    bias = np.zeros(2)
    timeline = make_timeline(frames, weight, bias, ("a", "b"), window_s=1.0, hop_s=0.25)
    np.testing.assert_array_equal([0.0, 0.26, 0.5, 0.76, 1.0], timeline.times_s)
    assert (5, 2) == timeline.probs.shape
    assert ("a", "b") == timeline.labels
    assert (1.0, 0.25) == (timeline.window_s, timeline.hop_s)
    # window 1 covers frames 13..62: 37 frames of "a", 13 of "b"
    expected = softmax(np.array([4.0 * 37 / 50, 4.0 * 13 / 50]))
    np.testing.assert_allclose(timeline.probs[1], expected, atol=1e-6)
    assert [0, 0, 0, 1, 1] == list(np.argmax(timeline.probs, axis=1))  # window 2 is a tie
    np.testing.assert_allclose([0.5, 0.5], timeline.probs[2], atol=1e-6)


def test_engine_timeline_matches_the_definition(tiny_model):
    async def run():
        engine = Engine(tiny_model, EngineConfig(timeline_window_s=1.0, timeline_hop_s=0.25))
        await engine.start()
        try:
            return engine, await engine.infer(speech(3.0), "frame")
        finally:
            await engine.close()

    engine, result = asyncio.run(run())
    timeline = result.timeline
    assert (149, 32) == result.frames.shape  # floor((48000 - 400) / 320) + 1
    assert (9, 9) == timeline.probs.shape  # starts 0, 13, 25, ..., 100 (100 + 50 >= 149)
    assert pytest.approx(2.0) == timeline.times_s[-1]
    head = engine._head
    for w, start in enumerate([0, 13, 25, 38, 50, 63, 75, 88, 100]):
        pooled = result.frames[start : start + 50].astype(np.float64).mean(axis=0)
        np.testing.assert_allclose(timeline.probs[w], head.scores(pooled), atol=1e-6)
    np.testing.assert_allclose(timeline.probs.sum(axis=1), np.ones(9), atol=1e-6)
