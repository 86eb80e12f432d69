"""Search stored bytes for a person's identifiers, whatever holds them: Parquet (decoded), Avro containers (Iceberg
manifests: each block inflated), gzip, or plain text. A phone is searched by its national digits in each line."""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq


def _varint(stream: io.BytesIO) -> int:
    shift = result = 0
    while True:
        byte = stream.read(1)[0]
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1)  # zigzag


def _avro_text(content: bytes) -> bytes:
    stream = io.BytesIO(content)
    stream.read(4)
    codec = b"null"
    while (count := _varint(stream)) != 0:
        if count < 0:
            count = -count
            _varint(stream)
        for _ in range(count):
            key = stream.read(_varint(stream))
            value = stream.read(_varint(stream))
            if key == b"avro.codec":
                codec = value
    stream.read(16)
    parts = []
    while stream.tell() < len(content):
        _varint(stream)
        block = stream.read(_varint(stream))
        parts.append(zlib.decompress(block, -15) if codec == b"deflate" else block)
        stream.read(16)
    return b"\n".join(parts)


def readable(path: Path) -> str:
    """The file's content as text a person's identifiers can be searched in."""
    return readable_bytes(path.read_bytes())


def readable_bytes(content: bytes) -> str:
    if content[:4] == b"PAR1":
        return "\n".join(str(row) for row in pq.read_table(io.BytesIO(content)).to_pylist())
    if content[:4] == b"Obj\x01":
        content = _avro_text(content)
    elif content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    return content.decode("utf-8", errors="replace")


def findings(texts: Iterable[tuple[str, str]], identifiers: set[str], phones: set[str]) -> list[str]:
    """Where (name: what) any identifier, or any phone's last nine digits, appears."""
    found = []
    for name, text in texts:
        lowered = text.lower()
        found += [f"{name}: {value}" for value in identifiers if value.lower() in lowered]
        for line in text.splitlines():
            digits = re.sub(r"\D", "", line)
            found += [f"{name}: {phone}" for phone in phones if phone[-9:] in digits]
    return found


def files_under(*roots: Path) -> list[tuple[str, str]]:
    return [(str(path), readable(path)) for root in roots for path in sorted(root.rglob("*")) if path.is_file()]
