"""A ``Reply`` as bytes and back, to keep an analysed answer in the job journal until it is
delivered (so a restart in the middle of a delivery sends the same parts, without analysing and
recording the file again). Attachments travel as raw bytes after a JSON header; no pickle.
"""

from __future__ import annotations

import dataclasses
import json

from bot.reply import Aside, Attachment, Button, Reply

NESTED = {cls.__name__: cls for cls in (Aside, Button)}  # plain dataclasses inside a Reply


def dump(reply: Reply) -> bytes:
    blobs: list[bytes] = []

    def encode(value):
        if isinstance(value, Attachment):
            blobs.append(value.data)
            return {"attachment": [value.filename, value.mime, value.kind, len(value.data)]}
        if type(value).__name__ in NESTED:
            return {"dataclass": type(value).__name__,
                    "fields": {f.name: encode(getattr(value, f.name))
                               for f in dataclasses.fields(value)}}
        if isinstance(value, tuple | list):
            return [encode(v) for v in value]
        return value

    header = {f.name: encode(getattr(reply, f.name)) for f in dataclasses.fields(Reply)}
    head = json.dumps(header, ensure_ascii=False).encode()
    return len(head).to_bytes(8, "big") + head + b"".join(blobs)


def load(data: bytes) -> Reply:
    size = int.from_bytes(data[:8], "big")
    header = json.loads(data[8:8 + size])
    offset = 8 + size

    def decode(value):
        nonlocal offset
        if isinstance(value, dict) and "attachment" in value:
            filename, mime, kind, length = value["attachment"]
            blob = data[offset:offset + length]
            offset += length
            return Attachment(filename, blob, mime, kind)
        if isinstance(value, dict) and "dataclass" in value:
            return NESTED[value["dataclass"]](**{k: decode(v)
                                                 for k, v in value["fields"].items()})
        if isinstance(value, list):
            return tuple(decode(v) for v in value)
        return value

    names = {f.name for f in dataclasses.fields(Reply)}
    return Reply(**{name: decode(value) for name, value in header.items() if name in names})
