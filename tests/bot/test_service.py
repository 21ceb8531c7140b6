"""The product core end to end on the tiny model: policy, limits, errors, history commands."""

from __future__ import annotations

import asyncio

import numpy as np

from bot.messages import text
from bot.requests import AudioRequest, CommandRequest, FetchError, Sender
from tests.bot.conftest import Busy
from tests.conftest import SAMPLES

VOICE = (SAMPLES / "03a02Wc__telegram_voice.oga").read_bytes()
ANA = Sender("telegram:1", "telegram", "en")
BO = Sender("telegram:2", "telegram", "zh-hans")
GROUP = "telegram:-100"


class Fetch:
    def __init__(self, data: bytes = VOICE, error: FetchError | None = None) -> None:
        self.data, self.error, self.calls = data, error, []

    async def __call__(self, max_bytes: int) -> bytes:
        self.calls.append(max_bytes)
        if self.error:
            raise self.error
        return self.data


def request(sender=ANA, fetch=None, **kw) -> AudioRequest:
    kw.setdefault("chat", f"telegram:{sender.key.split(':')[1]}")
    return AudioRequest(sender=sender, ref=f"r{id(kw)}", fetch=fetch or Fetch(), **kw)


def run(coro):
    return asyncio.run(coro)


def test_voice_note_gets_chart_embedding_and_is_recorded(make_service):
    service = make_service()
    reply = run(service.analyze(request()))
    assert True is reply.ok
    top = max(service.history.history(ANA.key, 1)[0]["scores"].items(), key=lambda kv: kv[1])[0]
    assert f" {top} " in reply.headline
    assert top == reply.mono.splitlines()[0].split()[0]  # the chart starts with the dominant emotion
    [npy] = [a for a in reply.attachments if a.kind == "embedding"]
    assert npy.filename.endswith(".npy")
    assert text("notice.first_use", "en") == reply.parts[-1]  # shown once
    second = run(service.analyze(request()))
    assert text("notice.first_use", "en") not in second.parts
    assert 2 == len(service.history.history(ANA.key, 10))


def test_language_follows_the_platform(make_service):
    service = make_service()
    reply = run(service.analyze(request(sender=BO)))
    assert text("reply.caveat", "zh") in reply.parts


def test_forwarded_voice_of_someone_else_is_refused_without_download(make_service):
    service = make_service()
    fetch = Fetch()
    reply = run(service.analyze(request(fetch=fetch, forwarded=True, owner=BO.key)))
    assert (False, text("privacy.forwarded", "en")) == (reply.ok, reply.headline)
    assert [] == fetch.calls
    assert [] == service.history.history(ANA.key)


def test_forwarded_own_voice_is_analysed(make_service):
    reply = run(make_service().analyze(request(forwarded=True, owner=ANA.key)))
    assert True is reply.ok


def test_someone_elses_audio_needs_their_consent(make_service):
    service = make_service()
    reply = run(service.analyze(request(owner=BO.key, chat=GROUP, group=True)))
    assert text("privacy.not_owner", "en") == reply.headline
    run(service.command(CommandRequest(BO, GROUP, "optin", private=False)))
    assert True is run(service.analyze(request(owner=BO.key, chat=GROUP, group=True))).ok


def test_workplace_mode_allows_only_own_audio(make_service):
    service = make_service(privacy={"workplace_mode": True})
    service.history.grant_consent(BO.key, "others")
    reply = run(service.analyze(request(owner=BO.key, chat=GROUP, group=True)))
    assert text("privacy.workplace", "en") == reply.headline


def test_group_voice_notes_only_of_members_who_opted_in(make_service):
    service = make_service()
    fetch = Fetch()
    assert None is run(service.analyze(request(fetch=fetch, chat=GROUP, group=True, explicit=False)))
    assert [] == fetch.calls
    optin = run(service.command(CommandRequest(ANA, GROUP, "optin", private=False)))
    assert text("cmd.optin.done", "en") == optin.headline
    assert True is run(service.analyze(request(chat=GROUP, group=True, explicit=False))).ok
    run(service.command(CommandRequest(ANA, GROUP, "optout", private=False)))
    assert None is run(service.analyze(request(chat=GROUP, group=True, explicit=False)))


def test_sizes_are_checked_before_downloading(make_service):
    service = make_service()
    fetch = Fetch()
    big = run(service.analyze(request(fetch=fetch, declared_size=25 * 1024 * 1024,
                                      max_download_bytes=20 * 1024 * 1024)))
    assert text("fetch.too_big_for_platform", "en", size="25", limit="20") == big.headline
    huge = run(service.analyze(request(fetch=fetch, declared_size=30 * 1024 * 1024)))
    assert "too big (30.0 MB); I accept up to 20 MB" in huge.headline
    assert [] == fetch.calls
    run(service.analyze(request(fetch=fetch, declared_size=len(VOICE),
                                max_download_bytes=20 * 1024 * 1024)))
    assert [20 * 1024 * 1024] == fetch.calls  # the cap travels with the download


def test_hostile_file_and_failed_download_get_clear_messages(make_service):
    service = make_service()
    png = run(service.analyze(request(fetch=Fetch(b"\x89PNG\r\n\x1a\n" + b"\0" * 2000))))
    assert False is png.ok
    assert "Traceback" not in png.headline and png.headline
    failed = run(service.analyze(request(fetch=Fetch(error=FetchError("fetch.failed")))))
    assert text("fetch.failed", "en") == failed.headline
    assert [] == service.history.history(ANA.key)


def test_rate_limit_and_busy_engine(make_service):
    service = make_service(limits={"requests_per_minute": 1, "burst": 1, "daily_audio_seconds": 0})
    from bot.limits import Limiter

    service.limiter = Limiter(1, 1, 0, clock=lambda: 0.0)  # a slow analysis must not count
    assert True is run(service.analyze(request())).ok
    refused = run(service.analyze(request()))
    assert text("limits.rate", "en", seconds=60) == refused.headline

    async def busy(waveform, granularity):
        raise Busy()

    busy_service = make_service(infer=busy)
    assert text("engine.busy", "en") == run(busy_service.analyze(request())).headline


def test_history_forget_and_isolation_in_one_group(make_service):
    service = make_service()
    for sender in (ANA, ANA, BO):
        run(service.analyze(request(sender=sender, chat=GROUP, group=True)))
    mine = run(service.command(CommandRequest(ANA, GROUP, "history", private=False)))
    assert True is mine.private
    assert text("history.title", "en", n=2) == mine.headline
    assert 2 == len(mine.mono.splitlines())
    ask = run(service.command(CommandRequest(ANA, GROUP, "forget")))
    assert ["forget confirm", "forget cancel"] == [b.action for b in ask.buttons]
    assert 2 == len(service.history.history(ANA.key))  # nothing deleted before confirming
    done = run(service.command(CommandRequest(ANA, GROUP, "forget", ("confirm",))))
    assert text("forget.done", "en", records=2) == done.headline
    assert [] == service.history.history(ANA.key)
    assert 1 == len(service.history.history(BO.key))


def test_settings_and_mode_commands(make_service):
    service = make_service()
    run(service.command(CommandRequest(ANA, ANA.key, "mode", ("frame",))))
    reply = run(service.analyze(request()))
    [png] = [a for a in reply.attachments if a.kind == "chart"]
    assert png.data.startswith(b"\x89PNG")
    [npy] = [a for a in reply.attachments if a.kind == "embedding"]
    assert "frames_" in npy.filename
    shown = run(service.command(CommandRequest(ANA, ANA.key, "settings", ("attach", "off"))))
    assert "attach embedding: off" in shown.headline
    assert "settings attach on" in [b.action for b in shown.buttons]
    reply = run(service.analyze(request()))
    assert [] == [a for a in reply.attachments if a.kind == "embedding"]
    unknown = run(service.command(CommandRequest(ANA, ANA.key, "dance")))
    assert text("cmd.unknown", "en") == unknown.headline


def test_every_command_has_help_text_in_both_languages(make_service):
    from bot.commands import COMMANDS, DESCRIPTIONS_ZH, HANDLERS

    assert set(COMMANDS) == set(DESCRIPTIONS_ZH)
    assert set(COMMANDS) <= set(HANDLERS)
    service = make_service()
    names = [name for name, _ in service.command_list("slack", "en")]
    assert "optin" not in names and "history" in names
    assert np.all([bool(about) for _, about in service.command_list("telegram", "zh")])


def test_help_explains_each_platforms_rules(make_service):
    service = make_service()
    telegram = run(service.command(CommandRequest(ANA, ANA.key, "help")))
    assert "/optin — groups: analyse my voice notes here" in telegram.headline
    assert "privacy mode" in telegram.headline
    slack_user = Sender("slack:T1:U1", "slack")
    slack = run(service.command(CommandRequest(slack_user, "slack:T1:C1", "help")))
    assert "/consent — on|off: let others analyse audio you uploaded" in slack.headline
    assert "/optin" not in slack.headline
    assert "in the EU, emotion recognition at work is prohibited" in slack.headline


def test_embedding_too_big_for_the_platform_is_halved_on_request(make_service):
    service = make_service()
    run(service.command(CommandRequest(ANA, ANA.key, "mode", ("frame",))))
    small = request(max_upload_bytes=8_000)  # a (99, 32) float32 frame embedding is ~12.8 kB
    reply = run(service.analyze(small))
    assert [] == [a for a in reply.attachments if a.kind == "embedding"]
    assert any("export" in part for part in reply.parts)  # says how to get it another way
    shown = run(service.command(CommandRequest(ANA, ANA.key, "settings", ("float16", "on"))))
    assert "float16 when an embedding is too big to send: on" in shown.headline
    reply = run(service.analyze(request(max_upload_bytes=8_000)))
    [npz] = [a for a in reply.attachments if a.kind == "embedding"]
    assert npz.filename.endswith("_float16.npz") and npz.size <= 8_000


def test_logs_name_users_only_by_salted_hash(make_service, caplog):
    from bot.logs import user_ref

    service = make_service()
    with caplog.at_level("INFO", logger="bot.service"):
        run(service.analyze(request()))
    assert f"telegram analysis for {user_ref(ANA.key)}: ok in " in caplog.text
    assert ANA.key not in caplog.text
