"""Catalogue entries for whose voice it is, shared rooms and the answers nothing used to get
(merged into ``bot.messages``)."""

from __future__ import annotations

SPEAKER_MESSAGES: dict[str, dict[str, str]] = {
    # --- shared identities (bot.service.SHARED_IDENTITIES) ---------------------------------------
    "privacy.shared_sender": {
        "en": "You're posting under a shared Telegram identity (as an anonymous group admin or as "
        "the linked channel). Many people share it, so I can't tell whose voice it is or keep "
        "anyone's data apart, and I won't analyse or store anything for it. Ask from your own "
        "account (turn off \"Remain anonymous\" in your admin rights).",
        "zh": "你正在以共享的 Telegram 身份发言（匿名群管理员或关联频道）。很多人共用这个身份，"
        "我无法分辨是谁的声音，也无法把各人的数据分开，所以不会为它分析或保存任何内容。"
        "请用你自己的账号来请求（在管理员权限中关闭“保持匿名”）。",
    },
    "privacy.shared_speaker": {
        "en": "This recording was posted under a shared Telegram identity (an anonymous group "
        "admin or a linked channel), so I can't tell whose voice it is and won't analyse it.",
        "zh": "这段录音是以共享的 Telegram 身份发布的（匿名群管理员或关联频道），"
        "我无法分辨是谁的声音，所以不会分析它。",
    },
    "privacy.not_owner.slack": {
        "en": "This audio was uploaded by someone else, so I won't analyse it unless they agree by "
        "running /emotion consent on.",
        "zh": "这段音频是别人上传的，除非对方运行 /emotion consent on 表示同意，否则我不会分析。",
    },
    # --- files that stay out of shared rooms (bot.reply.Aside) -----------------------------------
    "aside.heading": {
        "en": "The embedding of the recording you asked me to analyse in a group. Only you get "
        "this file.",
        "zh": "这是你在群组中请我分析的录音的嵌入向量。只有你会收到这个文件。",
    },
    "aside.sent": {
        "en": "I've sent you the embedding file in our private chat, not to everyone here.",
        "zh": "我已在私聊中把嵌入向量文件发给你，而不是发给这里的所有人。",
    },
    "aside.sent.slack": {
        "en": "The embedding file went to your direct message with the app, not to everyone here.",
        "zh": "嵌入向量文件已发到你与本应用的私信中，而不是发给这里的所有人。",
    },
    "aside.missed": {
        "en": "The embedding file is only sent privately, and you haven't opened a chat with me "
        "yet: open one (tap my name, then Start) and ask again to get it.",
        "zh": "嵌入向量文件只会私下发送，而你还没有和我开始私聊：请先打开私聊（点我的名字，再点“开始”），"
        "然后再请求一次。",
    },
    "slack.files_in_dm": {
        "en": "The files are in your direct message with the app.",
        "zh": "文件已发到你与本应用的私信中。",
    },
    # --- answers instead of silence or a wrong hint (bot.core.NOTICES) ---------------------------
    "hint.send_audio": {
        "en": "I only listen to voices: send me a voice note, an audio file or a video with sound. "
        "/help shows everything I can do.",
        "zh": "我只听声音：请发送语音消息、音频文件或带声音的视频。/help 列出了我能做的一切。",
    },
    "slack.no_upload": {
        "en": "You haven't uploaded an audio file in this channel yet: upload an audio file first, "
        "then run /emotion (or pass a file's link or ID).",
        "zh": "你还没有在这个频道上传音频文件：请先上传音频文件，然后再运行 /emotion"
        "（或提供文件链接或 ID）。",
    },
    "slack.message_link": {
        "en": "That is a link to a Slack message, not to a file, and I don't read channel "
        "history. Use the message shortcut \"Analyse emotion\" (⋯ on the message), or paste the "
        "file's own link (⋯ on the file, then Copy link).",
        "zh": "这是 Slack 消息的链接，不是文件链接，而我不读取频道历史。请在该消息上使用消息快捷方式"
        "“Analyse emotion”（消息上的 ⋯），或粘贴文件本身的链接（文件上的 ⋯，再点“复制链接”）。",
    },
}
