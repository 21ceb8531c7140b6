"""What ffprobe says about a file, and running ffmpeg/ffprobe safely. Used by ``bot.audio`` only.

``run`` starts a process from an argument list (never a shell), reads at most ``max_out`` bytes of
its output and a bounded head of its stderr, and kills it at the deadline.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bot import errors

STDERR_CAP = 64 << 10
_IMAGE_CODECS = {"png", "mjpeg", "bmp", "gif", "webp", "tiff", "jpegls", "jpeg2000", "ppm", "pgm"}
_AUDIO_MAGIC = (b"OggS", b"RIFF", b"fLaC", b"ID3", b"#!AMR", b"\x1aE\xdf\xa3", b"FORM", b"caff")


@dataclass(frozen=True)
class Stream:
    index: int
    codec: str
    sample_rate: int
    channels: int
    default: bool


def probe_failure(path: Path, err: str) -> errors.AudioError:
    with open(path, "rb") as fh:
        head = fh.read(16)
    looks_like_audio = head.startswith(_AUDIO_MAGIC) or head[4:8] == b"ftyp"
    detail = f"ffprobe: {first_line(err)}"
    if not looks_like_audio:
        return errors.NotAudio(detail)
    if "end of file" in err.lower():
        return errors.NoAudio(detail)
    return errors.Corrupt(detail)


def audio_streams(info: dict) -> list[Stream]:
    found = []
    for s in info.get("streams") or []:
        if s.get("codec_type") != "audio":
            continue
        found.append(Stream(
            index=int(s.get("index", 0)),
            codec=str(s.get("codec_name") or ""),
            sample_rate=_int(s.get("sample_rate")),
            channels=_int(s.get("channels")),
            default=bool((s.get("disposition") or {}).get("default")),
        ))  # fmt: skip
    return found


def kind(info: dict) -> str:
    streams = info.get("streams") or []
    fmt = str((info.get("format") or {}).get("format_name") or "")
    video = [s for s in streams if s.get("codec_type") == "video"]
    if fmt.endswith("_pipe") or any(s.get("codec_name") in _IMAGE_CODECS for s in video):
        return "image"
    if video:
        return "video"
    if any(s.get("codec_type") == "subtitle" for s in streams) or fmt in ("tty", "lrc"):
        return "text"
    return ""


def format_name(info: dict) -> str:
    names = str((info.get("format") or {}).get("format_name") or "unknown").split(",")
    return "mp4" if "mp4" in names else names[0]


def is_encrypted(path: Path, fmt: str) -> bool:
    """MP4 Common Encryption: ffprobe reports plain AAC, only the sample entry boxes tell."""
    if fmt != "mp4":
        return False
    seen: set[bytes] = set()
    wanted = (b"enca", b"encv", b"tenc", b"schm")
    with open(path, "rb") as fh:
        tail = b""
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            window = tail + chunk
            seen.update(box for box in wanted if box in window)
            tail = window[-3:]
    return bool(seen & {b"enca", b"encv"}) and bool(seen & {b"tenc", b"schm"})


# --- processes ------------------------------------------------------------------------------------


def run(args: list[str], deadline: float, max_out: int) -> tuple[int, bytes, str]:
    """Run a process with no shell; return (rc, stdout up to ``max_out`` bytes, stderr head).

    The process is killed at ``deadline`` (raising ``DecodeTimeout``) or once stdout passes
    ``max_out`` bytes. Memory stays bounded whatever the process writes.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise errors.DecodeTimeout("no time left before starting " + os.path.basename(args[0]))
    try:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise errors.DecoderMissing(f"cannot run {args[0]}: {exc.strerror}") from None
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(remaining, expire)
    err_chunks: list[bytes] = []
    err_thread = threading.Thread(target=_drain, args=(proc.stderr, err_chunks, STDERR_CAP))
    timer.start()
    err_thread.start()
    try:
        out = bytearray()
        while len(out) <= max_out:
            chunk = proc.stdout.read1(1 << 16)
            if not chunk:
                break
            out += chunk
        if len(out) > max_out:
            proc.kill()
            del out[max_out:]
        rc = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err_thread.join()
        proc.stdout.close()
        proc.stderr.close()
    if timed_out.is_set():
        name = os.path.basename(args[0])
        raise errors.DecodeTimeout(f"{name} killed after the deadline", seconds=round(remaining, 1))
    return rc, bytes(out), b"".join(err_chunks).decode("utf-8", "replace")


def _drain(stream, chunks: list[bytes], cap: int) -> None:
    kept = 0
    for chunk in iter(lambda: stream.read1(1 << 14), b""):
        if kept < cap:
            chunks.append(chunk[: cap - kept])
            kept += len(chunks[-1])


def url(path: Path) -> str:
    # "file:" stops ffmpeg reading a name as another protocol ("http:", "concat:") or an option ("-x")
    return "file:" + os.fspath(Path(path).resolve())


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]

