"""The commands every platform offers, as plain functions of (service, request) -> Reply.

Personal data (history, stats, trend, export, settings) is always marked ``private``: adapters send
it to the user alone (Telegram: the private chat; Slack: an ephemeral message). Buttons carry an
``action`` that comes back as a command ("forget confirm", "settings attach off").
"""

from __future__ import annotations

import asyncio

from bot.reply import Attachment, Button, Reply, export_reply, history_reply, stats_reply
from bot.messages import text
from bot.requests import CommandRequest

# name -> catalogue key of its one-line description (shown by /help and setMyCommands)
COMMANDS = {
    "start": "what this bot does",
    "help": "how to use it",
    "mode": "utterance or frame (a timeline)",
    "history": "your last analyses",
    "stats": "your emotions over a day, week, month or all",
    "trend": "a chart of your emotions per day",
    "export": "download all your data",
    "forget": "delete all your data",
    "settings": "your preferences",
    "privacy": "what is stored and who sees it",
    "language": "English or 中文",
    "optin": "groups: analyse my voice notes here",
    "optout": "groups: stop analysing my voice notes here",
    "emotion": "reply to a voice note with this to analyse it",
    "consent": "on|off: let others analyse audio you uploaded",
    "auto": "on|off: analyse every audio file shared in this channel",
}
DESCRIPTIONS_ZH = {
    "start": "这个机器人做什么", "help": "使用方法", "mode": "整体或时间线模式",
    "history": "你最近的分析", "stats": "一天、一周、一个月或全部的情绪统计",
    "trend": "每天情绪的图表", "export": "下载你的全部数据", "forget": "删除你的全部数据",
    "settings": "你的偏好设置", "privacy": "保存什么、谁能看到", "language": "English 或 中文",
    "optin": "群组：分析我在这里的语音", "optout": "群组：停止分析我在这里的语音",
    "emotion": "回复一条语音以分析它", "consent": "on|off：允许他人分析你上传的音频", "auto": "on|off：分析此频道分享的每个音频文件",
}
OPEN_TO_ALL = ("help", "start", "privacy")  # what a shared identity may still ask
PLATFORM_ONLY = {"optin": "telegram", "optout": "telegram", "start": "telegram", "emotion": "telegram",
                 "consent": "slack", "auto": "slack"}


def command_list(platform: str, lang: str) -> list[tuple[str, str]]:
    names = [n for n in COMMANDS if PLATFORM_ONLY.get(n, platform) == platform]
    table = DESCRIPTIONS_ZH if lang == "zh" else COMMANDS
    return [(n, table[n]) for n in names]


async def run_command(service, req: CommandRequest) -> Reply:
    handler = HANDLERS.get(req.command)
    lang = await asyncio.to_thread(service.lang, req.sender)
    if handler is None:
        return Reply((), headline=text("cmd.unknown", lang), ok=False)
    from bot.service import SHARED_IDENTITIES

    if req.sender.key in SHARED_IDENTITIES and req.command not in OPEN_TO_ALL:
        # one anonymous /optin would opt in every anonymous admin; no one's history is theirs
        return Reply((), headline=text("privacy.shared_sender", lang), ok=False)
    return await asyncio.to_thread(handler, service, req, lang)


def _emotion_usage(service, req, lang):
    """``/emotion`` without a voice note to analyse (the adapter handles it as a reply)."""
    return Reply((), headline=text("cmd.emotion.usage", lang), ok=False)


def _start(service, req, lang):
    return Reply((), headline=text("cmd.start", lang))


def _help(service, req, lang):
    lines = "\n".join(f"/{name} — {about}" for name, about in
                      command_list(req.sender.platform, lang))
    platform = req.sender.platform if req.sender.platform in ("telegram", "slack") else "telegram"
    groups = text(f"cmd.help.{platform}", lang)
    return Reply((), headline=text("cmd.help", lang, commands=lines, groups=groups))


def _privacy(service, req, lang):
    return Reply((), headline=text("cmd.privacy", lang))


def _mode(service, req, lang):
    if len(req.args) != 1 or req.args[0] not in ("utterance", "frame"):
        return Reply((), headline=text("cmd.mode.usage", lang), ok=False)
    service.history.set_settings(req.sender.key, granularity=req.args[0])
    return Reply((), headline=text("cmd.mode.set", lang, mode=req.args[0],
                                   explain=text(f"cmd.mode.{req.args[0]}", lang)))


def _language(service, req, lang):
    if len(req.args) != 1 or req.args[0] not in ("en", "zh"):
        return Reply((), headline=text("cmd.language.usage", lang, current=lang),
                     buttons=(Button(text("button.language.en", lang), "language en"),
                              Button(text("button.language.zh", lang), "language zh")))
    service.history.set_settings(req.sender.key, language=req.args[0])
    return Reply((), headline=text("cmd.language.set", req.args[0]))


def _history(service, req, lang):
    n = _int_arg(req.args, 10)
    if n is None or not 1 <= n <= 100:
        return Reply((), headline=text("cmd.history.usage", lang), ok=False, private=True)
    return _private(history_reply(service.history.history(req.sender.key, n), lang))


def _stats(service, req, lang):
    period = req.args[0] if req.args else "week"
    if period not in ("day", "week", "month", "all"):
        return Reply((), headline=text("cmd.stats.usage", lang), ok=False, private=True)
    return _private(stats_reply(service.history.stats(req.sender.key, period), None, lang))


def _trend(service, req, lang):
    png = service.history.trend_png(req.sender.key)
    if not png:
        return Reply((), headline=text("cmd.trend.empty", lang), private=True)
    return _files_where(Reply((), headline=text("cmd.trend.title", lang), private=True,
                        attachments=(Attachment("trend.png", png, "image/png", "chart"),)), req,
                        lang)


def _export(service, req, lang):
    files, count, stored = service.history.export_files(req.sender.key)
    return _files_where(_private(export_reply(files, count, stored, lang)), req, lang)


def _files_where(reply: Reply, req, lang) -> Reply:
    """Slack shows personal text as an ephemeral message, which cannot carry files: they go to
    the person's DM with the app, and the message says so."""
    if req.sender.platform == "slack" and not req.private and reply.attachments:
        return reply.with_parts((*reply.parts, text("slack.files_in_dm", lang)))
    return reply


def _forget(service, req, lang):
    if req.args[:1] == ("confirm",):
        done = service.history.forget_report(req.sender.key)
        key = "forget.done" if done.erased else "forget.erasing"  # the truth about the bytes
        return Reply((), headline=text(key, lang, records=done.records), private=True)
    if req.args[:1] == ("cancel",):
        return Reply((), headline=text("forget.cancelled", lang), private=True)
    return Reply((), headline=text("forget.confirm", lang), private=True,
                 buttons=(Button(text("button.forget.yes", lang), "forget confirm"),
                          Button(text("button.forget.no", lang), "forget cancel")))


def _settings(service, req, lang):
    user = req.sender.key
    changed = False
    fields = {"attach": "attach_embedding", "store": "store_embeddings",
              "float16": "float16_embeddings"}
    if len(req.args) == 2 and req.args[1] in ("on", "off") and req.args[0] in fields:
        field = fields[req.args[0]]
        service.history.set_settings(user, **{field: req.args[1] == "on"})
        changed = True
    s = service.history.get_settings(user)
    on_off = lambda flag: text("word.on" if flag else "word.off", lang)  # noqa: E731
    body = text("cmd.settings", lang, mode=s.granularity, attach=on_off(s.attach_embedding),
                store=on_off(s.store_embeddings), float16=on_off(s.float16_embeddings),
                language=s.language or lang)
    other_mode = "frame" if s.granularity == "utterance" else "utterance"
    buttons = (
        Button(text(f"button.mode.{other_mode}", lang), f"mode {other_mode}"),
        Button(text("button.attach.off" if s.attach_embedding else "button.attach.on", lang),
               f"settings attach {'off' if s.attach_embedding else 'on'}"),
        Button(text("button.store.off" if s.store_embeddings else "button.store.on", lang),
               f"settings store {'off' if s.store_embeddings else 'on'}"),
        Button(text("button.float16.off" if s.float16_embeddings else "button.float16.on", lang),
               f"settings float16 {'off' if s.float16_embeddings else 'on'}"),
        Button(text("button.language.zh" if lang == "en" else "button.language.en", lang),
               "language zh" if lang == "en" else "language en"),
    )
    parts = (text("cmd.settings.changed", lang),) if changed else ()
    return Reply(parts, headline=body, buttons=buttons, private=True)


def _optin(service, req, lang):
    service.history.grant_consent(req.sender.key, f"chat:{req.chat}")
    return Reply((), headline=text("cmd.optin.done", lang))


def _optout(service, req, lang):
    service.history.revoke_consent(req.sender.key, f"chat:{req.chat}")
    return Reply((), headline=text("cmd.optout.done", lang))


def _consent(service, req, lang):
    if req.args[:1] == ("on",):
        if service.settings.privacy.workplace_mode:
            return Reply((), headline=text("privacy.workplace", lang), ok=False, private=True)
        service.history.grant_consent(req.sender.key, "others")
        return Reply((), headline=text("cmd.consent.on", lang), private=True)
    if req.args[:1] == ("off",):
        service.history.revoke_consent(req.sender.key, "others")
        return Reply((), headline=text("cmd.consent.off", lang), private=True)
    return Reply((), headline=text("cmd.consent.usage", lang), ok=False, private=True)


def _auto(service, req, lang):
    if req.args[:1] not in (("on",), ("off",)):
        return Reply((), headline=text("cmd.auto.usage", lang), ok=False, private=True)
    if req.args[0] == "on" and service.settings.privacy.workplace_mode:
        return Reply((), headline=text("privacy.workplace", lang), ok=False, private=True)
    platform = req.chat.split(":", 1)[0]
    service.history.set_channel_setting(platform, req.chat, "auto", req.args[0] == "on",
                                        set_by=req.sender.key)
    return Reply((), headline=text(f"cmd.auto.{req.args[0]}", lang))


def _private(reply: Reply) -> Reply:
    from dataclasses import replace

    return replace(reply, private=True)


def _int_arg(args: tuple[str, ...], default: int) -> int | None:
    if not args:
        return default
    # ASCII only: "²".isdigit() is true but int("²") fails
    return int(args[0]) if args[0].isascii() and args[0].isdigit() else None


HANDLERS = {
    "emotion": _emotion_usage, "start": _start, "help": _help, "privacy": _privacy, "mode": _mode,
    "language": _language,
    "history": _history, "stats": _stats, "trend": _trend, "export": _export, "forget": _forget,
    "settings": _settings, "optin": _optin, "optout": _optout, "consent": _consent, "auto": _auto,
}
