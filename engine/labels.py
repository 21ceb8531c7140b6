"""Emotion labels: the model's tokens.txt -> the nine English names the product speaks."""

from __future__ import annotations

EMOTIONS = (
    "angry",
    "disgusted",
    "fearful",
    "happy",
    "neutral",
    "other",
    "sad",
    "surprised",
    "unknown",
)

# tokens.txt of emotion2vec+ (order of the ``proj`` head). Written by ``make_model`` as well.
TOKENS = (
    "生气/angry",
    "厌恶/disgusted",
    "恐惧/fearful",
    "开心/happy",
    "中立/neutral",
    "其他/other",
    "难过/sad",
    "吃惊/surprised",
    "<unk>",
)


def english(token: str) -> str:
    """``'生气/angry'`` -> ``'angry'``; ``'<unk>'`` -> ``'unknown'``."""
    name = token.strip().split("/")[-1].strip().lower()
    return "unknown" if name in ("<unk>", "unk", "") else name


def read_tokens(text: str) -> tuple[list[str], list[int]]:
    """Parse tokens.txt. Returns the English labels kept and their indices in the head.

    FunASR drops labels starting with ``unuse`` (placeholders in an older 5-class tokens file).
    """
    labels, keep = [], []
    for index, line in enumerate(t for t in text.splitlines() if t.strip()):
        if line.strip().startswith("unuse"):
            continue
        labels.append(english(line))
        keep.append(index)
    return labels, keep
