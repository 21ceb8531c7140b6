"""Checks across keys, for the network settings: where audio may go, and who may ask for it."""

from __future__ import annotations

from bot.settings import EngineSettings, Settings, SettingsError


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    import ipaddress

    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_remote(engine: EngineSettings) -> None:
    """A remote engine needs a URL, and plain HTTP only where nothing leaves this machine."""
    from urllib.parse import urlsplit

    if engine.backend != "remote":
        return
    if not engine.url:
        raise SettingsError('engine.backend = "remote" needs engine.url, the address of an '
                            '`emotion-bot serve` (e.g. "http://127.0.0.1:8000")')
    parts = urlsplit(engine.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"engine.url = {engine.url!r}: expected http(s)://HOST[:PORT]")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise SettingsError(f"engine.url = {engine.url!r}: plain http to another machine would "
                            "send audio and the token unencrypted; use https:// (e.g. behind a "
                            "TLS-terminating proxy) or a loopback address")


def check_serve(settings: Settings) -> None:
    """``serve`` off loopback must require a token. Raises ``SettingsError``."""
    if not is_loopback(settings.api.host) and not settings.secrets.emotion_bot_api_token:
        raise SettingsError(f"api.host = {settings.api.host!r} is reachable from other machines: "
                            "set EMOTION_BOT_API_TOKEN (any long random string) so only callers "
                            "with it are served, or keep api.host = \"127.0.0.1\"")
