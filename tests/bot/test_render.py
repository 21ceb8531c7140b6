from bot.render import CHART_WIDTH, bar, chart, headline

SCORES = {
    "angry": 0.873, "happy": 0.05, "neutral": 0.041, "sad": 0.02, "disgusted": 0.006,
    "fearful": 0.005, "other": 0.003, "surprised": 0.001, "unknown": 0.001,
}


def test_chart_is_sorted_aligned_and_fits_a_phone():
    expected = (
        "angry     ██████████████▉    87.3%\n"
        "happy     ▉                   5.0%\n"
        "neutral   ▊                   4.1%\n"
        "sad       ▍                   2.0%\n"
        "disgusted ▏                   0.6%\n"
        "fearful   ▏                   0.5%\n"
        "other                         0.3%\n"
        "surprised                     0.1%\n"
        "unknown                       0.1%"
    )
    assert expected == chart(SCORES)
    assert {CHART_WIDTH} == {len(line) for line in chart(SCORES).splitlines()}


def test_bar_extremes():
    assert "█" * 17 == bar(1.0)
    assert " " * 17 == bar(0.0)
    assert "████████▌        " == bar(0.5)


def test_headline():
    assert "😠 angry 87.3 %" == headline("angry", 0.873)
