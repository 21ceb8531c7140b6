from bot.analysis import (Segment, Stats, Verdict, daily_shares, period_start, pooled, segments,
                          shares, stats, transitions, verdict)
from tests.bot.timelines import timeline


def test_verdict_clear_winner():
    expected = Verdict("angry", 0.8, "happy", 0.1, False, False, None)
    assert expected == verdict({"angry": 0.8, "happy": 0.1, "sad": 0.1})


def test_verdict_mixed_pair_has_a_word_in_either_order():
    assert "mixed.subdued" == verdict({"sad": 0.42, "neutral": 0.38, "happy": 0.2}).mixed_key
    assert "mixed.subdued" == verdict({"neutral": 0.42, "sad": 0.38, "happy": 0.2}).mixed_key
    assert "mixed.delighted" == verdict({"surprised": 0.5, "happy": 0.45}).mixed_key


def test_verdict_mixed_without_a_word_and_low_confidence():
    v = verdict({"other": 0.40, "angry": 0.35, "sad": 0.25}, low_confidence=0.6, mixed_margin=0.1)
    assert (True, None, True) == (v.mixed, v.mixed_key, v.low_confidence)


def test_verdict_margin_and_threshold_are_configurable():
    v = verdict({"sad": 0.55, "neutral": 0.45}, low_confidence=0.5, mixed_margin=0.05)
    assert (False, False) == (v.mixed, v.low_confidence)


def test_segments_transitions_and_shares():
    t = timeline(["neutral"] * 4 + ["sad"] * 3 + ["neutral"])
    assert [Segment("neutral", 0.0, 1.0, 4), Segment("sad", 1.0, 1.75, 3),
            Segment("neutral", 1.75, 2.0, 1)] == segments(t)
    assert [(1.0, "neutral", "sad"), (1.75, "sad", "neutral")] == transitions(t)
    assert [("neutral", 0.625), ("sad", 0.375)] == shares(t)


def test_pooled_merges_windows_by_mean_probability():
    t = timeline(["sad", "sad", "happy", "angry", "angry", "angry"])
    assert ([0.0, 0.5, 1.0], ["sad", "angry", "angry"]) == pooled(t, 2)


def test_stats_share_mean_and_daily_dominant():
    rows = [
        {"at": "2025-01-02T10:00:00Z", "emotion": "sad", "confidence": 0.5},
        {"at": "2025-01-02T11:00:00Z", "emotion": "sad", "confidence": 0.7},
        {"at": "2025-01-02T12:00:00Z", "emotion": "happy", "confidence": 0.9},
        {"at": "2025-01-03T09:00:00Z", "emotion": "happy", "confidence": 0.9},
    ]
    expected = Stats("all", 4, (("happy", 0.5), ("sad", 0.5)), 0.75,
                     (("2025-01-02", "sad", 3), ("2025-01-03", "happy", 1)))
    assert expected == stats(rows, "all")
    assert (["2025-01-02", "2025-01-03"], {"happy": [1 / 3, 1.0], "sad": [2 / 3, 0.0]}) \
        == daily_shares(rows)


def test_period_start():
    from datetime import datetime

    now = datetime(2025, 1, 31, 12)
    assert datetime(2025, 1, 24, 12) == period_start("week", now)
    assert None is period_start("all", now)
