"""Catalogue entries for commands, policy refusals and limits (merged into ``bot.messages``)."""

from __future__ import annotations

SERVICE_MESSAGES: dict[str, dict[str, str]] = {
    # --- what the bot is -------------------------------------------------------------------------
    "cmd.start": {
        "en": "Hi! Send me a voice note or an audio file and I'll estimate the emotion in the voice: "
        "the dominant emotion of nine, how sure the model is, a chart of all scores and the "
        "embedding as a .npy file.\n\nWhat I store: for each analysis the time, the scores and "
        "(if you allow it) the embedding — never the audio. See it with /history, download it with "
        "/export, delete all of it with /forget. More in /privacy and /help.",
        "zh": "你好！发送语音消息或音频文件，我会估计声音中的情绪：九种情绪中的主要情绪、模型的把握程度、"
        "所有分数的图表，以及 .npy 格式的嵌入向量。\n\n我保存的内容：每次分析的时间、分数，以及（如果你允许）"
        "嵌入向量——从不保存音频。用 /history 查看，用 /export 下载，用 /forget 全部删除。"
        "更多信息见 /privacy 和 /help。",
    },
    "cmd.help": {
        "en": "Send a voice note or audio file to analyse it.\n{commands}\n\n{groups}",
        "zh": "发送语音消息或音频文件即可分析。\n{commands}\n\n{groups}",
    },
    "cmd.help.telegram": {
        "en": "In groups I only analyse voice notes of members who sent /optin there, or a voice "
        "note you reply to with /emotion if it is your own. With the bot's group privacy mode on "
        "(Telegram's default) I only see commands and replies to me, so /emotion as a reply is the "
        "way to ask; if an admin turns privacy mode off I see every message, but I still analyse "
        "only opted-in members.",
        "zh": "在群组中，我只分析在该群发送过 /optin 的成员的语音，或者你用 /emotion 回复的你自己的语音。"
        "群组隐私模式开启时（Telegram 默认），我只能看到命令和回复我的消息，所以请用 /emotion 回复语音来"
        "请求分析；如果管理员关闭隐私模式，我能看到所有消息，但仍然只分析已同意的成员。",
    },
    "cmd.help.slack": {
        "en": "/emotion analyses your latest audio file in this channel, /emotion <file link> a "
        "given one, and the message shortcut \"Analyse emotion\" the file of that message. I only "
        "analyse audio you uploaded, or someone else's if they ran /emotion consent on. "
        "/emotion auto on analyses every audio file shared in a channel (off by default; everyone "
        "there should know). A Slack workspace is usually a workplace: in the EU, emotion "
        "recognition at work is prohibited.",
        "zh": "/emotion 分析你在此频道最近的音频文件，/emotion <文件链接> 分析指定文件，消息快捷方式"
        "“Analyse emotion”分析该消息的文件。我只分析你上传的音频，或者已运行 /emotion consent on 的人的音频。"
        "/emotion auto on 会分析频道中分享的每个音频文件（默认关闭；频道里的每个人都应知情）。"
        "Slack 工作区通常是工作场所：在欧盟，禁止在工作场所使用情绪识别。",
    },
    "cmd.privacy": {
        "en": "Privacy: I never store audio. For each analysis I keep the time, chat, duration, "
        "scores, model and quality notes, plus the embedding unless you turn that off in "
        "/settings. Only you can see your history; in groups I answer history commands in a "
        "private chat, and send embeddings there too. An analysis of your voice that someone "
        "else asked for (with your consent) is yours as well: it is in your /history and /export, "
        "and /forget deletes it. /export gives you everything, /forget deletes everything. Results are "
        "estimates of how a voice sounds, not judgements of a person. In the EU, emotion "
        "recognition at work and in education is prohibited.",
        "zh": "隐私：我从不保存音频。每次分析我保存时间、聊天、时长、分数、模型和质量提示，以及嵌入向量"
        "（可在 /settings 中关闭）。只有你能看到自己的记录；在群组中，我会在私聊中回答记录相关的命令，"
        "嵌入向量也在私聊中发送。别人（经你同意）请求分析你的声音的结果也属于你：它会出现在你的 /history 和 "
        "/export 中，/forget 会删除它。"
        "/export 导出全部数据，/forget 删除全部数据。结果是对声音听起来如何的估计，而不是对人的评判。"
        "在欧盟，禁止在工作场所和教育中使用情绪识别。",
    },
    "notice.first_use": {
        "en": "First time here: I estimate emotions from the sound of a voice and keep the results "
        "(never the audio) so you can look back. /privacy explains; /forget deletes it all.",
        "zh": "第一次使用：我根据声音估计情绪，并保存结果（从不保存音频）以便你回顾。"
        "/privacy 有说明；/forget 可全部删除。",
    },
    "notice.workplace": {
        "en": "Slack workspaces are usually workplaces: in the EU, emotion recognition at work is "
        "prohibited (AI Act Art. 5(1)(f)), whatever anyone consents to. Use this only outside work.",
        "zh": "Slack 工作区通常是工作场所：在欧盟，无论是否同意，禁止在工作中使用情绪识别"
        "（《人工智能法》第 5(1)(f) 条）。请只在工作之外使用。",
    },
    "cmd.unknown": {
        "en": "I don't know that command. /help lists what I can do.",
        "zh": "我不认识这个命令。/help 列出了我能做的事。",
    },
    "cmd.private_only": {
        "en": "I've sent your answer to you privately, so the group doesn't see your data.",
        "zh": "我已经私下把结果发给你，群里的人看不到你的数据。",
    },
    "cmd.open_private_chat": {
        "en": "Your data is only shown in a private chat. Please open a chat with me and send the "
        "command there.",
        "zh": "你的数据只在私聊中显示。请和我开始私聊，在那里发送这个命令。",
    },
    # --- settings commands -----------------------------------------------------------------------
    "cmd.mode.set": {
        "en": "Mode: {mode}. {explain}",
        "zh": "模式：{mode}。{explain}",
    },
    "cmd.mode.utterance": {
        "en": "Each voice note gets one overall result.",
        "zh": "每条语音给出一个整体结果。",
    },
    "cmd.mode.frame": {
        "en": "Each voice note also gets a timeline of how the emotion changes.",
        "zh": "每条语音还会给出情绪随时间变化的时间线。",
    },
    "cmd.mode.usage": {"en": "Use: mode utterance or mode frame", "zh": "用法：mode utterance 或 mode frame"},
    "cmd.language.set": {"en": "I'll answer you in English.", "zh": "我会用中文回复你。"},
    "cmd.language.usage": {
        "en": "Use: language en or language zh (now: {current}).",
        "zh": "用法：language en 或 language zh（当前：{current}）。",
    },
    "cmd.history.usage": {"en": "Use: history N with N from 1 to 100.", "zh": "用法：history N，N 为 1 到 100。"},
    "cmd.stats.usage": {
        "en": "Use: stats day, week, month or all.",
        "zh": "用法：stats day、week、month 或 all。",
    },
    "cmd.trend.empty": {
        "en": "No analyses in the last 30 days to chart yet.",
        "zh": "最近 30 天还没有可以画图的分析。",
    },
    "cmd.trend.title": {"en": "Your emotions per day, last 30 days.", "zh": "你最近 30 天每天的情绪。"},
    "cmd.settings": {
        "en": "Your settings:\nmode: {mode}\nattach embedding: {attach}\nkeep embeddings in "
        "history: {store}\nfloat16 when an embedding is too big to send: {float16}\n"
        "language: {language}",
        "zh": "你的设置：\n模式：{mode}\n附带嵌入向量：{attach}\n在记录中保存嵌入向量：{store}\n"
        "嵌入向量过大时使用 float16：{float16}\n语言：{language}",
    },
    "cmd.settings.changed": {"en": "Saved.", "zh": "已保存。"},
    "word.on": {"en": "on", "zh": "开"},
    "word.off": {"en": "off", "zh": "关"},
    "button.mode.utterance": {"en": "Mode: utterance", "zh": "模式：整体"},
    "button.mode.frame": {"en": "Mode: frame", "zh": "模式：时间线"},
    "button.attach.on": {"en": "Attach .npy: on", "zh": "附带 .npy：开"},
    "button.attach.off": {"en": "Attach .npy: off", "zh": "附带 .npy：关"},
    "button.store.on": {"en": "Keep embeddings: on", "zh": "保存嵌入：开"},
    "button.store.off": {"en": "Keep embeddings: off", "zh": "保存嵌入：关"},
    "button.float16.on": {"en": "float16 if too big: on", "zh": "过大时用 float16：开"},
    "button.float16.off": {"en": "float16 if too big: off", "zh": "过大时用 float16：关"},
    "button.language.en": {"en": "English", "zh": "English"},
    "button.language.zh": {"en": "中文", "zh": "中文"},
    "button.forget.yes": {"en": "Yes, delete everything", "zh": "是的，全部删除"},
    "button.forget.no": {"en": "Cancel", "zh": "取消"},
    # --- groups, consent, channels -----------------------------------------------------------------
    "cmd.optin.done": {
        "en": "You're opted in: I'll analyse the voice notes you send in this chat. /optout stops it.",
        "zh": "你已同意：我会分析你在这个聊天中发送的语音。/optout 可停止。",
    },
    "cmd.optout.done": {
        "en": "You're opted out: I won't analyse your voice notes here unless you ask with /emotion.",
        "zh": "你已退出：除非你用 /emotion 请求，我不会分析你在这里的语音。",
    },
    "cmd.consent.on": {
        "en": "Others may now ask me to analyse audio you uploaded. /emotion consent off withdraws it.",
        "zh": "其他人现在可以请我分析你上传的音频。/emotion consent off 可撤回。",
    },
    "cmd.consent.off": {
        "en": "Only you can ask me to analyse audio you uploaded.",
        "zh": "只有你可以请我分析你上传的音频。",
    },
    "cmd.consent.usage": {"en": "Use: consent on or consent off", "zh": "用法：consent on 或 consent off"},
    "cmd.auto.on": {
        "en": "Auto mode is on in this channel: audio files shared here get a reply in their thread. "
        "Everyone here should know; /emotion auto off stops it.",
        "zh": "此频道已开启自动模式：在这里分享的音频会在其讨论串中收到回复。请确保这里的每个人都知情；"
        "/emotion auto off 可关闭。",
    },
    "cmd.auto.off": {"en": "Auto mode is off in this channel.", "zh": "此频道已关闭自动模式。"},
    "cmd.auto.usage": {"en": "Use: auto on or auto off", "zh": "用法：auto on 或 auto off"},
    "privacy.workplace": {
        "en": "This installation is in workplace mode: I only analyse your own audio, and automatic "
        "channel analysis is off. In the EU, emotion recognition at work is prohibited.",
        "zh": "本安装处于工作场所模式：我只分析你自己的音频，频道自动分析已关闭。在欧盟，禁止在工作场所使用情绪识别。",
    },
    "privacy.forwarded": {
        "en": "This voice note was forwarded from someone else, so I won't analyse it: a voice "
        "belongs to the person speaking, and they haven't asked. Ask them to send it to me themselves.",
        "zh": "这条语音是从别人那里转发的，所以我不会分析：声音属于说话的人，而他们没有提出请求。请让他们自己发给我。",
    },
    "privacy.not_owner": {
        "en": "This audio was recorded or uploaded by someone else, so I won't analyse it unless they "
        "agree by sending /optin in this chat.",
        "zh": "这段音频是别人录制或上传的，除非对方在此聊天中发送 /optin 表示同意，否则我不会分析。",
    },
    # --- limits, busy, downloads ------------------------------------------------------------------
    "limits.rate": {
        "en": "You're sending faster than I can keep up with. Please wait {seconds} s and try again.",
        "zh": "你发送得太快了。请等 {seconds} 秒再试。",
    },
    "limits.quota": {
        "en": "You've used today's allowance of {minutes} minutes of audio. It resets at midnight UTC.",
        "zh": "你已用完今天 {minutes} 分钟的音频额度，将在 UTC 午夜重置。",
    },
    "delivery.gave_up": {
        "en": "I analysed your recording but couldn't deliver the answer: the chat service kept "
        "refusing my messages for too long. Please send it again.",
        "zh": "我已分析了你的录音，但聊天服务长时间拒绝我的消息，结果无法送达。请重新发送。",
    },
    "job.poison": {
        "en": "I couldn't analyse this recording: it failed {runs} times on our side. "
        "The operator has been told; please try a different recording.",
        "zh": "无法分析这段录音：它在我们这边失败了 {runs} 次。已通知运营者，请换一段录音再试。",
    },
    "engine.busy": {
        "en": "I'm busy with many voice notes right now. Please try again in a minute.",
        "zh": "我现在正在处理很多语音，请一分钟后再试。",
    },
    "engine.unreachable": {
        "en": "The analysis service can't be reached right now. Please try again in a few minutes.",
        "zh": "暂时无法连接分析服务，请过几分钟再试。",
    },
    "fetch.failed": {
        "en": "I couldn't download the file from the chat service. Please send it again.",
        "zh": "无法从聊天服务下载该文件，请重新发送。",
    },
    "fetch.too_big_for_platform": {
        "en": "This file is {size} MB, and bots can only download files up to {limit} MB here. "
        "Please send a shorter recording or a compressed version (a voice note or MP3).",
        "zh": "这个文件有 {size} MB，而机器人在这里只能下载不超过 {limit} MB 的文件。请发送更短的录音或压缩格式（语音消息或 MP3）。",
    },
    "fetch.login_page": {
        "en": "Slack returned a sign-in page instead of the file: the app is missing the files:read "
        "scope or its token is wrong. Please tell whoever installed the app.",
        "zh": "Slack 返回了登录页面而不是文件：应用缺少 files:read 权限或令牌有误。请告知安装该应用的人。",
    },
    "cmd.emotion.usage": {
        "en": "Reply to a voice note or audio file with /emotion and I'll analyse it (your own, or "
        "one whose speaker has opted in with /optin).",
        "zh": "用 /emotion 回复一条语音或音频文件，我就会分析它（你自己的，或已用 /optin 同意的成员的）。",
    },
    "slack.not_in_channel": {
        "en": "I'm not a member of this channel, so I can't reply here. Add me with "
        "/invite @Emotion (or the channel's Integrations tab) and try again.",
        "zh": "我不是这个频道的成员，无法在这里回复。请用 /invite @Emotion 把我加入频道后再试。",
    },
    "slack.missing_scope": {
        "en": "The Slack app lacks the permission {needed}. Please ask whoever installed it to add "
        "that scope and reinstall the app.",
        "zh": "这个 Slack 应用缺少权限 {needed}。请让安装应用的人添加该权限并重新安装。",
    },
    "slack.post_failed": {
        "en": "I analysed the file, but Slack refused to let me post the answer here. Please try "
        "again in a direct message with me.",
        "zh": "我已分析了该文件，但 Slack 不允许我在这里发布结果。请在与我的私信中再试一次。",
    },
    "slack.no_audio": {
        "en": "That message has no audio file to analyse.",
        "zh": "这条消息里没有可以分析的音频文件。",
    },
    "fetch.not_found": {
        "en": "I couldn't find that file. Share an audio file here first, or pass its link or ID.",
        "zh": "找不到该文件。请先在这里分享音频文件，或提供文件链接或 ID。",
    },
}

# What ``bot.core.Core.notice`` names (an adapter asks for a notice, never for a key).
NOTICE_KEYS = {
    "private_sent": "cmd.private_only",
    "open_private_chat": "cmd.open_private_chat",
    "no_audio_in_message": "slack.no_audio",
    "not_in_channel": "slack.not_in_channel",
    "missing_scope": "slack.missing_scope",
    "file_not_found": "fetch.not_found",
    "fetch_failed": "fetch.failed",
    "post_failed": "slack.post_failed",
    "send_audio": "hint.send_audio",  # a private Telegram chat got text, a photo, a sticker
    "no_upload_yet": "slack.no_upload",
    "message_link": "slack.message_link",
}
