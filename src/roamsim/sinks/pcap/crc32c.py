"""CRC32c (Castagnoli, RFC 9260 Appendix B), the SCTP checksum.

Uses the C implementation of ``google-crc32c`` (Apache-2.0) when it is
installed and built; otherwise a table-driven pure-Python fallback (about 100×
slower, still correct). The LGPL ``crc32c`` package is deliberately not used.
"""

from __future__ import annotations

from collections.abc import Callable


def _table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _table()


def crc32c_python(data: bytes) -> int:
    """CRC32c of ``data`` in pure Python (reflected, init and final XOR 0xFFFFFFFF)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _native() -> Callable[[bytes], int] | None:
    try:
        import google_crc32c
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    if google_crc32c.implementation != "c":  # pragma: no cover
        return None
    fn: Callable[[bytes], int] = google_crc32c.value
    return fn


_NATIVE = _native()
IMPLEMENTATION = "google-crc32c" if _NATIVE is not None else "python"
crc32c: Callable[[bytes], int] = _NATIVE if _NATIVE is not None else crc32c_python
"""CRC32c of a ``bytes`` object (the C version takes ``bytes`` only, not ``bytearray``)."""
