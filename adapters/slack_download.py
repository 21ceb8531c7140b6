"""Slack file downloads: ``url_private_download`` with the bot token, capped in bytes and time."""

from __future__ import annotations

import asyncio

import httpx

from bot.requests import FetchError


def downloader(url: str | None, token: str, timeout_s: float = 60.0, total_s: float = 120.0):
    """``fetch(max_bytes)`` for ``url_private_download``: Bearer auth, a byte cap while streaming,
    ``total_s`` for the whole download, and an HTML body (Slack's sign-in page: missing
    files:read or a bad token) as a clear error."""

    async def fetch(max_bytes: int) -> bytes:
        try:
            async with asyncio.timeout(total_s):
                return await _fetch(max_bytes)
        except TimeoutError:
            raise FetchError("fetch.failed", f"download: over {total_s:g} s") from None

    async def _fetch(max_bytes: int) -> bytes:
        if not url:
            raise FetchError("fetch.not_found", "the file has no download URL")
        chunks, size = [], 0
        try:
            async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as http:
                headers = {"Authorization": f"Bearer {token}"}
                async with http.stream("GET", url, headers=headers) as resp:
                    if resp.status_code == 404:
                        raise FetchError("fetch.not_found", "HTTP 404")
                    if resp.status_code != 200:
                        raise FetchError("fetch.failed", f"HTTP {resp.status_code}")
                    if "text/html" in resp.headers.get("content-type", ""):
                        raise FetchError("fetch.login_page", "HTML instead of the file")
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise FetchError("audio.too_large", f"more than {max_bytes} bytes",
                                             size_mb=f"> {max_bytes / 1048576:.1f}",
                                             max_mb=max_bytes / 1048576)
                        chunks.append(chunk)
        except httpx.HTTPError as err:
            raise FetchError("fetch.failed", type(err).__name__) from None
        data = b"".join(chunks)
        if data[:64].lstrip().lower().startswith((b"<!doctype html", b"<html")):
            raise FetchError("fetch.login_page", "HTML instead of the file")
        return data

    return fetch
