"""Slack policy and failure paths end to end: signatures, consent, workplace mode, a missing
channel membership or scope, a sign-in page instead of the file, size limits, history isolation."""

from __future__ import annotations

import time

from tests.adapters.test_slack import (
    SHARE_TS, VOICE, command, event, responses, run, slack_app, wait)


def test_bad_or_stale_signature_is_refused(fake, tmp_path, tiny_model):
    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            wrong = await post(command("help", fake=fake), secret="not-the-secret")
            stale = await post(command("help", fake=fake), timestamp=int(time.time()) - 600)
            good = await post(command("help", fake=fake))
            await responses(fake)
            return wrong.status_code, stale.status_code, good.status_code

    assert (401, 401, 200) == run(scenario())
    assert 1 == len([r for r in fake.records if r.path.startswith("/respond/")])


def test_someone_elses_file_needs_the_owners_consent(fake, tmp_path, tiny_model):
    fake.add_file("F0AUDIO04", VOICE, user="U1", channel="C1")

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            await post(command("F0AUDIO04", user="U2", fake=fake))
            refusal = (await responses(fake))[0].params
            await post(command("consent on", user="U1", fake=fake))
            await responses(fake, 2)
            link = "<https://example.slack.com/files/U1/F0AUDIO04/clip.ogg>"
            await post(command(link, user="U2", fake=fake))
            return refusal, (await wait(fake, "/api/chat.postMessage"))[0].params

    refusal, message = run(scenario())
    assert "ephemeral" == refusal["response_type"]
    assert "uploaded by someone else" in refusal["text"]
    assert ("C1", SHARE_TS) == (message["channel"], message["thread_ts"])
    assert 1 == len(fake.calls("/files/F0AUDIO04/download"))  # only after consent


def test_workplace_mode_refuses_others_audio_and_auto_mode(fake, tmp_path, tiny_model):
    fake.add_file("F0AUDIO05", VOICE, user="U1", channel="C1")

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model,
                             privacy={"workplace_mode": True}) as post:
            await post(command("auto on", user="U1", fake=fake))
            await post(command("F0AUDIO05", user="U2", fake=fake))
            return [r.params for r in await responses(fake, 2)]

    texts = [r["text"] for r in run(scenario())]
    assert 2 == sum("workplace mode" in t for t in texts)
    assert [] == fake.calls("/files/F0AUDIO05/download")


def test_not_in_channel_and_missing_scope_become_ephemeral_explanations(fake, tmp_path,
                                                                        tiny_model):
    fake.add_file("F0AUDIO06", VOICE, user="U1", channel="C9")
    fake.not_in_channel.add("C9")

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            await post(command("F0AUDIO06", user="U1", channel="C9", fake=fake))
            first = (await responses(fake))[0].params
            fake.missing_scope["files.info"] = "files:read"
            await post(command("F0AUDIO06", user="U1", channel="C9", fake=fake))
            return first, (await responses(fake, 2))[1].params

    not_in_channel, missing = run(scenario())
    assert "ephemeral" == not_in_channel["response_type"]
    assert "not a member of this channel" in not_in_channel["text"]
    assert "lacks the permission files:read" in missing["text"]


def test_html_instead_of_the_file_means_scope_or_token(fake, tmp_path, tiny_model):
    fake.add_file("F0AUDIO07", VOICE, user="U1", channel="C1")
    fake.file_token = "xoxb-some-other-token"

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            await post(command("F0AUDIO07", fake=fake))
            return (await responses(fake))[0].params

    reply = run(scenario())
    assert "sign-in page instead of the file" in reply["text"]
    assert [] == fake.calls("/api/chat.postMessage")


def test_declared_size_over_the_limit_is_refused_without_downloading(fake, tmp_path, tiny_model):
    fake.add_file("F0AUDIO08", VOICE, user="U1", channel="C1", size=500 * 1024 * 1024)

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            await post(command("F0AUDIO08", fake=fake))
            return (await responses(fake))[0].params

    assert "too big" in run(scenario())["text"]
    assert [] == fake.calls("/files/F0AUDIO08/download")


def test_history_is_isolated_across_users_and_workspaces(fake, tmp_path, tiny_model):
    fake.add_file("F0AUDIO09", VOICE, user="U1", channel="C1")
    fake.add_file("F0AUDIO10", VOICE, user="U1", channel="C1")

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            for team in ("T1", "T2"):
                await post(command("auto on", team=team, fake=fake))
            await responses(fake, 2)
            # the same user id in events of two workspaces: two different people
            await post(event("Ev5", team="T1", files=("F0AUDIO09",)), "application/json")
            await post(event("Ev6", team="T2", files=("F0AUDIO10",)), "application/json")
            await wait(fake, "/api/chat.postMessage", 2)
            texts = []
            for n, (user, team) in enumerate((("U1", "T1"), ("U1", "T2"), ("U2", "T1"))):
                await post(command("history", user=user, team=team, fake=fake))
                texts.append((await responses(fake, 3 + n))[2 + n].params["text"])
            return texts

    t1_u1, t2_u1, t1_u2 = run(scenario())
    assert "Your last 1 analysis" in t1_u1
    assert "Your last 1 analysis" in t2_u1
    assert "No analyses recorded yet." in t1_u2
