import io
import types

import numpy as np
from PIL import Image

from bot.charts import timeline_png, trend_png
from engine.labels import EMOTIONS


def test_timeline_png_opens_with_the_expected_size():
    probs = np.random.default_rng(0).dirichlet(np.ones(len(EMOTIONS)), size=40).astype(np.float32)
    t = types.SimpleNamespace(times_s=np.arange(40) * 0.25, window_s=1.0, hop_s=0.25,
                              probs=probs, labels=EMOTIONS)
    image = Image.open(io.BytesIO(timeline_png(t)))
    assert ("PNG", (800, 400)) == (image.format, image.size)


def test_timeline_png_of_one_window():
    t = types.SimpleNamespace(times_s=np.zeros(1), window_s=1.0, hop_s=0.25,
                              probs=np.full((1, 9), 1 / 9, dtype=np.float32), labels=EMOTIONS)
    assert (800, 400) == Image.open(io.BytesIO(timeline_png(t))).size


def test_trend_png_opens_with_the_expected_size():
    png = trend_png(["2025-01-01", "2025-01-02"], {"happy": [0.5, 0.0], "sad": [0.5, 1.0]})
    image = Image.open(io.BytesIO(png))
    assert ("PNG", (800, 400)) == (image.format, image.size)
