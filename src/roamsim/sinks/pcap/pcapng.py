"""A streaming pcapng writer (draft-ietf-opsawg-pcapng): section header, interfaces, names, packets.

Little-endian blocks. Interfaces are Ethernet with nanosecond timestamps
(``if_tsresol`` = 9), so a packet's timestamp is the record's integer
nanoseconds, with no float on the way. Blocks are buffered and written in
chunks of about 1 MiB, so memory does not grow with the capture.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import BinaryIO

SHB = 0x0A0D0D0A
IDB = 0x00000001
NRB = 0x00000004
EPB = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D
LINKTYPE_ETHERNET = 1

OPT_END = 0
OPT_COMMENT = 1
SHB_HARDWARE = 2
SHB_OS = 3
SHB_USERAPPL = 4
IF_NAME = 2
IF_DESCRIPTION = 3
IF_TSRESOL = 9
NRB_RECORD_END = 0
NRB_RECORD_IPV4 = 1

FLUSH_BYTES = 1 << 20

_EPB_HEAD = struct.Struct("<IIIIIII")
EPB_HEAD_LEN = _EPB_HEAD.size
"""Octets of an Enhanced Packet Block before the frame (type, length, interface, time, lengths)."""


def epb_template(interface: int, frame: bytes | bytearray) -> bytes:
    """An EPB without its options and trailing length, with length and time left 0 for a template writer to
    patch: header, frame, padding to 32 bits."""
    n = len(frame)
    return _EPB_HEAD.pack(EPB, 0, interface, 0, 0, n, n) + bytes(frame) + b"\0" * (-n % 4)


def epb_pair(interface: int, ts_ns: int, frame: bytes | bytearray) -> tuple[bytes, bytes]:
    """A whole EPB without options, as the two blocks a template writer queues: the block up to the padded
    frame, and its trailing length."""
    n = len(frame)
    total = EPB_HEAD_LEN + n + (-n % 4) + 4
    head = _EPB_HEAD.pack(EPB, total, interface, ts_ns >> 32, ts_ns & 0xFFFFFFFF, n, n)
    return head + bytes(frame) + b"\0" * (-n % 4), total.to_bytes(4, "little")


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 4)


def option(code: int, value: bytes) -> bytes:
    """One option (code, length, value padded to 32 bits)."""
    return struct.pack("<HH", code, len(value)) + value + _pad(len(value))


def _options(opts: Sequence[bytes]) -> bytes:
    return b"".join(opts) + struct.pack("<HH", OPT_END, 0) if opts else b""


def block(btype: int, body: bytes) -> bytes:
    """A block: type, total length, body (padded), total length."""
    body = body + _pad(len(body))
    total = 12 + len(body)
    return struct.pack("<II", btype, total) + body + struct.pack("<I", total)


def comment_option(text: str) -> bytes:
    """An ``opt_comment`` followed by ``opt_endofopt``: a packet's options, ready for :meth:`PcapngWriter.packet`."""
    return _options([option(OPT_COMMENT, text.encode("utf-8"))])


class PcapngWriter:
    """Writes one pcapng section to a binary file object."""

    def __init__(self, f: BinaryIO, *, comment: str | None = None, application: str | None = None,
                 hardware: str | None = None, os: str | None = None) -> None:
        self._f = f
        self._buf: list[bytes] = []
        self._size = 0
        self.interfaces = 0
        self.packets = 0
        opts = []
        for code, text in ((OPT_COMMENT, comment), (SHB_HARDWARE, hardware), (SHB_OS, os),
                           (SHB_USERAPPL, application)):
            if text:
                opts.append(option(code, text.encode("utf-8")))
        body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + _options(opts)
        self._put(block(SHB, body))

    def _put(self, data: bytes) -> None:
        self._buf.append(data)
        self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            self._f.write(b"".join(self._buf))
            self._buf = []
            self._size = 0

    def add_interface(self, name: str, description: str | None = None, *, linktype: int = LINKTYPE_ETHERNET,
                      snaplen: int = 0) -> int:
        """Add an interface (IDB) with nanosecond timestamps; returns its id."""
        opts = [option(IF_NAME, name.encode("utf-8"))]
        if description:
            opts.append(option(IF_DESCRIPTION, description.encode("utf-8")))
        opts.append(option(IF_TSRESOL, b"\x09"))
        self._put(block(IDB, struct.pack("<HHI", linktype, 0, snaplen) + _options(opts)))
        self.interfaces += 1
        return self.interfaces - 1

    def name_resolution(self, entries: Iterable[tuple[bytes, Sequence[str]]]) -> None:
        """A name-resolution block: IPv4 address → names."""
        records = []
        for ipv4, names in entries:
            value = ipv4 + b"".join(n.encode("ascii") + b"\0" for n in names)
            records.append(struct.pack("<HH", NRB_RECORD_IPV4, len(value)) + value + _pad(len(value)))
        if records:
            self._put(block(NRB, b"".join(records) + struct.pack("<HH", NRB_RECORD_END, 0)))

    def write_blocks(self, blocks: list[bytes | bytearray], packets: int) -> None:
        """Append ready-made blocks (``packets`` of them are packets), e.g. from a template writer."""
        if blocks:
            self._f.write(b"".join(self._buf))
            self._buf = []
            self._size = 0
            self._f.write(b"".join(blocks))
            self.packets += packets

    def packet(self, interface: int, ts_ns: int, frame: bytes, options: bytes = b"") -> None:
        """An enhanced packet block; ``options`` as made by :func:`comment_option` (or empty)."""
        n = len(frame)
        pad = -n % 4
        total = 32 + n + pad + len(options)
        data = b"".join((
            _EPB_HEAD.pack(EPB, total, interface, ts_ns >> 32, ts_ns & 0xFFFFFFFF, n, n),
            frame, b"\0" * pad, options, total.to_bytes(4, "little"),
        ))
        self._buf.append(data)
        self._size += total
        self.packets += 1
        if self._size >= FLUSH_BYTES:
            self.flush()
