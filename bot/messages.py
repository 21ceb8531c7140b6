"""The message catalogue: every sentence a user can read, in English and Simplified Chinese.

Keys are dotted names (``audio.too_long``); values are ``str.format`` templates, where
``{n|analysis|analyses}`` is the singular or plural for the count ``n``. ``text`` picks the
language (falling back to English for a missing language), the plural forms, and fills in the
parameters; ``tests/bot/test_messages.py`` checks that every key the code names is here.
"""

from __future__ import annotations

import logging
import re

from bot.errors import UserFacingError
from bot.messages_service import NOTICE_KEYS, SERVICE_MESSAGES  # noqa: F401 (re-exported)
from bot.messages_speaker import SPEAKER_MESSAGES

logger = logging.getLogger(__name__)
LANGUAGES = ("en", "zh")

CATALOGUE: dict[str, dict[str, str]] = {
    # --- generic ---------------------------------------------------------------------------------
    "error.internal": {
        "en": "Something went wrong on our side while analysing this. Please try again later.",
        "zh": "分析时我们这边出了问题，请稍后再试。",
    },
    # --- replies (bot.render, bot.reply) ---------------------------------------------------------
    "emotion.angry": {"en": "angry", "zh": "生气"},
    "emotion.disgusted": {"en": "disgusted", "zh": "厌恶"},
    "emotion.fearful": {"en": "fearful", "zh": "恐惧"},
    "emotion.happy": {"en": "happy", "zh": "开心"},
    "emotion.neutral": {"en": "neutral", "zh": "中立"},
    "emotion.other": {"en": "other", "zh": "其他"},
    "emotion.sad": {"en": "sad", "zh": "难过"},
    "emotion.surprised": {"en": "surprised", "zh": "吃惊"},
    "emotion.unknown": {"en": "unknown", "zh": "未知"},
    "reply.caveat": {
        "en": "An estimate of how the voice sounds, not a judgement of the person.",
        "zh": "这是对声音听起来如何的估计，不是对这个人的评判。",
    },
    "reply.low_confidence": {
        "en": "Low confidence ({confidence} %, below {threshold} %). Likely causes: a very short or "
        "quiet recording, background noise or music, several voices at once, or a mixed or "
        "subtle emotion.",
        "zh": "置信度较低（{confidence} %，低于 {threshold} %）。可能的原因：录音太短或太轻、"
        "有背景噪音或音乐、多人同时说话，或情绪本身混合、不明显。",
    },
    "reply.mixed": {
        "en": "{first} {first_pct} % and {second} {second_pct} %: {descriptor}",
        "zh": "{first} {first_pct} % 和 {second} {second_pct} %：{descriptor}",
    },
    "reply.note": {"en": "Note: {text}", "zh": "提示：{text}"},
    "reply.separator": {"en": ", ", "zh": "，"},
    "mixed.generic": {"en": "a mix of both", "zh": "两者兼有"},
    "mixed.subdued": {"en": "subdued", "zh": "低落"},
    "mixed.indignant": {"en": "indignant", "zh": "愤慨"},
    "mixed.delighted": {"en": "delighted", "zh": "惊喜"},
    "mixed.alarmed": {"en": "alarmed", "zh": "惊慌"},
    "mixed.aggrieved": {"en": "aggrieved", "zh": "委屈"},
    "mixed.worried": {"en": "worried", "zh": "忧虑"},
    "mixed.content": {"en": "content", "zh": "平和满足"},
    "mixed.irritated": {"en": "irritated", "zh": "恼火"},
    "mixed.remorseful": {"en": "remorseful", "zh": "懊悔"},
    "mixed.agitated": {"en": "agitated", "zh": "焦躁"},
    "mixed.outraged": {"en": "outraged", "zh": "震怒"},
    "mixed.bittersweet": {"en": "bittersweet", "zh": "悲喜交加"},
    "mixed.intrigued": {"en": "intrigued", "zh": "好奇"},
    "mixed.uneasy": {"en": "uneasy", "zh": "不安"},
    "mixed.unimpressed": {"en": "unimpressed", "zh": "冷淡"},
    "mixed.incredulous": {"en": "incredulous", "zh": "难以置信"},
    "timeline.scale": {"en": "one symbol = {seconds} s", "zh": "每个符号 = {seconds} 秒"},
    "timeline.shares": {"en": "Share of time: {items}", "zh": "时间占比：{items}"},
    "timeline.changes": {"en": "Changes: {items}", "zh": "变化：{items}"},
    "timeline.change": {"en": "{time} {before} → {after}", "zh": "{time} {before} → {after}"},
    "timeline.more": {"en": "and {n} more", "zh": "另有 {n} 处"},
    "timeline.steady": {"en": "{emotion} throughout.", "zh": "全程{emotion}。"},
    "embedding.compressed": {
        "en": "The embedding is compressed ({name}) to fit this chat's upload limit.",
        "zh": "嵌入向量已压缩（{name}），以符合此聊天的上传限制。",
    },
    "embedding.too_large": {
        "en": "The embedding ({size} MB) is larger than this chat accepts ({limit} MB). The "
        "utterance embedding is saved in your history: get it with export. For frame "
        "embeddings, switch on float16 in settings (half the size), send a shorter clip or use the "
        "command line: emotion-bot analyze --granularity frame --embedding FILE",
        "zh": "嵌入向量（{size} MB）超过了此聊天允许的大小（{limit} MB）。整段语音的嵌入向量已保存在"
        "你的历史记录中，可用 export 导出。如需逐帧嵌入向量，请在设置中开启 float16（大小减半）、发送更短的录音，"
        "或使用命令行："
        "emotion-bot analyze --granularity frame --embedding FILE",
    },
    # --- history (bot.history, bot.cli_history) ----------------------------------------------------
    "history.empty": {"en": "No analyses recorded yet.", "zh": "还没有分析记录。"},
    "history.title": {"en": "Your last {n} {n|analysis|analyses}:", "zh": "你最近的 {n} 次分析："},
    "stats.period.day": {"en": "the last 24 hours", "zh": "最近 24 小时"},
    "stats.period.week": {"en": "the last 7 days", "zh": "最近 7 天"},
    "stats.period.month": {"en": "the last 30 days", "zh": "最近 30 天"},
    "stats.period.all": {"en": "all time", "zh": "全部时间"},
    "stats.empty": {"en": "No analyses in {period}.", "zh": "{period}没有分析记录。"},
    "stats.summary": {
        "en": "{count} {count|analysis|analyses} in {period}, mean confidence {confidence} %.",
        "zh": "{period}共 {count} 次分析，平均置信度 {confidence} %。",
    },
    "stats.daily": {"en": "Dominant emotion per day:", "zh": "每天的主要情绪："},
    "export.done": {
        "en": "Your history: {count} {count|analysis|analyses}, {embeddings} "
        "{embeddings|embedding|embeddings}.",
        "zh": "你的历史记录：{count} 次分析，{embeddings} 个嵌入向量。",
    },
    "forget.confirm": {
        "en": "This deletes all your analyses, settings, consents and pending jobs for good. "
        "Are you sure?",
        "zh": "这将永久删除你的所有分析记录、设置、授权和待处理任务。确定吗？",
    },
    "forget.done": {
        "en": "Deleted: {records} {records|analysis|analyses} and everything else stored about you.",
        "zh": "已删除：{records} 次分析，以及关于你的所有其他数据。",
    },
    "forget.erasing": {
        "en": "Deleted: {records} {records|analysis|analyses} and everything else stored about you. "
        "The database is "
        "being read right now (a backup?), so the deleted data is wiped from the file as soon as "
        "that finishes.",
        "zh": "已删除：{records} 次分析，以及关于你的所有其他数据。数据库此刻正被读取（可能在备份），"
        "读取结束后，已删除的数据会立即从文件中抹去。",
    },
    "forget.cancelled": {"en": "Nothing was deleted.", "zh": "没有删除任何内容。"},
    # --- audio intake ----------------------------------------------------------------------------
    "audio.unreadable": {
        "en": "I couldn't read this file as audio. Please send a voice note or a common audio file "
        "(OGG, MP3, M4A, WAV, FLAC).",
        "zh": "无法把这个文件读取为音频。请发送语音消息或常见音频文件（OGG、MP3、M4A、WAV、FLAC）。",
    },
    "audio.empty": {
        "en": "I received an empty file. Please record the voice message again.",
        "zh": "收到的是一个空文件。请重新录制语音消息。",
    },
    "audio.download_failed": {
        "en": "I couldn't download that file: the chat service sent an error instead of the audio "
        "(bots can only fetch files up to 20 MB). Please send a shorter recording.",
        "zh": "无法下载这个文件：聊天服务返回了错误而不是音频（机器人只能获取 20 MB 以内的文件）。"
        "请发送一段更短的录音。",
    },
    "audio.not_audio": {
        "en": "That file isn't audio. Please send a voice message or an audio file.",
        "zh": "这个文件不是音频。请发送语音消息或音频文件。",
    },
    "audio.not_audio.image": {
        "en": "That file isn't audio (it looks like an image). Please send a voice message.",
        "zh": "这个文件不是音频（看起来是一张图片）。请发送语音消息。",
    },
    "audio.not_audio.video": {
        "en": "That video has no sound track. Please send a voice message or a video with sound.",
        "zh": "这个视频没有声音。请发送语音消息或带声音的视频。",
    },
    "audio.not_audio.text": {
        "en": "That file isn't audio (it looks like text). Please send a voice message.",
        "zh": "这个文件不是音频（看起来是文本）。请发送语音消息。",
    },
    "audio.no_audio": {
        "en": "Your voice message contains no audio. Please record it again.",
        "zh": "你的语音消息里没有任何音频内容。请重新录制。",
    },
    "audio.corrupt": {
        "en": "I couldn't read that audio file; it seems to be damaged. Please record or export it "
        "again.",
        "zh": "无法读取这个音频文件，它似乎已损坏。请重新录制或重新导出。",
    },
    "audio.unsupported_codec": {
        "en": "Sorry, that audio format isn't supported. Please send a normal voice message or an "
        "MP3, M4A, OGG, WAV or FLAC file.",
        "zh": "抱歉，不支持这种音频格式。请发送普通语音消息，或 MP3、M4A、OGG、WAV、FLAC 文件。",
    },
    "audio.bad_sample_rate": {
        "en": "Unsupported audio: the file says its sample rate is {rate} Hz, which can't be right. "
        "Please export it again or send a voice message.",
        "zh": "不支持的音频：文件标注的采样率为 {rate} Hz，这不可能是正确的。请重新导出或发送语音消息。",
    },
    "audio.encrypted": {
        "en": "That file seems to be protected/encrypted, so I can't play it. Please send an "
        "unprotected recording.",
        "zh": "这个文件似乎受保护或已加密，所以无法播放。请发送未加密的录音。",
    },
    "audio.too_large": {
        "en": "That file is too big ({size_mb} MB); I accept up to {max_mb:g} MB. Please send a "
        "shorter recording.",
        "zh": "文件太大（{size_mb} MB），我最多接受 {max_mb:g} MB。请发送一段更短的录音。",
    },
    "audio.too_long": {
        "en": "That recording is longer than I can analyse (up to {max_seconds:g} seconds). Please "
        "send a shorter one.",
        "zh": "这段录音太长了，我最多能分析 {max_seconds:g} 秒。请发送一段更短的录音。",
    },
    "audio.too_short": {
        "en": "That clip is too short ({seconds:g} s of speech) to judge. Please send at least a "
        "second or two of speech.",
        "zh": "这段录音太短（只有 {seconds:g} 秒语音），无法判断。请至少说一两秒钟。",
    },
    "audio.silence": {
        "en": "I couldn't hear anything: the recording is silent. Is your microphone muted?",
        "zh": "什么也听不到：录音是无声的。你的麦克风是否静音了？",
    },
    "audio.no_speech": {
        "en": "I couldn't detect any speech in that recording (only music, noise or other sounds). "
        "Please send a recording of someone speaking.",
        "zh": "在这段录音中没有检测到说话声（只有音乐、噪音或其他声音）。请发送有人说话的录音。",
    },
    "audio.tracks_unheard": {
        "en": "I listened to the first {checked} of this file's {tracks} audio tracks and heard no "
        "speech in them. If the speech is on a later track, please send that track on its own.",
        "zh": "这个文件有 {tracks} 条音轨，我听了前 {checked} 条，没有听到说话声。"
        "如果说话声在后面的音轨上，请单独发送那条音轨。",
    },
    "audio.timeout": {
        "en": "Reading that file took too long, so I stopped. Please send a shorter or simpler "
        "recording.",
        "zh": "读取这个文件耗时过长，已停止。请发送更短或更简单的录音。",
    },
    "audio.decoder_missing": {
        "en": "I can't process audio right now because of a problem on our side. Please try again "
        "later.",
        "zh": "由于我们这边的问题，暂时无法处理音频。请稍后再试。",
    },
    # quality notes: travel with a result (bot.audio.Note) and may be mentioned in a reply
    "audio.note.quiet": {
        "en": "The recording is very quiet, so I turned it up before listening.",
        "zh": "录音音量很低，我先调高了音量再分析。",
    },
    "audio.note.truncated": {
        "en": "The recording looks cut off: I only heard the first {heard_s:g} s of {declared_s:g} s.",
        "zh": "录音似乎被截断了：{declared_s:g} 秒中我只听到了前 {heard_s:g} 秒。",
    },
    "audio.note.damaged": {
        "en": "Parts of the recording couldn't be decoded (pauses may be missing); I analysed the "
        "rest.",
        "zh": "录音中有部分内容无法解码（停顿可能缺失），我分析了其余部分。",
    },
    "audio.note.clipped": {
        "en": "The recording is distorted (too loud for the microphone), which can affect the "
        "result.",
        "zh": "录音有失真（对麦克风来说声音太大），可能会影响结果。",
    },
    "audio.note.channel_fallback": {
        "en": "The stereo channels cancelled each other out, so I listened to one channel only.",
        "zh": "立体声的两个声道相互抵消了，所以我只分析了其中一个声道。",
    },
    "audio.note.other_track": {
        "en": "The file has {tracks} audio tracks; I listened to track {track}, which has the speech.",
        "zh": "这个文件有 {tracks} 条音轨；我分析了含有说话声的第 {track} 条音轨。",
    },
}
CATALOGUE.update(SERVICE_MESSAGES)
CATALOGUE.update(SPEAKER_MESSAGES)


def language(code: str | None) -> str:
    """Map a platform language code (``en-GB``, ``zh-hans``, ``zh_CN``) to a catalogue language."""
    if code:
        base = code.replace("_", "-").split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return "en"


_PLURAL = re.compile(r"\{(\w+)\|([^|{}]*)\|([^|{}]*)\}")


def text(key: str, lang: str = "en", **params: object) -> str:
    """The message ``key`` in ``lang`` (English where it has no translation). ``{n|one|other}``
    in a template is the singular when ``n`` is 1, else the plural (Chinese needs none). A key
    not in the catalogue is a bug: it is logged, and the person sees the internal-error text."""
    entry = CATALOGUE.get(key)
    if entry is None:
        logger.error("no message %r in the catalogue", key)
        entry = CATALOGUE["error.internal"]
    template = entry.get(language(lang)) or entry["en"]
    template = _PLURAL.sub(lambda m: m.group(2) if params.get(m.group(1)) == 1 else m.group(3),
                           template)
    return template.format(**params) if params else template


ENGINE_ERRORS = {"EngineBusy": "engine.busy", "Unreachable": "engine.unreachable"}


def describe(error: BaseException, lang: str = "en") -> str:
    """The one place an error becomes user text (the tree is in ``bot.errors``). The engine's
    errors are known by name, so this module imports no engine. Unknown errors never leak their
    details."""
    if isinstance(error, UserFacingError):
        return text(error.key, lang, **error.params)
    key = ENGINE_ERRORS.get(type(error).__name__)
    if key in CATALOGUE:
        return text(key, lang)
    return text("error.internal", lang)
