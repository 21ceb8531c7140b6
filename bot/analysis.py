"""Pure analysis of scores and timelines: what a reply says, before any words are chosen. No I/O.

Everything here takes plain numbers (a ``{label: score}`` mapping, a Timeline-like object with
``times_s``, ``window_s``, ``hop_s``, ``probs`` (W, L) and ``labels``) and returns small frozen
dataclasses that ``bot.render`` turns into text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

# Unordered pairs of close top-two emotions -> a catalogue key for one descriptive word.
# "other" and "unknown" are not emotions one can blend; pairs not listed get a generic text.
MIXED_PAIRS: dict[frozenset[str], str] = {
    frozenset(("sad", "neutral")): "mixed.subdued",
    frozenset(("angry", "disgusted")): "mixed.indignant",
    frozenset(("happy", "surprised")): "mixed.delighted",
    frozenset(("fearful", "surprised")): "mixed.alarmed",
    frozenset(("angry", "sad")): "mixed.aggrieved",
    frozenset(("fearful", "sad")): "mixed.worried",
    frozenset(("happy", "neutral")): "mixed.content",
    frozenset(("angry", "neutral")): "mixed.irritated",
    frozenset(("disgusted", "sad")): "mixed.remorseful",
    frozenset(("angry", "fearful")): "mixed.agitated",
    frozenset(("angry", "surprised")): "mixed.outraged",
    frozenset(("happy", "sad")): "mixed.bittersweet",
    frozenset(("neutral", "surprised")): "mixed.intrigued",
    frozenset(("fearful", "neutral")): "mixed.uneasy",
    frozenset(("disgusted", "neutral")): "mixed.unimpressed",
    frozenset(("disgusted", "surprised")): "mixed.incredulous",
}
PERIODS = {"day": 1, "week": 7, "month": 30, "all": None}


@dataclass(frozen=True)
class Verdict:
    emotion: str
    confidence: float
    runner_up: str | None
    runner_up_score: float
    low_confidence: bool
    mixed: bool
    mixed_key: str | None  # catalogue key of the descriptor, None for the generic text


def ranked(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """Highest first; ties by name so the order never depends on dict order."""
    return sorted(((k, float(v)) for k, v in scores.items()), key=lambda kv: (-kv[1], kv[0]))


def verdict(scores: Mapping[str, float], low_confidence: float = 0.6,
            mixed_margin: float = 0.1) -> Verdict:
    order = ranked(scores)
    emotion, confidence = order[0]
    runner_up, second = order[1] if len(order) > 1 else (None, 0.0)
    mixed = runner_up is not None and confidence - second <= mixed_margin + 1e-9
    key = MIXED_PAIRS.get(frozenset((emotion, runner_up))) if mixed else None
    return Verdict(emotion, confidence, runner_up, second, confidence < low_confidence,
                   mixed, key)


# --- timelines -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    emotion: str
    start_s: float  # start of the first window
    end_s: float  # start of the last window + one hop
    windows: int


def window_emotions(timeline) -> list[str]:
    """The dominant label of every window."""
    probs = np.asarray(timeline.probs)
    labels = tuple(timeline.labels)
    return [labels[i] for i in np.argmax(probs, axis=1)] if len(probs) else []


def segments(timeline) -> list[Segment]:
    """Runs of windows with the same dominant emotion."""
    times = [float(t) for t in np.asarray(timeline.times_s)]
    hop = float(timeline.hop_s)
    runs: list[Segment] = []
    for i, emotion in enumerate(window_emotions(timeline)):
        if runs and runs[-1].emotion == emotion:
            last = runs[-1]
            runs[-1] = Segment(emotion, last.start_s, times[i] + hop, last.windows + 1)
        else:
            runs.append(Segment(emotion, times[i], times[i] + hop, 1))
    return runs


def transitions(timeline) -> list[tuple[float, str, str]]:
    """``(time_s, from, to)`` at the first window whose dominant emotion differs."""
    runs = segments(timeline)
    return [(b.start_s, a.emotion, b.emotion) for a, b in zip(runs, runs[1:])]


def shares(timeline) -> list[tuple[str, float]]:
    """Share of windows per dominant emotion, highest first (each window stands for one hop)."""
    found = window_emotions(timeline)
    if not found:
        return []
    return ranked({k: v / len(found) for k, v in Counter(found).items()})


def pooled(timeline, per_cell: int) -> tuple[list[float], list[str]]:
    """Merge ``per_cell`` consecutive windows (mean probabilities): cell starts and emotions."""
    probs = np.asarray(timeline.probs, dtype=np.float64)
    times = np.asarray(timeline.times_s, dtype=np.float64)
    labels = tuple(timeline.labels)
    starts, emotions = [], []
    for i in range(0, len(probs), per_cell):
        starts.append(float(times[i]))
        emotions.append(labels[int(np.argmax(probs[i : i + per_cell].mean(axis=0)))])
    return starts, emotions


# --- history statistics --------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    period: str
    count: int
    shares: tuple[tuple[str, float], ...]  # share of analyses per dominant emotion, highest first
    mean_confidence: float
    daily: tuple[tuple[str, str, int], ...]  # (YYYY-MM-DD, dominant emotion, analyses that day)


def period_start(period: str, now: datetime) -> datetime | None:
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    days = PERIODS[period]
    return None if days is None else now - timedelta(days=days)


def stats(rows: Iterable[Mapping], period: str) -> Stats:
    """Rows with ``at`` (ISO time), ``emotion`` and ``confidence``; days are UTC calendar days."""
    rows = list(rows)
    if not rows:
        return Stats(period, 0, (), 0.0, ())
    counts = Counter(r["emotion"] for r in rows)
    per_day: dict[str, Counter] = {}
    for r in rows:
        per_day.setdefault(str(r["at"])[:10], Counter())[r["emotion"]] += 1
    daily = tuple(
        (day, ranked(c)[0][0], sum(c.values())) for day, c in sorted(per_day.items())
    )
    return Stats(
        period,
        len(rows),
        tuple(ranked({k: v / len(rows) for k, v in counts.items()})),
        sum(float(r["confidence"]) for r in rows) / len(rows),
        daily,
    )


def daily_shares(rows: Sequence[Mapping]) -> tuple[list[str], dict[str, list[float]]]:
    """Days (sorted) and, per emotion seen, its share of that day's analyses."""
    per_day: dict[str, Counter] = {}
    for r in rows:
        per_day.setdefault(str(r["at"])[:10], Counter())[r["emotion"]] += 1
    days = sorted(per_day)
    emotions = sorted({e for c in per_day.values() for e in c})
    return days, {
        e: [per_day[d][e] / sum(per_day[d].values()) for d in days] for e in emotions
    }
