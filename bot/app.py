"""The composition root: the only place that sees settings, engine and product together."""

from __future__ import annotations

import logging

from bot.settings import Settings

logger = logging.getLogger(__name__)


def model_spec(settings: Settings):
    from engine.loader import ModelSpec

    e = settings.engine
    return ModelSpec(
        model=e.model,
        hub=e.hub,
        cache_dir=e.cache_dir,
        device=e.device,
        precision=e.precision,
        threads=e.threads,
        hub_timeout_s=e.hub_timeout_s,
    )


def load_model(settings: Settings):
    """Load the configured model (raises ``engine.loader.ModelLoadError`` with a clear message)."""
    from engine.loader import load_model as _load

    return _load(model_spec(settings))
