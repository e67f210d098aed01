"""Reading a file for the scanner: text or binary, UTF-8 or UTF-16/32, in bounded chunks.

A UTF-16 or UTF-32 file (a byte-order mark, or the NUL pattern ASCII leaves in it) is
decoded and scanned as UTF-8, so a key that Windows tools saved as UTF-16 is found; a file
with NUL bytes in any other pattern is binary and not read further.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import BinaryIO

CHUNK = 4 * 1024 * 1024
SNIFF = 8192
_BOMS = (
    # UTF-32 first: its little-endian mark begins with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Share of the code units in a sample whose NUL bytes must sit where ASCII text puts them.
_NUL_PATTERN_SHARE = 0.9


def sniff_encoding(head: bytes) -> str | None:
    """The encoding to decode with (``"utf-8"`` means as is), or None for a binary file."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    if b"\0" not in head:
        return "utf-8"
    return _nul_pattern(head)


def _nul_pattern(head: bytes) -> str | None:
    """UTF-16 or UTF-32 without a mark, told by where the NULs of ASCII characters fall."""
    for width, encoding in ((4, "utf-32"), (2, "utf-16")):
        units = len(head) // width
        if units < 2:
            continue
        samples = [head[i * width : (i + 1) * width] for i in range(units)]
        for endian, ascii_at in (("le", 0), ("be", width - 1)):
            fitting = sum(
                1 for unit in samples if unit[ascii_at] != 0 and unit.count(0) == width - 1
            )
            if fitting >= _NUL_PATTERN_SHARE * units:
                return f"{encoding}-{endian}"
    return None


def decoded_chunks(stream: BinaryIO, head: bytes, encoding: str) -> Iterator[bytes]:
    """The stream's bytes as UTF-8 chunks, ``head`` (already read) first."""
    if encoding == "utf-8":
        yield head
        yield from iter(lambda: stream.read(CHUNK), b"")
        return
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    data = head
    while data:
        yield decoder.decode(data).encode("utf-8", "surrogateescape")
        data = stream.read(CHUNK)
    yield decoder.decode(b"", final=True).encode("utf-8", "surrogateescape")


def decode_text(data: bytes) -> bytes | None:
    """The whole of ``data`` as UTF-8 bytes, or None when it is binary."""
    encoding = sniff_encoding(data[:SNIFF])
    if encoding is None:
        return None
    if encoding == "utf-8":
        return data
    return data.decode(encoding, "replace").encode("utf-8", "surrogateescape")
