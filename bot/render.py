"""Pure rendering: scores -> text people read. No I/O."""

from __future__ import annotations

from collections.abc import Mapping

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


def headline(emotion: str, confidence: float) -> str:
    return f"{EMOJI.get(emotion, '❔')} {emotion} {confidence * 100:.1f} %"
