"""The ASGI application of ``emotion-bot serve`` (Starlette).

Routes: ``POST /v1/analyze`` (an audio file, decoded by the bots' own bounded ffmpeg path and speech
gate), ``POST /v1/emotion`` (16 kHz float32 samples), ``GET /v1/info``, and the operator endpoints
``/livez``, ``/readyz`` and ``/metrics``. With a token configured, ``/v1/*`` and ``/metrics`` need
``Authorization: Bearer TOKEN``. The access log names method, path (never the query string),
status and time; never a header.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hmac
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot import audio, metrics
from bot.analyze import result_record
from bot.api import bodies
from bot.api.errors import ApiError, busy_error, for_error, unauthorized
from bot.settings import Settings

logger = logging.getLogger(__name__)
access_log = logging.getLogger("bot.api.access")

API_VERSION = "1"
GRANULARITIES = ("utterance", "frame")
MIN_SAMPLES = 400  # the engine's minimum: one frame (25 ms)
REQUESTS = Counter("emotion_bot_api_requests", "API requests by route and status",
                   ["route", "status"], registry=metrics.REGISTRY)


def limits(settings: Settings):
    """``[audio]`` with the API's own limits where ``[api]`` sets them (0: as in ``[audio]``)."""
    api = settings.api
    return dataclasses.replace(settings.audio,
                               max_file_mb=api.max_file_mb or settings.audio.max_file_mb,
                               max_seconds=api.max_seconds or settings.audio.max_seconds)


class Api:
    """The handlers, over one ``Inference`` and one ``bot.health.Health``."""

    def __init__(self, settings: Settings, inference, health) -> None:
        self.settings = settings
        self.audio = limits(settings)
        self.inference = inference
        self.health = health
        self.token = settings.secrets.emotion_bot_api_token.encode()
        self.max_concurrent = settings.api.max_concurrent
        self.active = 0
        self._decoders = ThreadPoolExecutor(max_workers=max(2, len(os.sched_getaffinity(0))),
                                            thread_name_prefix="api-decode")

    # --- /v1 ----------------------------------------------------------------------------------

    async def analyze(self, request: Request) -> Response:
        granularity, embedding, as_npz = _options(request)
        data, filename = await bodies.upload(request, self.audio.max_file_mb)
        started = time.monotonic()
        try:
            decoded = await asyncio.get_running_loop().run_in_executor(
                self._decoders, functools.partial(audio.decode, data, self.audio))
        finally:
            metrics.DECODE_SECONDS.observe(time.monotonic() - started)
        return await self._answer(decoded, granularity, embedding, as_npz, filename)

    async def emotion(self, request: Request) -> Response:
        granularity, embedding, as_npz = _options(request)
        ctype = request.headers.get("content-type", "")
        max_s = self.audio.max_seconds
        body = await bodies.read(request, int(max_s * bodies.SAMPLE_RATE * 8) + 4096,
                                 lambda n: _too_long(max_s))
        wave = bodies.samples(body, ctype, max_s)
        if len(wave) < MIN_SAMPLES:
            from bot.errors import TooShort
            from bot.messages import describe

            raise ApiError(400, "too_short", describe(
                TooShort(f"{len(wave)} samples", seconds=round(len(wave) / 16000, 3)), "en"))
        decoded = audio.DecodedAudio(wave, len(wave) / bodies.SAMPLE_RATE, (), "samples")
        return await self._answer(decoded, granularity, embedding, as_npz, "")

    async def _answer(self, decoded, granularity, embedding, as_npz, filename) -> Response:
        started = time.monotonic()
        try:
            result = await self.inference.infer(decoded.waveform, granularity)
        except ValueError as exc:
            raise ApiError(400, "bad_samples", f"The samples can't be analysed: {exc}.") from None
        metrics.INFERENCE_SECONDS.observe(time.monotonic() - started)
        metrics.AUDIO_SECONDS.labels("api").inc(decoded.duration_s)
        model = self.inference.model
        record = result_record(Path(filename or "upload"), result, decoded, granularity,
                               model.id, datetime.now(), model.random_weights)
        if not filename:
            del record["source"]
        record["random_weights"] = model.random_weights
        if as_npz:
            return Response(bodies.npz(record, result), media_type=bodies.NPZ)
        if embedding:
            record["embedding"] = [float(x) for x in result.embedding]
        return JSONResponse(record)

    async def info(self, request: Request) -> Response:
        model = self.inference.model
        return JSONResponse({
            "api_version": API_VERSION,
            "model": model.id,
            "labels": list(model.labels),
            "random_weights": model.random_weights,
            "device": model.device,
            "precision": model.precision,
            "limits": {"max_file_mb": self.audio.max_file_mb,
                       "max_seconds": self.audio.max_seconds,
                       "min_seconds": self.audio.min_seconds,
                       "sample_rate": bodies.SAMPLE_RATE},
        })

    # --- operators ------------------------------------------------------------------------------

    async def livez(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(self, request: Request) -> Response:
        ok, detail = await asyncio.to_thread(self.health.ready)
        return PlainTextResponse(detail, status_code=200 if ok else 503)

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    # --- around every request -------------------------------------------------------------------

    def wrap(self, handler, name: str, protected: bool, counted: bool):
        async def endpoint(request: Request) -> Response:
            started = time.monotonic()
            try:
                if protected and self.token and not self._authorized(request):
                    raise unauthorized()
                if counted and self.active >= self.max_concurrent:
                    raise busy_error()
                self.active += counted
                try:
                    response = await handler(request)
                finally:
                    self.active -= counted
            except Exception as exc:  # every failure is an answer, never a traceback
                err = for_error(exc, self.inference.busy)
                response = JSONResponse(err.body(), status_code=err.status, headers=err.headers)
            REQUESTS.labels(name, str(response.status_code)).inc()
            client = request.client.host if request.client else "-"
            access_log.info('%s "%s %s" %d %.1f ms', client, request.method, request.url.path,
                            response.status_code, (time.monotonic() - started) * 1000)
            return response

        return endpoint

    def _authorized(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                  self.token)

    def close(self) -> None:
        self._decoders.shutdown(wait=False, cancel_futures=True)


def build(settings: Settings, inference, health) -> tuple[Starlette, Api]:
    api = Api(settings, inference, health)
    routes = [
        Route("/v1/analyze", api.wrap(api.analyze, "analyze", True, True), methods=["POST"]),
        Route("/v1/emotion", api.wrap(api.emotion, "emotion", True, True), methods=["POST"]),
        Route("/v1/info", api.wrap(api.info, "info", True, False), methods=["GET"]),
        Route("/livez", api.wrap(api.livez, "livez", False, False), methods=["GET"]),
        Route("/readyz", api.wrap(api.readyz, "readyz", False, False), methods=["GET"]),
        Route("/metrics", api.wrap(api.metrics, "metrics", True, False), methods=["GET"]),
    ]
    return Starlette(routes=routes), api


def _options(request: Request) -> tuple[str, bool, bool]:
    """``granularity``, ``embedding`` and whether the caller takes ``.npz``."""
    query = request.query_params
    granularity = query.get("granularity", "utterance")
    if granularity not in GRANULARITIES:
        raise ApiError(400, "bad_request", "granularity must be 'utterance' or 'frame'.")
    flag = query.get("embedding", "false").lower()
    if flag not in ("true", "false", "1", "0"):
        raise ApiError(400, "bad_request", "embedding must be 'true' or 'false'.")
    embedding = flag in ("true", "1")
    as_npz = bodies.NPZ in request.headers.get("accept", "").lower()
    if granularity == "frame" and embedding and not as_npz:
        raise ApiError(406, "npz_required", "Per-frame embeddings are only sent as .npz (T x D "
                       "float32 is about 60 MB for 5 minutes): add 'Accept: application/x-npz'.")
    return granularity, embedding, as_npz


def _too_long(max_seconds: float) -> ApiError:
    from bot.errors import TooLong
    from bot.messages import describe

    return ApiError(413, "too_long", describe(TooLong("", max_seconds=max_seconds), "en"))
