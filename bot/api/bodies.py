"""Request bodies in, ``.npz`` answers out. Every read is bounded before it is buffered."""

from __future__ import annotations

import io
import json

import numpy as np

from bot import errors
from bot.api.errors import ApiError, bad_samples
from bot.messages import describe

NPZ = "application/x-npz"
SAMPLE_RATE = 16000
MULTIPART_SLACK = 64 * 1024  # multipart headers and boundaries around the file field
# Samples are in [-1, 1], but float decoders overshoot full scale on loud speech (measured on the
# bundled samples: AMR-NB 1.22, AAC 1.14, Opus 1.002), and the bots send what they decoded.
# So up to +6 dB over full scale passes; beyond that (1e30, int16 values as floats) is refused.
MAX_ABS = 2.0


def too_large(size: int, max_mb: float) -> ApiError:
    err = errors.TooLarge(f"{size} bytes", size_mb=round(size / 1024 / 1024, 1), max_mb=max_mb)
    return ApiError(413, "too_large", describe(err, "en"))


async def read(request, cap: int, over) -> bytes:
    """The body, or ``over(size)`` raised once it (or its Content-Length) passes ``cap`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise over(int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise over(size)
        chunks.append(chunk)
    return b"".join(chunks)


async def upload(request, max_mb: float) -> tuple[bytes, str]:
    """The audio file of ``POST /v1/analyze`` and its name: the body as is, or the ``file``
    field of a ``multipart/form-data`` body."""
    from starlette.requests import Request

    cap = int(max_mb * 1024 * 1024)
    ctype = request.headers.get("content-type", "").lower()
    if not ctype.startswith("multipart/form-data"):
        return await read(request, cap, lambda n: too_large(n, max_mb)), ""
    body = await read(request, cap + MULTIPART_SLACK, lambda n: too_large(n, max_mb))
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=16,
                                                         max_part_size=cap + 1)
    except Exception as exc:  # starlette's MultiPartException and parser errors
        raise ApiError(400, "bad_request", f"The multipart body can't be read ({exc}).") from None
    try:
        part = form.get("file")
        if part is None or isinstance(part, str):
            raise ApiError(400, "bad_request", "A multipart/form-data body needs the audio in a "
                           "file field named 'file'.")
        data = await part.read()
    finally:
        await form.close()  # the spooled temporary file
    if len(data) > cap:
        raise too_large(len(data), max_mb)
    return data, part.filename or ""


def samples(body: bytes, content_type: str, max_seconds: float) -> np.ndarray:
    """``POST /v1/emotion``'s body -> float32 samples, finite, peak at most ``MAX_ABS``
    (raises ``ApiError``)."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/octet-stream":
        if len(body) % 4:
            raise bad_samples(f"{len(body)} bytes is not a whole number of float32 samples")
        wave = np.frombuffer(body, dtype="<f4")
    elif ctype == "application/x-npy":
        try:
            wave = np.load(io.BytesIO(body), allow_pickle=False)
        except Exception:  # a .npy that numpy can't read, or one holding Python objects
            raise bad_samples("the body is not a readable .npy array") from None
        if wave.ndim != 1 or not np.issubdtype(wave.dtype, np.floating):
            raise bad_samples(f"expected a 1-D float array, got {wave.ndim}-D {wave.dtype}")
    else:
        raise ApiError(415, "unsupported_media_type", "Send the samples as "
                       "application/octet-stream (float32 little-endian) or application/x-npy.")
    if len(wave) > max_seconds * SAMPLE_RATE:
        err = errors.TooLong(f"{len(wave)} samples", max_seconds=max_seconds)
        raise ApiError(413, "too_long", describe(err, "en"))
    if not np.isfinite(wave).all():
        raise bad_samples("some samples are NaN or infinite")
    peak = float(np.abs(wave).max()) if len(wave) else 0.0
    if peak > MAX_ABS:
        raise bad_samples(f"the peak is {peak:.3g}, far outside [-1, 1]")
    return np.array(wave, dtype=np.float32)  # a writable copy (torch wants one)


def npz(record: dict, result) -> bytes:
    """The ``.npz`` answer: ``record`` (the JSON, UTF-8 as uint8), ``scores``, ``embedding`` and,
    in frame mode, ``frames`` (T x D float32)."""
    arrays = {
        "record": np.frombuffer(json.dumps(record, ensure_ascii=False).encode("utf-8"),
                                dtype=np.uint8),
        "scores": np.asarray(result.scores, dtype=np.float32),
        "embedding": np.asarray(result.embedding, dtype=np.float32),
    }
    if result.frames is not None:
        arrays["frames"] = np.asarray(result.frames, dtype=np.float32)
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()
