"""The same API on Ray Serve (the ``ray`` extra; the only module that imports Ray).

Each replica holds the project's whole engine (its own exact batcher, ``bot.api.app`` in front),
built from the same settings as ``emotion-bot serve``:

    serve run bot.api.ray_serve:app_builder config=/etc/emotion-bot/config.toml replicas=2

``app_builder(args)`` reads ``config`` (a settings file; the environment applies as usual),
``replicas`` (default 1; or ``min_replicas``/``max_replicas``/``target_ongoing_requests`` to
autoscale), ``gpus`` (GPUs per replica, default 1 when CUDA is visible, else 0),
``max_ongoing_requests`` (per replica, default 32) and ``max_queued_requests`` (default 64; Ray's
own default queue is unbounded). On CPU a replica takes ``num_cpus=1`` and one torch thread.
A request beyond a replica's ``max_ongoing_requests`` waits in Ray's queue; beyond
``max_queued_requests`` Ray's proxy answers 503 (which the remote engine treats as busy); the
engine's own queue and ``[api] max_concurrent`` answer 503 ``busy`` with ``Retry-After``.
"""

from __future__ import annotations

import dataclasses
import logging

from ray import serve

logger = logging.getLogger(__name__)


@serve.ingress()
class EmotionApi:
    """One replica: settings -> model -> engine -> the ASGI app of ``bot.api.app``."""

    def __init__(self, config: str | None = None, cpu_only: bool = True) -> None:
        from bot import settings as settings_mod
        from bot.api.app import build
        from bot.app import engine_config, load_model
        from bot.health import Health
        from bot.inference import LocalInference
        from engine.engine import Engine

        settings = settings_mod.load(config)
        if cpu_only:  # num_cpus=1 per replica: one torch thread
            settings = dataclasses.replace(
                settings, engine=dataclasses.replace(settings.engine, threads=1, device="cpu"))
        model = load_model(settings)
        self.inference = LocalInference(Engine(model, engine_config(settings)), model)
        self.health = Health()
        self.health.checks["engine"] = self.inference.ready
        self._asgi, self._api = build(settings, self.inference, self.health)
        logger.info("replica ready: %s on %s", model.model_id, model.device)

    def __serve_build_asgi_app__(self):
        return self._asgi

    def check_health(self) -> None:  # Ray restarts a replica whose check raises
        if not self.inference.ready():
            raise RuntimeError("engine not ready")


def _cuda_visible() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def app_builder(args: dict):
    """The Serve application (``serve run bot.api.ray_serve:app_builder key=value ...``)."""
    gpus = float(args.get("gpus", 1 if _cuda_visible() else 0))
    actor = {"num_gpus": gpus} if gpus else {"num_cpus": 1}
    if "max_replicas" in args:  # autoscaling on ongoing requests per replica
        scale = {"autoscaling_config": {
            "min_replicas": int(args.get("min_replicas", 1)),
            "max_replicas": int(args["max_replicas"]),
            "target_ongoing_requests": float(args.get("target_ongoing_requests", 8)),
        }}
    else:
        scale = {"num_replicas": int(args.get("replicas", 1))}
    deployment = serve.deployment(EmotionApi).options(
        name="emotion-bot",
        **scale,
        ray_actor_options=actor,
        max_ongoing_requests=int(args.get("max_ongoing_requests", 32)),
        max_queued_requests=int(args.get("max_queued_requests", 64)),
        health_check_period_s=10,
        graceful_shutdown_timeout_s=30,
    )
    return deployment.bind(args.get("config"), not gpus)
