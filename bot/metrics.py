"""Prometheus metrics: one registry per process, named once here."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)

REQUESTS = Counter("emotion_bot_requests", "Analysis requests by platform and outcome",
                   ["platform", "outcome"], registry=REGISTRY)
REJECTIONS = Counter("emotion_bot_rejections", "Requests refused, by reason",
                     ["reason"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("emotion_bot_queue_depth", "Clips waiting for the engine", registry=REGISTRY)
BATCH_SIZE = Histogram("emotion_bot_batch_size", "Clips per engine batch",
                       buckets=(1, 2, 4, 8, 16, 32, 64), registry=REGISTRY)
INFERENCE_SECONDS = Histogram("emotion_bot_inference_seconds", "Engine time per clip",
                              buckets=_SECONDS, registry=REGISTRY)
DECODE_SECONDS = Histogram("emotion_bot_decode_seconds", "Audio decode time per file",
                           buckets=_SECONDS, registry=REGISTRY)
END_TO_END_SECONDS = Histogram("emotion_bot_end_to_end_seconds",
                               "From accepted request to reply ready", buckets=_SECONDS,
                               registry=REGISTRY)
AUDIO_SECONDS = Counter("emotion_bot_audio_seconds", "Seconds of audio analysed",
                        ["platform"], registry=REGISTRY)
