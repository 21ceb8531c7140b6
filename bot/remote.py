"""The remote engine: the ``Inference`` protocol over HTTP to an ``emotion-bot serve``.

It learns the model (id, labels, random weights) from ``GET /v1/info`` when it connects, and sends
each waveform to ``POST /v1/emotion`` as float32 little-endian samples, asking for the ``.npz``
answer (scores, embedding and, in frame mode, the per-frame features). Errors, as ``bot.inference``
defines them:

- a connection error (refused, reset, dropped) or a 500/502/504 is retried once, then raises
  ``Unreachable``; so do a 404 (no API at that address), a 401 (token refused) and a read timeout
  (``remote_timeout_s``; not retried: the work may still be running);
- 503 and 429 raise ``RemoteBusy`` (one of ``busy``), as does a call beyond ``max_in_flight``;
- 400 and 413 (the samples were refused) raise ``ValueError`` with the service's detail.

Samples are sent as decoded; beyond ±2 (the API's bound, see ``bot.api.bodies.MAX_ABS``) they are
clipped there, where the in-process engine would still accept them.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from urllib.parse import urlsplit

import numpy as np

from bot.inference import ModelInfo, Unreachable

logger = logging.getLogger(__name__)

RETRIED_STATUS = (500, 502, 504)
RETRY_DELAY_S = 0.5
NPZ = "application/x-npz"
MAX_ABS = 2.0  # the API refuses samples beyond this (bot.api.bodies.MAX_ABS)


class RemoteBusy(RuntimeError):
    """The analysis service (or this client's ``max_in_flight``) is full; try again later."""


def _where(url: str) -> str:
    """The service's address for messages: scheme, host and port only (never credentials)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


class RemoteInference:
    busy = (RemoteBusy,)

    def __init__(self, url: str, token: str = "", *, timeout_s: float = 60.0,
                 connect_timeout_s: float = 5.0, max_in_flight: int = 16,
                 transport=None, retry_delay_s: float = RETRY_DELAY_S) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.where = _where(self.url)
        self.model = ModelInfo(id="", labels=(), random_weights=False)
        self.info: dict = {}
        self.max_in_flight = max_in_flight
        self.retry_delay_s = retry_delay_s
        self._in_flight = 0
        self._counts = {"requests": 0, "retries": 0, "unreachable": 0, "busy": 0}
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._client = httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=self._timeout, transport=transport,
            limits=httpx.Limits(max_connections=max_in_flight,
                                max_keepalive_connections=max_in_flight))
        self._probe_headers = headers

    @classmethod
    def from_settings(cls, settings, **kwargs) -> RemoteInference:
        e = settings.engine
        return cls(e.url, settings.secrets.emotion_bot_engine_token, timeout_s=e.remote_timeout_s,
                   connect_timeout_s=e.connect_timeout_s, max_in_flight=e.max_in_flight, **kwargs)

    async def connect(self) -> RemoteInference:
        """Ask the service what it runs. Raises ``Unreachable`` saying what to check."""
        response = await self._request("GET", "/v1/info")
        try:
            info = response.json()
            self.model = ModelInfo(id=str(info["model"]), labels=tuple(info["labels"]),
                                   random_weights=bool(info["random_weights"]),
                                   device=str(info.get("device", "")),
                                   precision=str(info.get("precision", "")))
        except (ValueError, KeyError, TypeError):
            raise Unreachable(f"{self.where}/v1/info did not answer like emotion-bot serve: "
                              "check [engine] url") from None
        self.info = info
        logger.info("remote engine at %s: %s (%s, %s)", self.where, self.model.id,
                    self.model.device or "?", self.model.precision or "?")
        return self

    async def infer(self, waveform: np.ndarray, granularity: str):
        from engine.types import ClipResult

        wave = np.asarray(waveform)
        if wave.ndim != 1 or not np.issubdtype(wave.dtype, np.floating):
            raise ValueError("need a 1-D floating-point waveform")
        if not np.isfinite(wave).all():
            raise ValueError("the waveform must hold finite floating-point samples")
        body = np.clip(wave, -MAX_ABS, MAX_ABS).astype("<f4", copy=False).tobytes()
        if self._in_flight >= self.max_in_flight:
            self._counts["busy"] += 1
            raise RemoteBusy(f"{self._in_flight} requests in flight to {self.where}")
        self._in_flight += 1
        try:
            response = await self._request(
                "POST", "/v1/emotion", content=body,
                params={"granularity": granularity, "embedding": "true"},
                headers={"Content-Type": "application/octet-stream", "Accept": NPZ})
        finally:
            self._in_flight -= 1
        return _clip_result(response.content, granularity, ClipResult)

    async def _request(self, method: str, path: str, **kwargs):
        import httpx

        self._counts["requests"] += 1
        for attempt in (1, 2):
            try:
                response = await self._client.request(method, path, **kwargs)
            except httpx.TimeoutException as exc:
                if isinstance(exc, httpx.ConnectTimeout) and attempt == 1:
                    await self._retry(path, "connect timeout")
                    continue
                self._counts["unreachable"] += 1
                what = ("did not accept a connection within "
                        f"{self._timeout.connect:g} s") if isinstance(exc, httpx.ConnectTimeout) \
                    else f"did not answer within {self._timeout.read:g} s"
                raise Unreachable(f"the analysis service at {self.where} {what}") from None
            except httpx.TransportError as exc:
                if attempt == 1:
                    await self._retry(path, type(exc).__name__)
                    continue
                self._counts["unreachable"] += 1
                raise Unreachable(f"cannot connect to the analysis service at {self.where} "
                                  f"({_reason(exc)}): is `emotion-bot serve` running there? "
                                  "Check [engine] url") from None
            if response.status_code in RETRIED_STATUS and attempt == 1:
                await self._retry(path, f"HTTP {response.status_code}")
                continue
            return self._check(response, path)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _retry(self, path: str, why: str) -> None:
        self._counts["retries"] += 1
        logger.warning("remote engine %s%s: %s; retrying once", self.where, path, why)
        await asyncio.sleep(self.retry_delay_s)

    def _check(self, response, path: str):
        status = response.status_code
        if status == 200:
            return response
        error, detail = _error_of(response)
        if status in (429, 503):
            self._counts["busy"] += 1
            raise RemoteBusy(f"{self.where} is busy ({status} {error})")
        if status in (400, 413, 415):
            raise ValueError(f"the analysis service refused the samples: {error}: {detail}")
        self._counts["unreachable"] += 1
        if status == 401:
            raise Unreachable(f"the analysis service at {self.where} refused the token: set "
                              "EMOTION_BOT_ENGINE_TOKEN to its EMOTION_BOT_API_TOKEN")
        if status == 404:
            raise Unreachable(f"{self.where}{path} does not exist (404): is [engine] url the "
                              "address of `emotion-bot serve`?")
        raise Unreachable(f"the analysis service at {self.where} failed ({status} {error})")

    def ready(self) -> bool:
        """Whether the service answers its ``/readyz`` (for this process's own readiness)."""
        import httpx

        try:
            return httpx.get(f"{self.url}/readyz", timeout=min(2.0, self._timeout.connect)
                             ).status_code == 200
        except httpx.HTTPError:
            return False

    def stats(self) -> dict:
        return {"in_flight": self._in_flight, **self._counts}

    async def close(self) -> None:
        await self._client.aclose()


def _reason(exc) -> str:
    text = str(exc) or type(exc).__name__
    return text.split("] ", 1)[-1] if text.startswith("[Errno") else text


def _error_of(response) -> tuple[str, str]:
    try:
        body = response.json()
        return str(body.get("error", "")), str(body.get("detail", ""))
    except (ValueError, AttributeError):
        return "", ""


def _clip_result(content: bytes, granularity: str, cls):
    """The ``.npz`` answer -> ``ClipResult`` (scores and labels from the record, in its order)."""
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as npz:
            record = json.loads(bytes(npz["record"]).decode("utf-8"))
            embedding = np.asarray(npz["embedding"], dtype=np.float32)
            scores = np.asarray(npz["scores"], dtype=np.float32)
            frames = np.asarray(npz["frames"], dtype=np.float32) if "frames" in npz else None
    except (ValueError, KeyError, OSError) as exc:
        raise Unreachable(f"the analysis service sent an unreadable answer ({exc})") from None
    labels = tuple(record["scores"])
    timeline = _timeline(record.get("timeline")) if granularity == "frame" else None
    return cls(labels=labels, scores=scores, embedding=embedding, frames=frames,
               timeline=timeline)


def _timeline(data: dict | None):
    if not data:
        return None
    from engine.timeline import Timeline

    return Timeline(times_s=np.asarray(data["times_s"], dtype=np.float64),
                    window_s=float(data["window_s"]), hop_s=float(data["hop_s"]),
                    probs=np.asarray(data["probabilities"], dtype=np.float32),
                    labels=tuple(data["labels"]))
