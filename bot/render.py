"""Pure rendering: scores -> text people read. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.analysis import Stats, Verdict, pooled, shares, transitions, verdict
from bot.messages import CATALOGUE, text

EMOJI = {
    "angry": "😠",
    "disgusted": "🤢",
    "fearful": "😨",
    "happy": "😊",
    "neutral": "😐",
    "other": "🤔",
    "sad": "😢",
    "surprised": "😮",
    "unknown": "❔",
}
CHART_WIDTH = 34  # fits a phone screen in a monospace block
_LABEL_WIDTH = 9  # len("surprised"), the longest label
_PCT_WIDTH = 6  # "100.0%"
BAR_WIDTH = CHART_WIDTH - _LABEL_WIDTH - _PCT_WIDTH - 2
_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar in eighth-blocks, exactly ``width`` characters (padded with spaces)."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text.ljust(width)


def chart(scores: Mapping[str, float]) -> str:
    """All scores, highest first, one aligned line each, at most ``CHART_WIDTH`` characters."""
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    lines = [
        f"{label:<{_LABEL_WIDTH}} {bar(score)} {score * 100:5.1f}%" for label, score in ordered
    ]
    return "\n".join(lines)


def headline(emotion: str, confidence: float, lang: str = "en") -> str:
    return f"{EMOJI.get(emotion, '❔')} {emotion_name(emotion, lang)} {confidence * 100:.1f} %"


# --- reply text -----------------------------------------------------------------------------------
# Everything below picks its words from ``bot.messages``; mono blocks keep English labels where
# columns must line up (CJK characters are two columns wide).

STRIP_SYMBOLS = {
    "angry": "A", "disgusted": "D", "fearful": "F", "happy": "H", "neutral": "·",
    "other": "o", "sad": "S", "surprised": "!", "unknown": "?",
}
_NICE_ROW_SPANS = (0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)
_AXIS_WIDTH = 6  # "99:59 "
MAX_STRIP_ROWS = 12
MAX_TRANSITIONS = 8


def emotion_name(label: str, lang: str = "en") -> str:
    key = f"emotion.{label}"
    return text(key, lang) if key in CATALOGUE else label


def percent(fraction: float) -> int:
    return int(round(fraction * 100))


def clock(seconds: float) -> str:
    """``83.25`` -> ``'1:23.2'`` (tenths; minutes unpadded)."""
    tenths = int(round(seconds * 10))
    minutes, rest = divmod(tenths, 600)
    return f"{minutes}:{rest // 10:02d}.{rest % 10}"


def mixed_hint(v: Verdict, lang: str = "en") -> str | None:
    if not v.mixed or v.runner_up is None:
        return None
    return text(
        "reply.mixed", lang,
        first=emotion_name(v.emotion, lang), first_pct=percent(v.confidence),
        second=emotion_name(v.runner_up, lang), second_pct=percent(v.runner_up_score),
        descriptor=text(v.mixed_key or "mixed.generic", lang),
    )


def low_confidence_warning(v: Verdict, threshold: float, lang: str = "en") -> str | None:
    if not v.low_confidence:
        return None
    return text("reply.low_confidence", lang, confidence=percent(v.confidence),
                threshold=percent(threshold))


def note_text(note, lang: str = "en") -> str:
    """An audio-intake note (``.key``/``.params``) or an already written string."""
    body = text(note.key, lang, **note.params) if hasattr(note, "key") else str(note)
    return text("reply.note", lang, text=body)


def utterance_text(scores: Mapping[str, float], lang: str = "en", low_confidence: float = 0.6,
                   mixed_margin: float = 0.1, notes: Iterable = ()) -> tuple[str, str, list[str]]:
    """(headline, mono chart, paragraphs) for one clip's scores; the caveat comes last."""
    v = verdict(scores, low_confidence, mixed_margin)
    parts = [low_confidence_warning(v, low_confidence, lang), mixed_hint(v, lang)]
    parts += [note_text(n, lang) for n in notes]
    parts.append(text("reply.caveat", lang))
    return headline(v.emotion, v.confidence, lang), chart(scores), [p for p in parts if p]


def _strip_layout(windows: int, hop: float) -> tuple[int, int]:
    """(windows per symbol, symbols per row): one symbol per window unless the strip gets long."""
    per_cell, limit = 1, CHART_WIDTH - _AXIS_WIDTH
    while True:
        cell_s = hop * per_cell
        fits = [round(span / cell_s) for span in _NICE_ROW_SPANS
                if abs(span / cell_s - round(span / cell_s)) < 1e-6 and span / cell_s <= limit]
        per_row = max(fits) if fits else limit
        if -(-windows // per_cell) <= per_row * MAX_STRIP_ROWS:
            return per_cell, per_row
        per_cell *= 2


def timeline_strip(timeline, lang: str = "en") -> str:
    """The timeline as rows of symbols (one per window), each row labelled with its start time,
    then a legend of the symbols used and the time one symbol stands for."""
    hop = float(timeline.hop_s)
    count = len(timeline.probs)
    if not count:
        return ""
    per_cell, per_row = _strip_layout(count, hop)
    starts, emotions = pooled(timeline, per_cell)
    lines = []
    for i in range(0, len(emotions), per_row):
        label = clock(starts[i]).rsplit(".", 1)[0] if _whole(starts[i]) else clock(starts[i])
        symbols = "".join(STRIP_SYMBOLS.get(e, "?") for e in emotions[i : i + per_row])
        lines.append(f"{label:>{_AXIS_WIDTH - 1}} {symbols}")
    used = list(dict.fromkeys(emotions))  # in order of first appearance
    lines += _wrap([f"{STRIP_SYMBOLS.get(e, '?')} {emotion_name(e, lang)}" for e in used])
    lines.append(text("timeline.scale", lang, seconds=f"{hop * per_cell:g}"))
    return "\n".join(lines)


def _whole(seconds: float) -> bool:
    return abs(seconds - round(seconds)) < 1e-6


def _wrap(items: list[str], width: int = CHART_WIDTH) -> list[str]:
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += "  " + item
        else:
            lines.append(item)
    return lines


def timeline_text(timeline, lang: str = "en") -> list[str]:
    """Paragraphs: the share of time per emotion, then the changes with their times."""
    found = shares(timeline)
    if not found:
        return []
    sep = text("reply.separator", lang)
    items = sep.join(f"{emotion_name(e, lang)} {percent(s)} %" for e, s in found)
    parts = [text("timeline.shares", lang, items=items)]
    changes = transitions(timeline)
    if not changes:
        parts.append(text("timeline.steady", lang, emotion=emotion_name(found[0][0], lang)))
        return parts
    shown = [text("timeline.change", lang, time=clock(t), before=emotion_name(a, lang),
                  after=emotion_name(b, lang)) for t, a, b in changes[:MAX_TRANSITIONS]]
    if len(changes) > MAX_TRANSITIONS:
        shown.append(text("timeline.more", lang, n=len(changes) - MAX_TRANSITIONS))
    parts.append(text("timeline.changes", lang, items=sep.join(shown)))
    return parts


# --- history and stats ----------------------------------------------------------------------------


def history_block(rows: Iterable[Mapping]) -> str:
    """One line per analysis, newest first: ``YYYY-MM-DD HH:MM emotion confidence`` (33 wide)."""
    return "\n".join(
        f"{str(r['at'])[:16].replace('T', ' ')} {r['emotion']:<{_LABEL_WIDTH}} "
        f"{float(r['confidence']) * 100:5.1f}%"
        for r in rows
    )


def stats_text(s: Stats, lang: str = "en") -> tuple[list[str], str | None]:
    """(paragraphs, mono block): a summary; the shares as a chart, the dominant emotion per day."""
    period = text(f"stats.period.{s.period}", lang)
    if not s.count:
        return [text("stats.empty", lang, period=period)], None
    summary = text("stats.summary", lang, count=s.count, period=period,
                   confidence=f"{s.mean_confidence * 100:.1f}")
    days = "\n".join(f"{day} {emotion:<{_LABEL_WIDTH}} {n:>4}" for day, emotion, n in s.daily)
    return [summary], chart(dict(s.shares)) + "\n\n" + text("stats.daily", lang) + "\n" + days
