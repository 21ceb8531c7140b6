"""Static checks of Dockerfile, compose.yaml and .dockerignore: they run without Docker.

The image itself was built and run by hand (README "Docker"); these keep its properties from
regressing: tini as PID 1, a HEALTHCHECK that asks `emotion-bot healthcheck`, a dependency layer
keyed on pyproject.toml alone, settings overrides that are real settings, and a compose stop grace
period longer than the drain.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import yaml

from bot import settings as settings_mod

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def of(kind: str) -> list[str]:
    return [args for word, args in instructions() if word == kind]


def image_env() -> dict[str, str]:
    env = {}
    for args in of("ENV"):
        for pair in shlex.split(args):
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_tini_is_pid_1_and_installed_from_debian():
    assert ["tini", "--", "emotion-bot"] == json.loads(of("ENTRYPOINT")[-1])
    installs = [args for args in of("RUN") if "apt-get install" in args]
    assert any(re.search(r"\btini\b", args) for args in installs)
    assert all("--no-install-recommends" in args for args in installs)


def test_the_healthcheck_asks_emotion_bot_with_a_start_period_for_the_first_download():
    (check,) = of("HEALTHCHECK")
    options, _, command = check.partition(" CMD ")
    assert ["emotion-bot", "healthcheck"] == json.loads(command)
    start = re.search(r"--start-period=(\d+)(m|s)", options)
    assert start is not None
    assert int(start.group(1)) * (60 if start.group(2) == "m" else 1) >= 15 * 60


def test_dependencies_are_installed_from_pyproject_alone_before_the_code_is_copied():
    steps = instructions()
    copies = [(i, args) for i, (word, args) in enumerate(steps) if word == "COPY"]
    first_copy, args = copies[0]
    assert "pyproject.toml ./" == args  # the only input of the dependency layer
    deps = next(i for i, (word, a) in enumerate(steps) if word == "RUN" and "-r /tmp/requirements" in a)
    code = [i for i, a in copies if a.split()[0] in ("engine", "bot", "adapters", ".")]
    assert first_copy < deps < min(code)
    (install,) = [a for w, a in steps if w == "RUN" and "pip install --no-deps" in a]
    assert "--no-build-isolation" in install  # a code edit needs no network


def test_every_package_pyproject_installs_is_copied():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {name.rstrip("*") for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {args.split()[0] for args in of("COPY")}
    assert wanted <= copied


def test_it_runs_as_uid_10001_in_data_with_its_volumes():
    assert "10001:10001" == of("USER")[-1]
    assert "/data" == of("WORKDIR")[-1]  # analyze without --out writes /data/outputs
    assert ["/data", "/models"] == json.loads(of("VOLUME")[-1])


def test_the_image_environment_is_valid_settings_that_open_the_listeners():
    env = image_env()
    settings = settings_mod.load(environ=env, cwd=ROOT / "tests")
    assert "0.0.0.0" == settings.server.host
    assert "0.0.0.0" == settings.slack.host
    assert "0.0.0.0" == settings.telegram.webhook_host
    assert "/data/emotion-bot.db" == settings.history.path
    assert "/models" == settings.engine.cache_dir
    for name in ("HOME", "MPLCONFIGDIR", "XDG_CACHE_HOME"):
        assert env[name].startswith("/tmp"), name  # writable for any --user uid


def test_compose_restarts_drains_and_keeps_its_state_in_volumes():
    bot = compose()["services"]["bot"]
    assert "unless-stopped" == bot["restart"]
    assert ["run"] == bot["command"]
    grace = re.fullmatch(r"(\d+)s", bot["stop_grace_period"])
    assert int(grace.group(1)) > settings_mod.ServerSettings().drain_timeout_s
    assert {"models:/models", "data:/data"} == {v.split("#")[0].strip() for v in bot["volumes"]}
    assert {"models", "data"} == set(compose()["volumes"])
    assert set(settings_mod.SECRET_NAMES) == set(bot["environment"])  # passed through, not set
    assert all(p.startswith("127.0.0.1:") for p in bot["ports"])


def test_the_build_context_holds_only_what_the_image_installs():
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert "*" == rules[0]  # everything else (.venv, .git, tests, outputs, *.db) stays out
    assert {"!pyproject.toml", "!README.md", "!LICENSE", "!engine/", "!bot/", "!adapters/"} \
        == {r for r in rules if r.startswith("!")}
