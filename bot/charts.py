"""PNG charts -> bytes: the probabilities of a timeline, and the daily shares of a user's history.

matplotlib is imported lazily (about 0.3 s) and used through ``Figure`` + the Agg canvas only, never
``pyplot``: no display is needed, no global figure state is shared between threads.
Labels stay in English: the default fonts have no CJK glyphs.
"""

from __future__ import annotations

import io

import numpy as np

WIDTH_PX, HEIGHT_PX, DPI = 800, 400, 100
COLOURS = {
    "angry": "#d62728", "disgusted": "#8c564b", "fearful": "#9467bd", "happy": "#ffbf00",
    "neutral": "#7f7f7f", "other": "#17becf", "sad": "#1f77b4", "surprised": "#ff7f0e",
    "unknown": "#c7c7c7",
}


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)  # no bbox_inches="tight": the size stays fixed
    return buf.getvalue()


def timeline_png(timeline) -> bytes:
    """Every label's probability over time (x: window centre in seconds), one line each."""
    fig = _figure()
    ax = fig.add_subplot()
    probs = np.asarray(timeline.probs, dtype=np.float64)
    x = np.asarray(timeline.times_s, dtype=np.float64) + float(timeline.window_s) / 2
    for i, label in enumerate(timeline.labels):
        ax.plot(x, probs[:, i], label=label, color=COLOURS.get(label), linewidth=1.4)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    if len(x):
        ax.set_xlim(float(x[0]), float(x[-1]) if len(x) > 1 else float(x[0]) + 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.08, right=0.82, bottom=0.13, top=0.95)
    return _png(fig)


def trend_png(days: list[str], series: dict[str, list[float]]) -> bytes:
    """Daily shares per emotion as stacked bars (``analysis.daily_shares`` gives the inputs)."""
    fig = _figure()
    ax = fig.add_subplot()
    x = np.arange(len(days))
    bottom = np.zeros(len(days))
    for label, values in series.items():
        ax.bar(x, values, bottom=bottom, label=label, color=COLOURS.get(label), width=0.8)
        bottom += np.asarray(values, dtype=np.float64)
    step = max(1, len(days) // 10)
    ax.set_xticks(x[::step], [d[5:] for d in days[::step]], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of analyses")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.08, right=0.82, bottom=0.13, top=0.95)
    return _png(fig)
