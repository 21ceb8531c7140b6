"""The validation machinery of ``bot.settings``: one value against its type and metadata, values
that must come in order, and reading the TOML file. Every refusal is a ``SettingsError`` whose
message names the key (or the file) and what was expected.
"""

from __future__ import annotations

import math
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path


class SettingsError(ValueError):
    """A setting is unknown, of the wrong type or out of range. The message names the key."""


def read_toml(path: Path) -> dict:
    """The file's TOML, or a ``SettingsError`` naming the file and what is wrong with it."""
    if path.is_dir():
        raise SettingsError(f"config file {path} is a folder, not a file")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise SettingsError(f"config file {path} is not UTF-8 text (line {line}): save it as "
                            "UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"config file {path} cannot be read: {exc.strerror}") from None


# (section, lower key, upper key, strict): values that only make sense in this order
ORDERED = (
    ("audio", "min_sample_rate", "max_sample_rate", False),
    ("audio", "min_seconds", "max_seconds", True),
    ("audio", "silence_dbfs", "quiet_dbfs", True),
    ("engine", "timeline_hop_s", "timeline_window_s", False),
)


def check_order(settings) -> None:
    for section, low_key, high_key, strict in ORDERED:
        values = getattr(settings, section)
        low, high = getattr(values, low_key), getattr(values, high_key)
        if low > high or (strict and low == high):
            relation = "below" if strict else "at most"
            raise SettingsError(
                f"{section}.{low_key} = {low!r} must be {relation} {section}.{high_key} = {high!r}"
            )


def validate(name: str, value: object, hint: object, meta: Mapping[str, object]) -> object:
    allowed = typing.get_args(hint) or (hint,)
    value = _coerce(name, value, allowed)
    if isinstance(value, float) and not math.isfinite(value):  # nan passes every comparison
        raise SettingsError(f"{name} = {value!r}: expected a finite number")
    if "choices" in meta and value not in meta["choices"]:
        choices = " | ".join(repr(c) for c in meta["choices"])
        raise SettingsError(f"{name} = {value!r}: expected one of {choices}")
    if "range" in meta and isinstance(value, (int, float)):
        lo, hi = meta["range"]
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise SettingsError(f"{name} = {value!r}: expected a number {bounds}")
    if name == "engine.max_batch_size" and (
        (isinstance(value, str) and value != "auto") or (isinstance(value, int) and value < 1)
    ):
        raise SettingsError(f"{name} = {value!r}: expected \"auto\" or a whole number >= 1")
    if name == "engine.device" and not _valid_device(str(value)):
        raise SettingsError(f'{name} = {value!r}: expected "auto", "cpu", "cuda" or "cuda:N"')
    return value


def _coerce(name: str, value: object, allowed: tuple) -> object:
    for kind in allowed:
        if kind is bool and isinstance(value, bool):
            return value
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
    expected = " or ".join({bool: "true/false", int: "a whole number", float: "a number",
                            str: "a string"}[k] for k in allowed)
    raise SettingsError(f"{name} = {value!r}: expected {expected}")


def _valid_device(device: str) -> bool:
    if device in ("auto", "cpu", "cuda"):
        return True
    head, _, index = device.partition(":")
    return head == "cuda" and index.isascii() and index.isdigit()
