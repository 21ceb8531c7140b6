"""Embeddings as files people can download: ``.npy`` float32, or ``.npz`` when a platform's upload
limit demands it.

An utterance embedding is (D,), a frame embedding (T, D). A 300 s frame embedding is about 61 MB of
float32, more than Telegram's 50 MB upload limit: ``pack`` then tries a compressed ``.npz``,
and only when the user asked for it float16; when nothing fits it returns no data and the size,
and the reply says how to get the embedding another way.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np



@dataclass(frozen=True)
class Packed:
    filename: str
    data: bytes | None = field(repr=False)  # None: nothing fits the limit
    mime: str
    size: int  # bytes of ``data``, or of the uncompressed float32 .npy when nothing fits
    compressed: bool = False


def filename(array: np.ndarray, when: datetime, suffix: str = ".npy") -> str:
    """What and when: ``embedding_utterance_1024d_20250102-030405Z.npy``,
    ``embedding_frames_15000x1024_20250102-030405Z.npy``."""
    what = (f"utterance_{array.shape[0]}d" if array.ndim == 1
            else "frames_" + "x".join(str(n) for n in array.shape))
    stamp = when.astimezone(timezone.utc).strftime("%Y%m%d-%H%M%S") + "Z"
    return f"embedding_{what}_{stamp}{suffix}"


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray], dtype=np.float32) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v, dtype=dtype) for k, v in arrays.items()})
    return buf.getvalue()


def pack(array: np.ndarray, when: datetime, limit: int | None = None,
         float16: bool = False) -> Packed:
    """The smallest honest file under ``limit``: .npy float32, else .npz float32, else (on request)
    .npz float16; else no data."""
    array = np.asarray(array, dtype=np.float32)
    data = npy_bytes(array)
    if limit is None or len(data) <= limit:
        return Packed(filename(array, when), data, "application/octet-stream", len(data))
    key = "utterance" if array.ndim == 1 else "frames"
    tries = [(np.float32, ".npz")] + ([(np.float16, "_float16.npz")] if float16 else [])
    for dtype, suffix in tries:
        small = npz_bytes({key: array}, dtype)
        if len(small) <= limit:
            return Packed(filename(array, when, suffix), small, "application/zip", len(small),
                          compressed=True)
    return Packed(filename(array, when), None, "application/octet-stream", len(data))
