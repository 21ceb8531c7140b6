"""Settings: TOML file + environment -> one frozen, validated ``Settings``.

Where settings come from, first match wins for the file:
``--config FILE`` > ``$EMOTION_BOT_CONFIG`` > ``./config.toml`` > built-in defaults. Any key can then be
overridden from the environment as ``EMOTION_BOT__SECTION__KEY``. Secrets (tokens) are read only from
the environment and are never part of the file, a log line or ``repr``.

Every section is a frozen dataclass whose fields are the contract; ``config.example.toml`` documents
each one. Validation names the key and the value it expected.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.settings_checks import SettingsError, check_order, read_toml, validate

from engine.engine import EngineConfig
from engine.loader import ModelSpec

_MODEL, _ENGINE = ModelSpec(), EngineConfig()  # the defaults of the [engine] section
ENV_PREFIX = "EMOTION_BOT__"
CONFIG_ENV = "EMOTION_BOT_CONFIG"
SECRET_NAMES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "EMOTION_BOT_API_TOKEN",
    "EMOTION_BOT_ENGINE_TOKEN",
)


def _check(*allowed: object):
    return {"choices": allowed}


def _range(lo: float | None = None, hi: float | None = None):
    return {"range": (lo, hi)}


@dataclass(frozen=True)
class EngineSettings:
    """The engine's own dataclasses (``ModelSpec``, ``EngineConfig``) hold the defaults; this
    section adds the validation and is split into them by field name (``bot.app``)."""

    model: str = _MODEL.model
    hub: str = field(default=_MODEL.hub, metadata=_check("modelscope", "huggingface"))
    cache_dir: str = _MODEL.cache_dir
    device: str = _MODEL.device
    precision: str = field(default=_MODEL.precision, metadata=_check("auto", "fp32", "bf16"))
    threads: int = field(default=_MODEL.threads, metadata=_range(0, 1024))
    max_batch_size: int | str = _ENGINE.max_batch_size
    max_wait_ms: float = field(default=_ENGINE.max_wait_ms, metadata=_range(0, 10_000))
    max_batch_audio_s: float = field(default=_ENGINE.max_batch_audio_s, metadata=_range(1, None))
    max_queue_clips: int = field(default=_ENGINE.max_queue_clips, metadata=_range(1, None))
    max_queue_audio_s: float = field(default=_ENGINE.max_queue_audio_s, metadata=_range(1, None))
    window_s: float = field(default=_ENGINE.window_s, metadata=_range(1, 600))
    timeline_window_s: float = field(default=_ENGINE.timeline_window_s, metadata=_range(0.1, 30))
    timeline_hop_s: float = field(default=_ENGINE.timeline_hop_s, metadata=_range(0.02, 30))
    hub_timeout_s: float = field(default=_MODEL.hub_timeout_s, metadata=_range(0.1, 300))
    # where inference runs: in this process, or an `emotion-bot serve` reached over HTTP
    backend: str = field(default="local", metadata=_check("local", "remote"))
    url: str = ""
    remote_timeout_s: float = field(default=60.0, metadata=_range(1, 3600))
    connect_timeout_s: float = field(default=5.0, metadata=_range(0.1, 300))
    max_in_flight: int = field(default=16, metadata=_range(1, 4096))


@dataclass(frozen=True)
class AudioSettings:
    max_file_mb: float = field(default=20.0, metadata=_range(0.01, 2048))
    max_seconds: float = field(default=300.0, metadata=_range(1, 36_000))
    min_seconds: float = field(default=0.5, metadata=_range(0.0, 60))
    decode_timeout_s: float = field(default=30.0, metadata=_range(1, 3600))
    download_timeout_s: float = field(default=120.0, metadata=_range(1, 3600))
    min_sample_rate: int = field(default=4000, metadata=_range(1, None))
    max_sample_rate: int = field(default=384_000, metadata=_range(1, None))
    silence_dbfs: float = field(default=-70.0, metadata=_range(-200, 0))
    quiet_dbfs: float = field(default=-35.0, metadata=_range(-200, 0))
    max_gain_db: float = field(default=60.0, metadata=_range(0, 120))
    clipped_fraction: float = field(default=0.01, metadata=_range(0.0, 1.0))
    vad_threshold: float = field(default=0.5, metadata=_range(0.01, 0.99))


@dataclass(frozen=True)
class ReplySettings:
    attach_embedding: bool = True
    low_confidence: float = field(default=0.60, metadata=_range(0.0, 1.0))
    mixed_margin: float = field(default=0.10, metadata=_range(0.0, 1.0))
    language: str = field(default="en", metadata=_check("en", "zh"))


@dataclass(frozen=True)
class HistorySettings:
    path: str = "emotion-bot.db"
    store_embeddings: bool = True
    retention_days: int = field(default=0, metadata=_range(0, None))


@dataclass(frozen=True)
class LimitsSettings:
    requests_per_minute: float = field(default=6.0, metadata=_range(0.0, None))
    burst: int = field(default=3, metadata=_range(1, None))
    daily_audio_seconds: float = field(default=3600.0, metadata=_range(0.0, None))
    # Bytes downloaded plus audio decoded, in MB, that analyses may hold at once; more work
    # waits in the journal (sized for a 2 GB host beside the model).
    in_flight_mb: float = field(default=512.0, metadata=_range(1, None))


@dataclass(frozen=True)
class PrivacySettings:
    allow_forwarded: bool = False
    workplace_mode: bool = False


@dataclass(frozen=True)
class TelegramSettings:
    mode: str = field(default="polling", metadata=_check("polling", "webhook"))
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_host: str = "127.0.0.1"
    webhook_port: int = field(default=8443, metadata=_range(1, 65535))
    webhook_url: str = ""
    max_download_mb: float = field(default=20.0, metadata=_range(0.01, 2048))
    concurrent_updates: int = field(default=32, metadata=_range(1, 1024))
    poll_timeout_s: float = field(default=10.0, metadata=_range(0, 60))


@dataclass(frozen=True)
class SlackSettings:
    mode: str = field(default="http", metadata=_check("http", "socket"))
    host: str = "127.0.0.1"
    port: int = field(default=3000, metadata=_range(1, 65535))
    api_base_url: str = "https://slack.com/api/"


@dataclass(frozen=True)
class ServerSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = field(default=9090, metadata=_range(1, 65535))
    drain_timeout_s: float = field(default=30.0, metadata=_range(0, 3600))
    start_retry_s: float = field(default=300.0, metadata=_range(0, 86_400))
    retry_first_wait_s: float = field(default=1.0, metadata=_range(0.01, 3600))
    retry_max_wait_s: float = field(default=30.0, metadata=_range(0.01, 3600))


@dataclass(frozen=True)
class DeliverySettings:
    """How long the bot keeps trying to deliver an answer (``bot.jobs``)."""

    max_age_s: float = field(default=86_400.0, metadata=_range(1, None))
    max_attempts: int = field(default=50, metadata=_range(1, None))
    first_wait_s: float = field(default=1.0, metadata=_range(0, 3600))
    max_wait_s: float = field(default=600.0, metadata=_range(0, 86_400))
    max_runs: int = field(default=3, metadata=_range(1, 100))


@dataclass(frozen=True)
class ApiSettings:
    """``emotion-bot serve``. The limits of 0 mean "as in [audio]"."""

    host: str = "127.0.0.1"
    port: int = field(default=8000, metadata=_range(0, 65535))
    max_file_mb: float = field(default=0.0, metadata=_range(0, 2048))
    max_seconds: float = field(default=0.0, metadata=_range(0, 36_000))
    max_concurrent: int = field(default=64, metadata=_range(1, 4096))
    drain_timeout_s: float = field(default=30.0, metadata=_range(0, 3600))


@dataclass(frozen=True)
class LoggingSettings:
    level: str = field(default="INFO", metadata=_check("DEBUG", "INFO", "WARNING", "ERROR"))
    format: str = field(default="text", metadata=_check("text", "json"))


@dataclass(frozen=True)
class Secrets:
    """Tokens from the environment only. ``repr`` never shows a value."""

    telegram_bot_token: str = field(default="", repr=False)
    telegram_webhook_secret: str = field(default="", repr=False)
    slack_bot_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    slack_app_token: str = field(default="", repr=False)
    emotion_bot_api_token: str = field(default="", repr=False)  # required by `serve` off loopback
    emotion_bot_engine_token: str = field(default="", repr=False)  # sent to a remote engine

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Secrets:
        return cls(**{name.lower(): environ.get(name, "") for name in SECRET_NAMES})


@dataclass(frozen=True)
class Settings:
    engine: EngineSettings = EngineSettings()
    audio: AudioSettings = AudioSettings()
    reply: ReplySettings = ReplySettings()
    history: HistorySettings = HistorySettings()
    limits: LimitsSettings = LimitsSettings()
    privacy: PrivacySettings = PrivacySettings()
    telegram: TelegramSettings = TelegramSettings()
    slack: SlackSettings = SlackSettings()
    server: ServerSettings = ServerSettings()
    delivery: DeliverySettings = DeliverySettings()
    api: ApiSettings = ApiSettings()
    logging: LoggingSettings = LoggingSettings()
    secrets: Secrets = field(default=Secrets(), repr=False)
    source: str = "defaults"  # which file the settings came from, for messages


SECTIONS: dict[str, type] = {
    f.name: f.type if isinstance(f.type, type) else typing.get_type_hints(Settings)[f.name]
    for f in dataclasses.fields(Settings)
    if f.name not in ("secrets", "source")
}


def find_config(cli_path: str | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    if cli_path:
        return Path(cli_path)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    local = cwd / "config.toml"
    return local if local.is_file() else None


def load(
    cli_path: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Read, merge and validate settings. Raises ``SettingsError`` naming the offending key."""
    environ = os.environ if environ is None else environ
    path = find_config(cli_path, environ, cwd or Path.cwd())
    raw: dict[str, dict[str, object]] = {}
    if path is not None:
        raw = read_toml(path)
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX):
            section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
            if not key:
                raise SettingsError(f"{name}: expected {ENV_PREFIX}SECTION__KEY")
            raw.setdefault(section, {})[key] = _parse_env_value(value)
    return from_mapping(raw, Secrets.from_environ(environ), str(path) if path else "defaults")


def from_mapping(
    raw: Mapping[str, object], secrets: Secrets = Secrets(), source: str = "defaults"
) -> Settings:
    sections = {}
    for section, values in raw.items():
        if section not in SECTIONS:
            raise SettingsError(
                f"unknown section [{section}]; expected one of: {', '.join(SECTIONS)}"
            )
        if not isinstance(values, Mapping):
            raise SettingsError(f"[{section}] must be a table of keys")
        sections[section] = _build_section(section, SECTIONS[section], values)
    settings = Settings(**sections, secrets=secrets, source=source)
    check_order(settings)
    from bot.settings_network import check_remote

    check_remote(settings.engine)
    return settings


def _parse_env_value(value: str) -> object:
    """Environment values are TOML literals when they parse as one (``5``, ``true``), else strings."""
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _build_section(section: str, cls: type, values: Mapping[str, object]):
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            raise SettingsError(
                f"unknown key {section}.{key}; expected one of: {', '.join(fields)}"
            )
        kwargs[key] = validate(f"{section}.{key}", value, hints[key], fields[key].metadata)
    return cls(**kwargs)
