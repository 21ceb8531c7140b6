from pathlib import Path

import pytest

from bot import settings as s


def test_defaults_when_no_file(tmp_path):
    cfg = s.load(None, environ={}, cwd=tmp_path)
    assert "defaults" == cfg.source
    assert "iic/emotion2vec_plus_large" == cfg.engine.model
    assert "modelscope" == cfg.engine.hub
    assert 20.0 == cfg.audio.max_file_mb
    assert 300.0 == cfg.audio.max_seconds


def test_file_precedence_cli_env_cwd(tmp_path):
    (tmp_path / "config.toml").write_text('[engine]\nmodel = "cwd"\n')
    env_file = tmp_path / "env.toml"
    env_file.write_text('[engine]\nmodel = "env"\n')
    cli_file = tmp_path / "cli.toml"
    cli_file.write_text('[engine]\nmodel = "cli"\n')
    env = {"EMOTION_BOT_CONFIG": str(env_file)}
    assert "cli" == s.load(str(cli_file), environ=env, cwd=tmp_path).engine.model
    assert "env" == s.load(None, environ=env, cwd=tmp_path).engine.model
    assert "cwd" == s.load(None, environ={}, cwd=tmp_path).engine.model


def test_environment_overrides_typed_values(tmp_path):
    env = {
        "EMOTION_BOT__ENGINE__MODEL": "/models/e2v",
        "EMOTION_BOT__AUDIO__MAX_SECONDS": "60",
        "EMOTION_BOT__REPLY__ATTACH_EMBEDDING": "false",
    }
    cfg = s.load(None, environ=env, cwd=tmp_path)
    assert "/models/e2v" == cfg.engine.model
    assert 60.0 == cfg.audio.max_seconds
    assert False is cfg.reply.attach_embedding


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[engine]\nmodle = 'x'\n", "unknown key engine.modle"),
        ("[engin]\nmodel = 'x'\n", "unknown section [engin]"),
        ("[audio]\nmax_seconds = 'long'\n", "audio.max_seconds = 'long': expected a number"),
        ("[audio]\nmax_seconds = -1\n", "audio.max_seconds = -1.0: expected a number between 1 and"),
        ("[engine]\nhub = 'github'\n", "engine.hub = 'github': expected one of 'modelscope' | 'huggingface'"),
        ("[engine]\ndevice = 'gpu'\n", "engine.device = 'gpu': expected \"auto\", \"cpu\", \"cuda\" or \"cuda:N\""),
        ("[engine]\nmax_batch_size = 0\n", "engine.max_batch_size = 0: expected \"auto\" or a whole number >= 1"),
        ("[reply]\nattach_embedding = 1\n", "reply.attach_embedding = 1: expected true/false"),
    ],
)
def test_invalid_settings_name_key_and_expectation(tmp_path, toml, message):
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(s.SettingsError) as err:
        s.load(str(path), environ={}, cwd=tmp_path)
    assert message in str(err.value)


def test_secrets_only_from_environment_and_never_in_repr(tmp_path):
    env = {"TELEGRAM_BOT_TOKEN": "123:SECRET", "SLACK_BOT_TOKEN": "xoxb-SECRET"}
    cfg = s.load(None, environ=env, cwd=tmp_path)
    assert "123:SECRET" == cfg.secrets.telegram_bot_token
    assert "SECRET" not in repr(cfg)
    assert "SECRET" not in repr(cfg.secrets)
    path = tmp_path / "c.toml"
    path.write_text("[secrets]\ntelegram_bot_token = 'x'\n")
    with pytest.raises(s.SettingsError, match=r"unknown section \[secrets\]"):
        s.load(str(path), environ={}, cwd=tmp_path)


def test_example_config_documents_every_key_with_its_default():
    import tomllib

    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    data = tomllib.loads(example.read_text())
    defaults = s.Settings()
    for section, cls in s.SECTIONS.items():
        expected = {
            f.name: getattr(getattr(defaults, section), f.name)
            for f in __import__("dataclasses").fields(cls)
        }
        assert expected == data[section], f"[{section}] in config.example.toml"
    assert s.from_mapping(data) == s.Settings()
