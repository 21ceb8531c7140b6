"""Settings and model files that used to break everything silently, refused at start: the key or
the file named on stderr, exit status 2, through the real command line."""

import dataclasses
from pathlib import Path

import pytest
import torch

from bot import cli
from bot import settings as s
from bot.settings import AudioSettings, EngineSettings

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "03a02Wc.wav"

FLOAT_KEYS = [
    (section, f.name)
    for section, cls in s.SECTIONS.items()
    for f in dataclasses.fields(cls)
    if f.type in ("float", float)
]


def start(tmp_path, capsys, text: str | bytes, *argv):
    cfg = tmp_path / "config.toml"
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    code = cli.main(["--config", str(cfg), *(argv or ("history", "--user", "ann"))])
    return code, capsys.readouterr().err


def test_every_float_key_is_known():
    assert ("audio", "max_seconds") in FLOAT_KEYS and ("engine", "max_wait_ms") in FLOAT_KEYS
    assert len(FLOAT_KEYS) >= 20  # 23 today; more sections add more


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("section,key", FLOAT_KEYS)
def test_nan_and_infinity_are_refused_for_every_float_key(section, key, value):
    with pytest.raises(s.SettingsError) as err:
        s.from_mapping({section: {key: float(value)}})
    assert f"{section}.{key} = {float(value)!r}: expected a finite number" == str(err.value)


def test_nan_from_the_file_and_the_environment_exits_2(tmp_path, capsys, monkeypatch):
    assert (2, "emotion-bot: configuration error: audio.max_seconds = nan: expected a finite "
               "number\n") == start(tmp_path, capsys, "[audio]\nmax_seconds = nan\n")
    monkeypatch.setenv("EMOTION_BOT__AUDIO__MIN_SECONDS", "nan")
    assert (2, "emotion-bot: configuration error: audio.min_seconds = nan: expected a finite "
               "number\n") == start(tmp_path, capsys, "")


@pytest.mark.parametrize("toml,line", [
    ("[audio]\nmin_sample_rate = 48000\nmax_sample_rate = 16000\n",
     "audio.min_sample_rate = 48000 must be at most audio.max_sample_rate = 16000"),
    ("[audio]\nmin_sample_rate = 400000\n",
     "audio.min_sample_rate = 400000 must be at most audio.max_sample_rate = 384000"),
    ("[audio]\nmin_seconds = 30\nmax_seconds = 10\n",
     "audio.min_seconds = 30.0 must be below audio.max_seconds = 10.0"),
    ("[audio]\nsilence_dbfs = -30\n",
     "audio.silence_dbfs = -30.0 must be below audio.quiet_dbfs = -35.0"),
    ("[engine]\ntimeline_hop_s = 2\ntimeline_window_s = 1\n",
     "engine.timeline_hop_s = 2.0 must be at most engine.timeline_window_s = 1.0"),
])
def test_values_out_of_order_are_refused(tmp_path, capsys, toml, line):
    assert (2, f"emotion-bot: configuration error: {line}\n") == start(tmp_path, capsys, toml)


def test_equal_sample_rates_are_allowed():
    cfg = s.from_mapping({"audio": {"min_sample_rate": 16000, "max_sample_rate": 16000}})
    assert (16000, 16000) == (cfg.audio.min_sample_rate, cfg.audio.max_sample_rate)
    assert AudioSettings() == s.from_mapping({}).audio and EngineSettings() == s.Settings().engine


def test_a_config_file_that_is_not_utf8_exits_2(tmp_path, capsys):
    code, err = start(tmp_path, capsys, b'[engine]\nmodel = "caf\xe9"\n')
    assert (2, f"emotion-bot: configuration error: config file {tmp_path}/config.toml is not "
               "UTF-8 text (line 2): save it as UTF-8\n") == (code, err)


def test_a_config_path_that_is_a_folder_exits_2(tmp_path, capsys):
    assert 2 == cli.main(["--config", str(tmp_path), "history", "--user", "ann"])
    assert (f"emotion-bot: configuration error: config file {tmp_path} is a folder, not a "
            "file\n") == capsys.readouterr().err


def test_cuda_with_a_non_ascii_digit_is_refused():
    with pytest.raises(s.SettingsError, match=r"engine.device = 'cuda:²': expected"):
        s.from_mapping({"engine": {"device": "cuda:²"}})


# --- model files, refused before anything runs: `analyze` exits 2 naming the file ---------------


@pytest.fixture
def model_copy(tmp_path, tiny_model_dir):
    target = tmp_path / "model"
    target.mkdir()
    for name in ("config.yaml", "model.pt", "tokens.txt"):
        (target / name).write_bytes((tiny_model_dir / name).read_bytes())
    return target


def analyze_with(tmp_path, capsys, model: Path):
    code, err = start(tmp_path, capsys, f'[engine]\nmodel = "{model}"\ndevice = "cpu"\n',
                      "analyze", str(SAMPLE), "--out", str(tmp_path / "out"))
    return code, err


def test_a_config_yaml_that_is_not_yaml(tmp_path, capsys, model_copy):
    (model_copy / "config.yaml").write_text("model: Emotion2vec\nmodel_conf: [unclosed\n")
    assert (2, f"emotion-bot: cannot load the model: {model_copy}/config.yaml is not a YAML file "
               "(line 3): restore it from the model's download\n") == \
        analyze_with(tmp_path, capsys, model_copy)
    (model_copy / "config.yaml").write_bytes(b"model: Emotion2vec\n\xff\xfe\n")
    assert (2, f"emotion-bot: cannot load the model: {model_copy}/config.yaml is not a YAML file: "
               "restore it from the model's download\n") == \
        analyze_with(tmp_path, capsys, model_copy)


def test_a_config_yaml_without_model_conf(tmp_path, capsys, model_copy):
    (model_copy / "config.yaml").write_text("model: Emotion2vec\ntokenizer: CharTokenizer\n")
    assert (2, f"emotion-bot: cannot load the model: {model_copy}/config.yaml has no model_conf "
               "section: restore it from the model's download\n") == \
        analyze_with(tmp_path, capsys, model_copy)


def test_a_model_pt_holding_a_list(tmp_path, capsys, model_copy):
    torch.save([torch.zeros(2), torch.ones(2)], model_copy / "model.pt")
    assert (2, f"emotion-bot: cannot load the model: {model_copy}/model.pt holds a list, not a "
               "state dict of tensors: it is not an emotion2vec checkpoint\n") == \
        analyze_with(tmp_path, capsys, model_copy)
