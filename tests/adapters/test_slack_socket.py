"""Slack Socket Mode end to end: apps.connections.open with the xapp- token on the fake Web API,
a fake WebSocket endpoint delivering a slash command, the real Service answering it; and a button
press over HTTP coming back as a command."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

from adapters import slack
from tests.adapters.fake_slack import FakeSlack, FakeSocket
from tests.adapters.test_slack import (
    real_service, responses, settings_for, slack_app)


def test_socket_mode_command_is_acked_and_answered(tmp_path, tiny_model):
    fake_api, socket = FakeSlack(), FakeSocket()
    fake_api.ws_url = socket.url
    socket.outbox.append({
        "envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
        "payload": {"command": "/emotion", "text": "history", "user_id": "U1", "team_id": "T1",
                    "channel_id": "C1", "response_url": f"{fake_api.url}/respond/socket"}})
    settings = settings_for(fake_api, tmp_path, mode="socket")

    async def scenario():
        async with real_service(settings, tiny_model) as service:
            stop = asyncio.Event()
            task = asyncio.create_task(slack.serve(settings, service, stop))
            ack = await asyncio.to_thread(socket.wait_ack)
            answer = (await responses(fake_api))[0].params
            stop.set()
            await asyncio.wait_for(task, 30)
            return ack, answer

    try:
        ack, answer = asyncio.run(scenario())
    finally:
        socket.close()
        fake_api.close()
    assert "env-1" == ack["envelope_id"]
    assert "ephemeral" == answer["response_type"]
    assert "No analyses recorded yet." in answer["text"]
    opened = fake_api.calls("/api/apps.connections.open")[0]
    assert f"Bearer {fake_api.app_token}" == opened.headers["authorization"]


def test_a_button_press_comes_back_as_its_command(fake, tmp_path, tiny_model):  # noqa: F811
    def press(value: str) -> str:
        return urlencode({"payload": json.dumps({
            "type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1", "team_id": "T1"},
            "channel": {"id": "C1"}, "response_url": f"{fake.url}/respond/button",
            "actions": [{"action_id": slack.BUTTON_PREFIX + "0", "value": value}]})})

    async def scenario():
        async with slack_app(fake, tmp_path, tiny_model) as post:
            await post(urlencode({"command": "/emotion", "text": "forget", "user_id": "U1",
                                  "team_id": "T1", "channel_id": "C1",
                                  "response_url": f"{fake.url}/respond/cmd"}))
            prompt = (await responses(fake))[0].params
            await post(press(prompt["blocks"][-1]["elements"][1]["value"]))
            return prompt, (await responses(fake, 2))[1].params

    prompt, done = asyncio.run(scenario())
    buttons = prompt["blocks"][-1]["elements"]
    assert ["forget confirm", "forget cancel"] == [b["value"] for b in buttons]
    assert "ephemeral" == done["response_type"]
    assert "Nothing was deleted." == done["text"]
