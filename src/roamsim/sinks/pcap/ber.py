"""A minimal BER codec (ITU-T X.690 §8): identifier and definite-length octets, the primitive contents TCAP
and MAP use, and a TLV decoder.

Encoding always uses the definite form with the fewest length octets (X.690 §8.1.3.2 / §10.1), so the same
value always gives the same bytes. Values are built bottom-up as ``bytes``: :func:`tlv` wraps contents in a
tag, :func:`seq` and :func:`ctx` are the shorthands the MAP and TCAP encoders use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

UNIVERSAL = 0x00
APPLICATION = 0x40
CONTEXT = 0x80
PRIVATE = 0xC0
CONSTRUCTED = 0x20
"""Bit 6 of the first identifier octet: the contents are TLVs (X.690 §8.1.2.5)."""

BOOLEAN = 1
INTEGER = 2
BIT_STRING = 3
OCTET_STRING = 4
NULL = 5
OBJECT_IDENTIFIER = 6
EXTERNAL = 8
ENUMERATED = 10
SEQUENCE = 16


class BerError(ValueError):
    """Bytes that are not well-formed BER (or use a form this codec does not read)."""


def identifier(cls: int, number: int, constructed: bool = False) -> bytes:
    """Identifier octets of a tag (X.690 §8.1.2): low-tag-number form below 31, else the high-tag-number form."""
    first = cls | (CONSTRUCTED if constructed else 0)
    if number < 31:
        return bytes((first | number,))
    out = [number & 0x7F]
    number >>= 7
    while number:
        out.append(0x80 | (number & 0x7F))
        number >>= 7
    return bytes((first | 0x1F, *reversed(out)))


def length(n: int) -> bytes:
    """Definite length octets (X.690 §8.1.3): short form below 128, else the long form with the fewest octets."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(ident: bytes, contents: bytes) -> bytes:
    """Identifier, length and contents."""
    return ident + length(len(contents)) + contents


def seq(*members: bytes) -> bytes:
    """A universal SEQUENCE of already-encoded members."""
    return tlv(b"\x30", b"".join(members))


def ctx(number: int, contents: bytes, constructed: bool = False) -> bytes:
    """A context-specific ``[number]`` IMPLICIT tag around ``contents``."""
    return tlv(identifier(CONTEXT, number, constructed), contents)


def integer_contents(value: int) -> bytes:
    """Two's complement contents in the fewest octets (X.690 §8.3.2)."""
    n = 1
    while not -(1 << (8 * n - 1)) <= value < (1 << (8 * n - 1)):
        n += 1
    return value.to_bytes(n, "big", signed=True)


def integer(value: int, ident: bytes = b"\x02") -> bytes:
    """An INTEGER (or, with ``ident``, an implicitly tagged one)."""
    return tlv(ident, integer_contents(value))


def enumerated(value: int, ident: bytes = b"\x0a") -> bytes:
    """An ENUMERATED (encoded like an INTEGER, X.690 §8.4)."""
    return tlv(ident, integer_contents(value))


def octets(value: bytes, ident: bytes = b"\x04") -> bytes:
    """An OCTET STRING (primitive form, X.690 §8.7)."""
    return tlv(ident, value)


def null(ident: bytes = b"\x05") -> bytes:
    """A NULL (X.690 §8.8)."""
    return ident + b"\x00"


def boolean(value: bool, ident: bytes = b"\x01") -> bytes:
    """A BOOLEAN; TRUE as 0xFF (the DER choice, X.690 §11.1)."""
    return tlv(ident, b"\xff" if value else b"\x00")


def bit_string_contents(bits: int, nbits: int) -> bytes:
    """BIT STRING contents (X.690 §8.6.2): bit 0 is the first (most significant) bit; unused bits are 0."""
    nbytes = (nbits + 7) // 8
    unused = nbytes * 8 - nbits
    return bytes((unused,)) + (bits << unused).to_bytes(nbytes, "big")


def oid_contents(arcs: Sequence[int]) -> bytes:
    """OBJECT IDENTIFIER contents (X.690 §8.19): the first two arcs joined, each subidentifier base 128."""
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"not an object identifier: {tuple(arcs)}")
    out = bytearray()
    for arc in (40 * arcs[0] + arcs[1], *arcs[2:]):
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def oid(arcs: Sequence[int]) -> bytes:
    """An OBJECT IDENTIFIER."""
    return tlv(b"\x06", oid_contents(arcs))


# -- decoding ----------------------------------------------------------------------


@dataclass(frozen=True)
class Tlv:
    """One decoded TLV: tag class, constructed bit, tag number and contents."""

    cls: int
    constructed: bool
    number: int
    contents: bytes

    def children(self) -> list[Tlv]:
        """The TLVs inside a constructed value."""
        if not self.constructed:
            raise BerError(f"tag {self.number} (class {self.cls:#x}) is primitive: no members")
        return decode_all(self.contents)

    def is_(self, cls: int, number: int) -> bool:
        return self.cls == cls and self.number == number


def decode_one(data: bytes, pos: int = 0) -> tuple[Tlv, int]:
    """The TLV starting at ``pos`` and the position after it (definite lengths only)."""
    end = len(data)
    if pos >= end:
        raise BerError("no identifier octet")
    first = data[pos]
    pos += 1
    number = first & 0x1F
    if number == 0x1F:
        number = 0
        while True:
            if pos >= end:
                raise BerError("truncated high-tag-number identifier")
            b = data[pos]
            pos += 1
            number = (number << 7) | (b & 0x7F)
            if not b & 0x80:
                break
    if pos >= end:
        raise BerError("no length octet")
    n = data[pos]
    pos += 1
    if n == 0x80:
        raise BerError("indefinite length is not supported")
    if n & 0x80:
        k = n & 0x7F
        if pos + k > end:
            raise BerError("truncated length octets")
        n = int.from_bytes(data[pos:pos + k], "big")
        pos += k
    if pos + n > end:
        raise BerError(f"contents of {n} octets run past the end ({end - pos} left)")
    return Tlv(first & 0xC0, bool(first & CONSTRUCTED), number, bytes(data[pos:pos + n])), pos + n


def decode_all(data: bytes) -> list[Tlv]:
    """Every TLV of ``data``, which must hold nothing else."""
    out, pos = [], 0
    while pos < len(data):
        t, pos = decode_one(data, pos)
        out.append(t)
    return out


def decode_integer(contents: bytes) -> int:
    """An INTEGER's (or ENUMERATED's) value."""
    if not contents:
        raise BerError("an INTEGER needs at least one contents octet")
    return int.from_bytes(contents, "big", signed=True)


def decode_oid(contents: bytes) -> tuple[int, ...]:
    """An OBJECT IDENTIFIER's arcs."""
    subs: list[int] = []
    cur = 0
    for i, b in enumerate(contents):
        cur = (cur << 7) | (b & 0x7F)
        if not b & 0x80:
            subs.append(cur)
            cur = 0
        elif i == len(contents) - 1:
            raise BerError("truncated object identifier")
    if not subs:
        raise BerError("empty object identifier")
    first = subs[0]
    head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    return (*head, *subs[1:])
