"""HTTP/2 frames (RFC 9113) and a stateless HPACK header encoder and decoder (RFC 7541).

Only what cleartext HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3) needs:
the connection preface, SETTINGS, WINDOW_UPDATE, HEADERS and DATA frames.

**HPACK without state.** A header field whose name and value are both in the
static table (RFC 7541 Appendix A, e.g. ``:method: POST``, ``:status: 204``)
is sent as an indexed field (§6.1); every other field as a *literal never
indexed* (§6.2.3), with the name taken from the static table when it is
there. Strings are not Huffman-coded. Nothing ever enters the dynamic table,
so a header block decodes on its own: a capture cut in the middle of a
connection still shows every header (a dynamic-table reference would decode
as ``<unknown>`` in Wireshark, with no expert warning at all), and the same
headers always give the same bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The client connection preface (RFC 9113 §3.4)."""
FRAME_HEADER_LEN = 9

DATA = 0x0
HEADERS = 0x1
RST_STREAM = 0x3
SETTINGS = 0x4
GOAWAY = 0x7
WINDOW_UPDATE = 0x8

FLAG_END_STREAM = 0x1
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4

SETTINGS_HEADER_TABLE_SIZE = 0x1
SETTINGS_ENABLE_PUSH = 0x2
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_FRAME_SIZE = 0x5

DEFAULT_WINDOW = 65_535
"""Initial flow-control window of a connection and of each stream (RFC 9113 §6.9.2)."""
MAX_WINDOW = 2**31 - 1
MAX_STREAM_ID = 2**31 - 1
MAX_FRAME_SIZE = 16_384
"""SETTINGS_MAX_FRAME_SIZE default: the largest frame payload a peer must accept (RFC 9113 §6.5.2)."""

STATIC_TABLE: tuple[tuple[str, str], ...] = (
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
    (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
    (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
    ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""),
    ("cache-control", ""), ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""),
    ("content-length", ""), ("content-location", ""), ("content-range", ""), ("content-type", ""),
    ("cookie", ""), ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""),
    ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""),
    ("retry-after", ""), ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""),
    ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
)
"""The HPACK static table (RFC 7541 Appendix A); entry ``i`` has index ``i + 1``."""

_FULL_INDEX = {entry: i + 1 for i, entry in enumerate(STATIC_TABLE)}
_NAME_INDEX: dict[str, int] = {}
for _i, (_name, _) in enumerate(STATIC_TABLE):
    _NAME_INDEX.setdefault(_name, _i + 1)
del _i, _name

Header = tuple[str, str]


class DecodeError(ValueError):
    """Bytes that are not what this module encodes (or not valid HTTP/2 / HPACK)."""


# -- frames ---------------------------------------------------------------------


def frame(ftype: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    """One frame: 24-bit length, type, flags, 31-bit stream id, payload (RFC 9113 §4.1)."""
    if len(payload) > MAX_FRAME_SIZE:
        raise ValueError(f"a {len(payload)}-octet frame payload exceeds {MAX_FRAME_SIZE} (RFC 9113 §4.2)")
    if not 0 <= stream_id <= MAX_STREAM_ID:
        raise ValueError(f"stream id {stream_id} is not a 31-bit value")
    return struct.pack("!I", len(payload))[1:] + struct.pack("!BBI", ftype, flags, stream_id) + payload


def settings(params: Sequence[tuple[int, int]] = (), *, ack: bool = False) -> bytes:
    """A SETTINGS frame on stream 0 (RFC 9113 §6.5); an ACK carries no parameters."""
    if ack and params:
        raise ValueError("a SETTINGS ACK carries no parameters")
    return frame(SETTINGS, FLAG_ACK if ack else 0, 0, b"".join(struct.pack("!HI", k, v) for k, v in params))


def window_update(stream_id: int, increment: int) -> bytes:
    """A WINDOW_UPDATE frame (RFC 9113 §6.9): increment 1 … 2**31 - 1."""
    if not 1 <= increment <= MAX_WINDOW:
        raise ValueError(f"window increment {increment} is outside 1..{MAX_WINDOW}")
    return frame(WINDOW_UPDATE, 0, stream_id, struct.pack("!I", increment))


@dataclass(frozen=True)
class Frame:
    """A parsed frame."""

    type: int
    flags: int
    stream_id: int
    payload: bytes
    offset: int
    """Offset of the frame header in the parsed bytes."""


def parse_frames(data: bytes) -> list[Frame]:
    """Split ``data`` (whole frames, no preface) into frames."""
    out = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < FRAME_HEADER_LEN:
            raise DecodeError(f"{len(data) - pos} octets left: a truncated frame header at {pos}")
        length = int.from_bytes(data[pos:pos + 3], "big")
        ftype, flags, sid = struct.unpack_from("!BBI", data, pos + 3)
        end = pos + FRAME_HEADER_LEN + length
        if end > len(data):
            raise DecodeError(f"frame at {pos} announces {length} octets, {len(data) - pos - 9} remain")
        out.append(Frame(ftype, flags, sid & MAX_STREAM_ID, bytes(data[pos + FRAME_HEADER_LEN:end]), pos))
        pos = end
    return out


# -- HPACK ----------------------------------------------------------------------


def encode_integer(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """An HPACK integer with an N-bit prefix (RFC 7541 §5.1); ``first`` holds the bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < 0:
        raise ValueError(f"HPACK integers are non-negative, got {value}")
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return encode_integer(len(raw), 7) + raw  # H = 0: no Huffman coding (RFC 7541 §5.2)


def encode_headers(headers: Sequence[Header]) -> bytes:
    """A header block: indexed static fields and never-indexed literals only (module docstring)."""
    out = []
    for name, value in headers:
        if name != name.lower():
            raise ValueError(f"HTTP/2 header names are lowercase (RFC 9113 §8.2.1): {name!r}")
        full = _FULL_INDEX.get((name, value))
        if full is not None:
            out.append(encode_integer(full, 7, 0x80))
            continue
        idx = _NAME_INDEX.get(name)
        if idx is not None:
            out.append(encode_integer(idx, 4, 0x10) + _string(value))
        else:
            out.append(b"\x10" + _string(name) + _string(value))
    return b"".join(out)


def _read_integer(data: bytes, pos: int, prefix_bits: int) -> tuple[int, int]:
    if pos >= len(data):
        raise DecodeError("header block ends inside an integer")
    limit = (1 << prefix_bits) - 1
    value = data[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    while True:
        if pos >= len(data):
            raise DecodeError("header block ends inside an integer")
        b = data[pos]
        pos += 1
        value += (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def _read_string(data: bytes, pos: int) -> tuple[str, int]:
    if pos >= len(data):
        raise DecodeError("header block ends before a string")
    if data[pos] & 0x80:
        raise DecodeError("Huffman-coded string: not produced by this encoder")
    length, pos = _read_integer(data, pos, 7)
    if pos + length > len(data):
        raise DecodeError("string runs past the header block")
    return data[pos:pos + length].decode("utf-8"), pos + length


def _static(index: int) -> Header:
    if not 1 <= index <= len(STATIC_TABLE):
        raise DecodeError(f"index {index} is not in the static table (no dynamic table here)")
    return STATIC_TABLE[index - 1]


def header_fields(block: bytes) -> list[tuple[str, str, int, int]]:
    """(name, value, start, end of the value's octets in ``block``) of each field of a header block made of
    static-indexed fields and literals that reference no dynamic entry (an indexed field has start = end).

    Literals with incremental indexing (§6.2.1) and table size updates (§6.3)
    are rejected: this encoder never produces them.
    """
    out: list[tuple[str, str, int, int]] = []
    pos = 0
    while pos < len(block):
        b = block[pos]
        if b & 0x80:  # indexed field
            idx, pos = _read_integer(block, pos, 7)
            name, value = _static(idx)
            out.append((name, value, pos, pos))
            continue
        if b & 0xE0 == 0x20 or b & 0xC0 == 0x40:
            raise DecodeError(f"octet {b:#04x} at {pos}: a representation that uses the dynamic table")
        idx, pos = _read_integer(block, pos, 4)  # without indexing (0000) or never indexed (0001)
        if idx:
            name = _static(idx)[0]
        else:
            name, pos = _read_string(block, pos)
        value, end = _read_string(block, pos)
        out.append((name, value, end - len(value.encode("utf-8")), end))
        pos = end
    return out


def decode_headers(block: bytes) -> list[Header]:
    """Decode a header block written by :func:`encode_headers` (see :func:`header_fields`)."""
    return [(name, value) for name, value, _, _ in header_fields(block)]


def iter_header_frames(frames: Sequence[Frame]) -> Iterator[tuple[Frame, list[Header]]]:
    """The HEADERS frames of ``frames`` with their decoded header lists."""
    for f in frames:
        if f.type == HEADERS:
            if f.flags & 0x28:
                raise DecodeError("HEADERS with PADDED or PRIORITY: not produced here")
            if not f.flags & FLAG_END_HEADERS:
                raise DecodeError("HEADERS without END_HEADERS: CONTINUATION is not produced here")
            yield f, decode_headers(f.payload)
