"""A platform-neutral reply, and the one function that builds it from an analysis result.

A ``Reply`` is what every platform shows, in order: ``headline`` (one line), ``mono`` (a monospace
block), ``parts`` (plain-text paragraphs), then ``attachments`` (files). Adapters only translate it:
escape the text for their markup, put ``mono`` in a code block, upload the files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from bot import charts, embeddings, render
from bot.messages import text

KINDS = ("embedding", "chart", "export")


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes = field(repr=False)
    mime: str
    kind: str  # one of KINDS

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"attachment kind must be one of {KINDS}, not {self.kind!r}")

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Button:
    """A choice the user can tap; ``action`` comes back as a command ("forget confirm")."""

    label: str
    action: str


@dataclass(frozen=True)
class Aside:
    """Files for the requester alone, out of a shared room (a voice embedding is personal):
    ``files`` go to their private chat, introduced by ``heading``; the room's message ends with
    ``sent``, or with ``missed`` when their private chat can't be reached."""

    files: tuple[Attachment, ...]
    heading: str
    sent: str
    missed: str


@dataclass(frozen=True)
class Reply:
    parts: tuple[str, ...] = ()
    mono: str | None = None
    attachments: tuple[Attachment, ...] = ()
    headline: str = ""
    buttons: tuple[Button, ...] = ()
    private: bool = False  # personal data: show it to the requester alone
    ok: bool = True  # False for refusals and failures
    aside: Aside | None = None  # files for the requester's private chat (shown by in_room)

    def with_parts(self, parts: tuple[str, ...]) -> Reply:
        return replace(self, parts=tuple(parts))

    def set_aside(self, kinds: tuple[str, ...], heading: str, sent: str, missed: str) -> Reply:
        """Move the attachments of ``kinds`` aside, for the requester alone (none: unchanged)."""
        files = tuple(a for a in self.attachments if a.kind in kinds)
        if not files:
            return self
        rest = tuple(a for a in self.attachments if a.kind not in kinds)
        return replace(self, attachments=rest, aside=Aside(files, heading, sent, missed))

    def in_room(self, reached: bool = True) -> Reply:
        """What the shared room sees: everything but the files aside, and the line saying
        where they went (``reached``) or why they could not."""
        if self.aside is None:
            return self
        line = self.aside.sent if reached else self.aside.missed
        return replace(self, parts=(*self.parts, line), aside=None)

    def privately(self) -> Reply | None:
        """The files aside as a reply for the requester's private chat (None: there are none)."""
        if self.aside is None:
            return None
        return Reply((), headline=self.aside.heading, attachments=self.aside.files, private=True)

    def plain(self) -> str:
        """The whole reply as plain text (CLI, logs of tests): headline, mono block, paragraphs."""
        blocks = [self.headline, self.mono or "", *self.parts]
        return "\n\n".join(b for b in blocks if b)


@dataclass(frozen=True)
class ReplyOptions:
    """How one user wants one result told. Built by the caller from settings + the user's row."""

    lang: str = "en"
    low_confidence: float = 0.6
    mixed_margin: float = 0.1
    attach_embedding: bool = True
    upload_limit: int | None = None  # bytes the platform accepts per file; None: no limit
    float16: bool = False  # the user asked for half-precision embeddings when they must shrink
    now: datetime | None = None  # names the embedding file; default: the current UTC time


def for_result(result, notes: Iterable = (), options: ReplyOptions = ReplyOptions()) -> Reply:
    """A ``ClipResult`` (utterance or frame) -> the reply every platform shows."""
    o = options
    title, mono, parts = render.utterance_text(
        result.score_map(), o.lang, o.low_confidence, o.mixed_margin, notes
    )
    attachments: list[Attachment] = []
    timeline = getattr(result, "timeline", None)
    if timeline is not None and len(timeline.probs):
        mono = mono + "\n\n" + render.timeline_strip(timeline, o.lang)
        parts = render.timeline_text(timeline, o.lang) + parts
        attachments.append(Attachment("timeline.png", charts.timeline_png(timeline),
                                      "image/png", "chart"))
    if o.attach_embedding:
        array = result.frames if result.frames is not None else result.embedding
        if array is not None:
            when = o.now or datetime.now(timezone.utc)
            packed = embeddings.pack(array, when, o.upload_limit, o.float16)
            if packed.data is None:
                parts.insert(-1, text("embedding.too_large", o.lang,
                                             size=_mb(packed.size), limit=_mb(o.upload_limit)))
            else:
                attachments.append(Attachment(packed.filename, packed.data, packed.mime,
                                              "embedding"))
                if packed.compressed:
                    parts.insert(-1, text("embedding.compressed", o.lang,
                                                 name=packed.filename))
    return Reply(tuple(parts), mono, tuple(attachments), title)


def _mb(size: int | None) -> str:
    return f"{(size or 0) / 1e6:.0f}"


def history_reply(rows: list[dict], lang: str = "en") -> Reply:
    if not rows:
        return Reply((text("history.empty", lang),))
    return Reply((), render.history_block(rows), (), text("history.title", lang, n=len(rows)))


def stats_reply(stats, png: bytes | None = None, lang: str = "en") -> Reply:
    parts, mono = render.stats_text(stats, lang)
    files = (Attachment("trend.png", png, "image/png", "chart"),) if png and stats.count else ()
    return Reply(tuple(parts[1:]), mono, files, parts[0])


def export_reply(files: dict[str, bytes], count: int, stored: int, lang: str = "en") -> Reply:
    """``files``: name -> bytes, as ``History.export_files`` returns them."""
    mimes = {".csv": "text/csv", ".json": "application/json", ".npz": "application/octet-stream"}
    attachments = tuple(
        Attachment(name, data, mimes.get(name[name.rfind("."):], "application/octet-stream"),
                   "export")
        for name, data in files.items()
    )
    return Reply((), None, attachments,
                 text("export.done", lang, count=count, embeddings=stored))
