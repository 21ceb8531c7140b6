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


# --- reply text ----------------------------------------------------------------------------------

from bot.analysis import Stats  # noqa: E402
from bot.render import (clock, history_block, stats_text, timeline_strip,  # noqa: E402
                        timeline_text, utterance_text)
import types  # noqa: E402

from tests.bot.timelines import timeline  # noqa: E402

MIXED = {"sad": 0.42, "neutral": 0.38, "happy": 0.12, "angry": 0.08}


def test_utterance_text_confident():
    title, mono, parts = utterance_text(SCORES)
    assert "😠 angry 87.3 %" == title
    assert chart(SCORES) == mono
    assert ["An estimate of how the voice sounds, not a judgement of the person."] == parts


def test_utterance_text_low_confidence_mixed_and_notes():
    note = types.SimpleNamespace(key="reply.caveat", params={})
    title, _, parts = utterance_text(MIXED, notes=[note, "recorded in a car"])
    assert "😢 sad 42.0 %" == title
    assert [
        "Low confidence (42 %, below 60 %). Likely causes: a very short or quiet recording, "
        "background noise or music, several voices at once, or a mixed or subtle emotion.",
        "sad 42 % and neutral 38 %: subdued",
        "Note: An estimate of how the voice sounds, not a judgement of the person.",
        "Note: recorded in a car",
        "An estimate of how the voice sounds, not a judgement of the person.",
    ] == parts


def test_utterance_text_in_chinese_and_generic_mix():
    title, _, parts = utterance_text({"other": 0.5, "angry": 0.45, "sad": 0.05}, "zh")
    assert "🤔 其他 50.0 %" == title
    assert [
        "置信度较低（50 %，低于 60 %）。可能的原因：录音太短或太轻、有背景噪音或音乐、多人同时说话，"
        "或情绪本身混合、不明显。",
        "其他 50 % 和 生气 45 %：两者兼有",
        "这是对声音听起来如何的估计，不是对这个人的评判。",
    ] == parts


def test_timeline_strip_one_symbol_per_window():
    t = timeline(["neutral"] * 8 + ["sad"] * 10 + ["neutral"] * 4 + ["happy"] * 6)
    expected = (
        " 0:00 ········SSSSSSSSSS··\n"
        " 0:05 ··HHHHHH\n"
        "· neutral  S sad  H happy\n"
        "one symbol = 0.25 s"
    )
    assert expected == timeline_strip(t)
    assert [
        "Share of time: neutral 43 %, sad 36 %, happy 21 %",
        "Changes: 0:02.0 neutral → sad, 0:04.5 sad → neutral, 0:05.5 neutral → happy",
    ] == timeline_text(t)


def test_timeline_strip_of_five_minutes_fits_a_phone():
    t = timeline(["neutral"] * 500 + ["angry"] * 700)
    strip = timeline_strip(t)
    expected_rows = [" 0:00 " + "·" * 15, " 0:30 " + "·" * 15, " 1:00 " + "·" * 15,
                     " 1:30 " + "·" * 15, " 2:00 " + "··" + "A" * 13]  # cell 62: 4 + 4, a tie
    assert expected_rows == strip.splitlines()[:5]
    assert "one symbol = 2 s" == strip.splitlines()[-1]
    assert 12 == len(strip.splitlines())
    assert max(len(line) for line in strip.splitlines()) <= CHART_WIDTH


def test_timeline_text_steady_and_in_chinese():
    assert ["时间占比：开心 100 %", "全程开心。"] == timeline_text(timeline(["happy"] * 5), "zh")


def test_clock():
    assert ["0:00.0", "0:02.2", "1:23.5", "10:00.0"] == [clock(s) for s in (0, 2.25, 83.5, 600)]


def test_history_block():
    rows = [{"at": "2025-01-02T03:04:05Z", "emotion": "surprised", "confidence": 0.4567},
            {"at": "2025-01-01T23:59:00Z", "emotion": "sad", "confidence": 1.0}]
    expected = "2025-01-02 03:04 surprised  45.7%\n2025-01-01 23:59 sad       100.0%"
    assert expected == history_block(rows)


def test_stats_text():
    s = Stats("week", 4, (("happy", 0.75), ("sad", 0.25)), 0.8125,
              (("2025-01-02", "sad", 1), ("2025-01-03", "happy", 3)))
    parts, mono = stats_text(s)
    assert ["4 analyses in the last 7 days, mean confidence 81.2 %."] == parts
    assert (
        "happy     ████████████▊      75.0%\n"
        "sad       ████▎              25.0%\n"
        "\n"
        "Dominant emotion per day:\n"
        "2025-01-02 sad          1\n"
        "2025-01-03 happy        3"
    ) == mono
    assert (["最近 24 小时没有分析记录。"], None) == stats_text(Stats("day", 0, (), 0.0, ()), "zh")
