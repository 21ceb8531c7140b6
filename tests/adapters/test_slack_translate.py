"""The pure halves of the Slack adapter with literal data: payload -> request, reply -> calls."""

from __future__ import annotations

from adapters import slack
from adapters.slack_render import Call, Target, escape, mrkdwn, plan, slack_commands
from bot.reply import Attachment, Button, Reply

NPY = Attachment("emotion.npy", b"\x93NUMPY", "application/octet-stream", "embedding")


def test_command_text_is_a_file_or_a_command():
    assert ("analyse", ()) == slack.parse_command("  ")
    assert ("analyse", ("F0123ABCD",)) == slack.parse_command("F0123ABCD")
    link = "<https://acme.slack.com/files/U01ABC/F0123ABCD/voice.m4a|voice.m4a>"
    assert ("analyse", ("F0123ABCD",)) == slack.parse_command(link)
    assert ("history", ("5",)) == slack.parse_command("History 5")
    assert ("auto", ("on",)) == slack.parse_command("auto on")
    assert None is slack.file_id_from("https://acme.slack.com/archives/C01/p1700000000")


def test_keys_carry_the_workspace_and_the_users_own_workspace():
    body = {"team_id": "T1", "user_id": "U1", "channel_id": "C1", "response_url": "https://r"}
    origin = slack.from_command(body)
    assert ("slack:T1:U1", "slack:T1:C1", "channel") == (origin.sender.key, origin.chat,
                                                         origin.channel_type)
    shared = slack.from_event("T1", {"user": "U9", "user_team": "T2", "channel": "C1",
                                     "channel_type": "channel", "ts": "1.1"})
    assert ("slack:T2:U9", "slack:T1:C1", "1.1") == (shared.sender.key, shared.chat,
                                                     shared.thread_ts)
    dm = slack.from_command({**body, "channel_id": "D1"})
    assert "im" == dm.channel_type


def test_audio_request_names_the_uploader_as_owner():
    origin = slack.Origin("T1", "T1", "U2", "C1", "channel", "1.1")
    file = {"id": "F0AUDIO01", "user": "U1", "size": 1234, "duration_ms": 2500}
    req = slack.audio_request(origin, file, None, explicit=True, kind="command")
    assert ("slack:T1:U2", "slack:T1:U1") == (req.sender.key, req.owner)
    assert ("slack:T1:F0AUDIO01:command", 1234, 2.5, True, True) == (
        req.ref, req.declared_size, req.declared_duration_s, req.explicit, req.group)
    own = slack.audio_request(slack.Origin("T1", "T2", "U1", "D1", "im"), file, None, False,
                              "auto")
    assert ("slack:T2:U1", "slack:T2:U1", False) == (own.sender.key, own.owner, own.group)


def test_audio_files_and_their_thread():
    assert [True, True, False] == [slack.is_audio(f) for f in (
        {"mimetype": "audio/webm"}, {"filetype": "m4a", "mimetype": "video/mp4"},
        {"mimetype": "image/png", "filetype": "png"})]
    file = {"shares": {"private": {"G1": [{"ts": "5.5", "thread_ts": "4.4"}]},
                       "public": {"C1": [{"ts": "3.3"}]}}}
    assert ("3.3", "4.4", None) == (slack.thread_of(file, "C1"), slack.thread_of(file, "G1"),
                                    slack.thread_of(file, "C2"))


def test_text_is_escaped_and_commands_become_subcommands():
    assert "a &lt;b&gt; &amp; c" == escape("a <b> & c")
    assert "/emotion privacy explains; /emotion forget deletes" == slack_commands(
        "/privacy explains; /forget deletes")
    assert "see https://x/forget" == slack_commands("see https://x/forget")
    reply = Reply(("p1 <x>",), "bar  ##", headline="Happy")
    assert "Happy\n\n```\nbar  ##\n```\n\np1 &lt;x&gt;" == mrkdwn(reply)


def test_a_result_goes_to_the_thread_and_its_files_too():
    target = Target("C1", "U1", "1.1")
    calls = plan(Reply(("p",), headline="h", attachments=(NPY,)), target)
    assert ["post", "upload"] == [c.kind for c in calls]
    assert {"channel": "C1", "thread_ts": "1.1", "text": "h\n\np"} == calls[0].kwargs
    upload = calls[1].kwargs
    assert ("C1", "1.1", "emotion.npy") == (upload["channel"], upload["thread_ts"],
                                            upload["file_uploads"][0]["filename"])


def test_refusals_and_personal_data_go_to_the_requester_alone():
    target = Target("C1", "U1", "1.1")
    assert [Call("ephemeral", {"channel": "C1", "user": "U1", "text": "no"})] == plan(
        Reply((), headline="no", ok=False), target)
    export = plan(Reply((), headline="yours", attachments=(NPY,), private=True), target)
    assert ["ephemeral", "dm_upload"] == [c.kind for c in export]
    assert "U1" == export[1].kwargs["user"]
    assert ["ephemeral"] == [c.kind for c in plan(Reply((), headline="set"), target,
                                                  public=False)]


def test_buttons_become_block_kit_actions_carrying_the_command():
    reply = Reply((), headline="Delete?", buttons=(Button("Yes", "forget confirm"),
                                                   Button("No", "forget cancel")))
    blocks = plan(reply, Target("C1", "U1"))[0].kwargs["blocks"]
    assert {"type": "section", "text": {"type": "mrkdwn", "text": "Delete?"}} == blocks[0]
    assert [("emotion_button_0", "forget confirm"), ("emotion_button_1", "forget cancel")] == [
        (e["action_id"], e["value"]) for e in blocks[1]["elements"]]


def test_the_manifest_matches_what_the_app_listens_for():
    import yaml

    from tests.conftest import ROOT

    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yaml").read_text())
    features, settings = manifest["features"], manifest["settings"]
    assert ["/emotion"] == [c["command"] for c in features["slash_commands"]]
    assert [("message", slack.SHORTCUT)] == [(s["type"], s["callback_id"])
                                            for s in features["shortcuts"]]
    assert {"message.channels", "message.groups", "message.im", "message.mpim"} == set(
        settings["event_subscriptions"]["bot_events"])
    assert {"commands", "chat:write", "files:read", "files:write", "im:write"} <= set(
        manifest["oauth_config"]["scopes"]["bot"])
    urls = {c["url"] for c in features["slash_commands"]} | {
        settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]}
    assert {"https://YOUR-HOST" + slack.EVENTS_PATH} == urls
