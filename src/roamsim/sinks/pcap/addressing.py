"""Addresses of the network elements in a capture: IPv4, MAC and Diameter identity.

Every element of the world model gets an address by a fixed rule that depends
only on its name and its operator's PLMN, never on the order of the scenario
file (except when two PLMNs collide, see below), so the same element has the
same address in every run and every capture.

**Diameter identities** (TS 23.003 §19.4.2.4 realm; host names as
``<element>.<realm>``)::

    realm  epc.mnc<MNC, 3 digits>.mcc<MCC>.3gppnetwork.org     e.g. epc.mnc001.mcc214.3gppnetwork.org
    host   <kind><n>.<realm>                                      e.g. mme2.epc.mnc001.mcc214.3gppnetwork.org
           hss.<realm>, dea.<realm>
    IPX    host proxy.ipx.roamsim.example, realm ipx.roamsim.example  (RFC 2606 reserved name)

A 2-digit MNC is zero-padded to 3 digits in the realm, as TS 23.003 requires.

**IPv4** (all in 10.0.0.0/8)::

    10.<c >> 8>.<c & 0xff>.<host>

``c`` is the operator code: CRC-32 (zlib) of the PLMN string ``"MCC-MNC"``
(the MNC as written), low 16 bits. Codes 0x0000 (the IPX) and 0xFFFF are
reserved; if the code is reserved or taken by another PLMN of the same world,
the next free code (``c + 1``, wrapping) is used, PLMNs taken in sorted order.
``host`` is fixed per kind for the single elements of an operator::

    dea 1   hss 2   hlr 3   stp 4   smsc 5   ausf 6   udm 7   sepp 8   smf 9
    sgw 251   pgw 252   smsf 253

and ``base + n`` for the numbered serving elements (n = 1 … 60)::

    mme<n> 10 + n   vlr<n> 70 + n   sgsn<n> 130 + n   amf<n> 190 + n

The IPX proxy (Diameter proxy, SCCP relay and N32 intermediary alike) is ``10.0.0.1``.

**MAC**: ``02:00:`` followed by the four IPv4 octets (locally administered,
unicast), so a MAC names its element too.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from roamsim.world.model import World

IPX_NAME = "ipx"
IPX_HOST = "proxy.ipx.roamsim.example"
IPX_REALM = "ipx.roamsim.example"
IPX_IPV4 = bytes((10, 0, 0, 1))

_RESERVED_CODES = (0x0000, 0xFFFF)
_HOST_OCTET = {
    "dea": 1, "hss": 2, "hlr": 3, "stp": 4, "smsc": 5, "ausf": 6, "udm": 7, "sepp": 8, "smf": 9,
    "sgw": 251, "pgw": 252, "smsf": 253,
}
_NUMBERED_BASE = {"mme": 10, "vlr": 70, "sgsn": 130, "amf": 190}
MAX_NUMBERED = 60
"""Largest n of a numbered element (``mme<n>``, ``vlr<n>``, ``sgsn<n>``, ``amf<n>``) that has an address."""
_KIND_RE = re.compile(r"^(?P<kind>[a-z]+)(?P<n>\d*)$")


@dataclass(frozen=True)
class PlmnId:
    """A PLMN as MCC and MNC digit strings (the MNC keeps its 2 or 3 digits)."""

    mcc: str
    mnc: str

    @classmethod
    def parse(cls, plmn: str) -> PlmnId:
        """Parse ``"MCC-MNC"`` (``"214-01"``)."""
        m = re.fullmatch(r"(\d{3})-(\d{2,3})", plmn)
        if m is None:
            raise ValueError(f"not a PLMN: {plmn!r} (expected 'MCC-MNC', e.g. '214-01')")
        return cls(m.group(1), m.group(2))

    def __str__(self) -> str:
        return f"{self.mcc}-{self.mnc}"

    @property
    def realm(self) -> str:
        """The EPC realm, ``epc.mncXXX.mccYYY.3gppnetwork.org`` (TS 23.003 §19.4.2.4)."""
        return f"epc.mnc{self.mnc.zfill(3)}.mcc{self.mcc}.3gppnetwork.org"

    def tbcd(self) -> bytes:
        """The 3-octet PLMN identity (TS 24.008 §10.5.1.3; swapped BCD, F filler for a 2-digit MNC)."""
        mcc = [int(d) for d in self.mcc]
        mnc = [int(d) for d in self.mnc]
        mnc3 = mnc[2] if len(mnc) == 3 else 0xF
        return bytes(((mcc[1] << 4) | mcc[0], (mnc3 << 4) | mcc[2], (mnc[1] << 4) | mnc[0]))


@dataclass(frozen=True)
class Element:
    """One addressed network element."""

    name: str
    """The world model's element name (``es-one.mme2``, ``ipx``)."""
    kind: str
    """``mme``, ``dea``, ``hss`` or ``ipx``."""
    operator: str | None
    """Operator id (None for the IPX)."""
    plmn: PlmnId | None
    ipv4: bytes
    mac: bytes
    host: str
    """Diameter identity (Origin-Host) and the name in the capture's name-resolution block."""
    realm: str

    @property
    def ipv4_text(self) -> str:
        return ".".join(str(b) for b in self.ipv4)


def operator_codes(plmns: Iterable[str]) -> dict[str, int]:
    """The 16-bit operator code of each PLMN (module docstring), collisions resolved in sorted order."""
    taken: set[int] = set(_RESERVED_CODES)
    out: dict[str, int] = {}
    for plmn in sorted(set(plmns)):
        code = zlib.crc32(plmn.encode("ascii")) & 0xFFFF
        while code in taken:
            code = (code + 1) & 0xFFFF
        taken.add(code)
        out[plmn] = code
    return out


def _mac_for(ipv4: bytes) -> bytes:
    return b"\x02\x00" + ipv4


class Addressing:
    """Addresses of the elements of one world, by the scheme in the module docstring.

    ``operators`` maps operator id → PLMN ``"MCC-MNC"``. Element names are those
    of :mod:`roamsim.world.model`: ``<operator id>.<kind>[n]`` and ``ipx``.
    """

    def __init__(self, operators: Sequence[tuple[str, str]]) -> None:
        self._op_plmn = {op: PlmnId.parse(plmn) for op, plmn in operators}
        self._codes = operator_codes(plmn for _, plmn in operators)
        self._cache: dict[str, Element] = {}

    @classmethod
    def for_world(cls, world: World) -> Addressing:
        return cls(list(zip(world.op_ids, world.op_plmn, strict=True)))

    def plmn_of(self, operator: str) -> PlmnId:
        return self._op_plmn[operator]

    def element(self, name: str) -> Element:
        """The addressed element of a world-model element name (cached)."""
        found = self._cache.get(name)
        if found is None:
            found = self._make(name)
            self._cache[name] = found
        return found

    def _make(self, name: str) -> Element:
        if name == IPX_NAME:
            return Element(name, "ipx", None, None, IPX_IPV4, _mac_for(IPX_IPV4), IPX_HOST, IPX_REALM)
        op, _, local = name.rpartition(".")
        m = _KIND_RE.match(local)
        if not op or op not in self._op_plmn or m is None:
            raise ValueError(f"unknown element {name!r}: expected '<operator>.<kind>[n]' or 'ipx'")
        kind, n = m.group("kind"), m.group("n")
        if kind in _NUMBERED_BASE and n and 1 <= int(n) <= MAX_NUMBERED:
            octet = _NUMBERED_BASE[kind] + int(n)
        elif kind in _HOST_OCTET and not n:
            octet = _HOST_OCTET[kind]
        else:
            raise ValueError(f"element {name!r}: no address rule for kind {local!r}")
        plmn = self._op_plmn[op]
        code = self._codes[str(plmn)]
        ipv4 = bytes((10, code >> 8, code & 0xFF, octet))
        return Element(name, kind, op, plmn, ipv4, _mac_for(ipv4), f"{local}.{plmn.realm}", plmn.realm)
