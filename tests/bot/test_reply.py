import io
import zipfile
from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image

from bot.analysis import Stats
from bot.embeddings import filename, pack
from bot.reply import Attachment, Reply, ReplyOptions, export_reply, for_result, history_reply, \
    stats_reply
from engine.labels import EMOTIONS
from engine.types import ClipResult
from tests.bot.timelines import timeline

WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
SCORES = np.array([0.02, 0.0, 0.0, 0.1, 0.38, 0.0, 0.42, 0.08, 0.0], dtype=np.float32)


def clip(frames=None, timeline=None, dim=8):
    return ClipResult(EMOTIONS, SCORES, np.arange(dim, dtype=np.float32), frames, timeline)


def test_utterance_reply_literal():
    r = for_result(clip(), options=ReplyOptions(now=WHEN))
    expected = (
        "😢 sad 42.0 %\n\n"
        "sad       ███████▏           42.0%\n"
        "neutral   ██████▌            38.0%\n"
        "happy     █▊                 10.0%\n"
        "surprised █▍                  8.0%\n"
        "angry     ▍                   2.0%\n"
        "disgusted                     0.0%\n"
        "fearful                       0.0%\n"
        "other                         0.0%\n"
        "unknown                       0.0%\n\n"
        "Low confidence (42 %, below 60 %). Likely causes: a very short or quiet recording, "
        "background noise or music, several voices at once, or a mixed or subtle emotion.\n\n"
        "sad 42 % and neutral 38 %: subdued\n\n"
        "An estimate of how the voice sounds, not a judgement of the person."
    )
    assert expected == r.plain()
    [npy] = r.attachments
    assert ("embedding_utterance_8d_20250102-030405Z.npy", "embedding") == (npy.filename, npy.kind)
    assert np.arange(8, dtype=np.float32).tolist() == np.load(io.BytesIO(npy.data)).tolist()


def test_reply_settings_threshold_language_and_no_embedding():
    options = ReplyOptions(lang="zh", low_confidence=0.4, mixed_margin=0.01, attach_embedding=False)
    r = for_result(clip(), options=options)
    assert ((), "😢 难过 42.0 %") == (r.attachments, r.headline)
    assert ("这是对声音听起来如何的估计，不是对这个人的评判。",) == r.parts


def test_frame_reply_has_strip_shares_changes_png_and_frame_embedding():
    frames = np.ones((6, 8), dtype=np.float32)
    r = for_result(clip(frames, timeline(hop=0.5, seq=["neutral"] * 4 + ["sad"] * 2)),
                   options=ReplyOptions(now=WHEN))
    assert r.mono.endswith(" 0:00 ····SS\n· neutral  S sad\none symbol = 0.5 s")
    assert ("Share of time: neutral 67 %, sad 33 %", "Changes: 0:02.0 neutral → sad") == r.parts[:2]
    png, npy = r.attachments
    assert ("chart", (800, 400)) == (png.kind, Image.open(io.BytesIO(png.data)).size)
    assert "embedding_frames_6x8_20250102-030405Z.npy" == npy.filename
    assert (6, 8) == np.load(io.BytesIO(npy.data)).shape


def test_embedding_over_the_limit_is_compressed_then_float16_then_explained():
    rng = np.random.default_rng(0)
    frames = rng.standard_normal((200, 64)).astype(np.float32)  # 51,328 bytes as .npy
    npz = pack(frames, WHEN, limit=50_000)
    assert ("embedding_frames_200x64_20250102-030405Z.npz", True) == (npz.filename, npz.compressed)
    with np.load(io.BytesIO(npz.data)) as z:
        assert frames.tolist() == z["frames"].tolist()
    assert None is pack(frames, WHEN, limit=30_000).data
    half = pack(frames, WHEN, limit=30_000, float16=True)
    assert "embedding_frames_200x64_20250102-030405Z_float16.npz" == half.filename
    with np.load(io.BytesIO(half.data)) as z:
        assert np.float16 == z["frames"].dtype

    r = for_result(clip(frames, timeline(hop=0.5, seq=["happy"] * 3)),
                   options=ReplyOptions(upload_limit=30_000, now=WHEN))
    assert ["chart"] == [a.kind for a in r.attachments]
    assert ("The embedding (0 MB) is larger than this chat accepts (0 MB). The utterance "
            "embedding is saved in your history: get it with export. For frame embeddings, "
            "switch on float16 in settings (half the size), send a shorter clip or use the "
            "command line: emotion-bot analyze --granularity frame --embedding FILE") == r.parts[-2]


def test_a_300_s_frame_embedding_fits_telegram_only_as_float16():
    frames = np.random.default_rng(1).standard_normal((15000, 1024)).astype(np.float32)
    assert 61_440_128 == pack(frames, WHEN).size
    assert None is pack(frames, WHEN, limit=50_000_000).data
    assert pack(frames, WHEN, limit=50_000_000, float16=True).size < 50_000_000


def test_filename_says_what_and_when():
    assert "embedding_utterance_1024d_20250102-030405Z.npy" == filename(np.zeros(1024), WHEN)


def test_history_stats_and_export_replies():
    assert Reply(("No analyses recorded yet.",)) == history_reply([])
    rows = [{"at": "2025-01-02T03:04:05Z", "emotion": "sad", "confidence": 0.5}]
    assert ("Your last 1 analysis:\n\n2025-01-02 03:04 sad        50.0%"
            == history_reply(rows).plain())
    s = Stats("all", 1, (("sad", 1.0),), 0.5, (("2025-01-02", "sad", 1),))
    r = stats_reply(s, b"png")
    assert ("1 analysis in all time, mean confidence 50.0 %.", "trend.png") == \
        (r.headline, r.attachments[0].filename)
    e = export_reply({"history.csv": b"a", "embeddings.npz": b"b"}, 3, 2)
    assert "Your history: 3 analyses, 2 embeddings." == e.headline
    assert [("history.csv", "text/csv", "export"),
            ("embeddings.npz", "application/octet-stream", "export")] == \
        [(a.filename, a.mime, a.kind) for a in e.attachments]


def test_attachment_kind_is_checked():
    with pytest.raises(ValueError):
        Attachment("x", b"", "text/plain", "audio")
    assert zipfile  # the .npz files above are zip archives
