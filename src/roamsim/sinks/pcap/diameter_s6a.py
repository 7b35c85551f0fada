"""S6a messages (TS 29.272 §7.2) from the message records, as Diameter bytes.

Three layers, all pure:

* :class:`S6aMessage` holds the fields that vary between messages, and
  :func:`encode` turns one into bytes with the AVPs TS 29.272 lists for that
  command (:func:`decode_s6a` reads them back; tests round-trip the two).
* :class:`S6aHop` is what the records say about one message on one hop of its
  transaction's path; :func:`s6a_message` maps it to an :class:`S6aMessage`:
  who is Origin-/Destination-Host, which Route-Records the agents have added,
  which hop-by-hop identifier the hop uses, the Session-Id, the result.
* :func:`template` encodes a message once per *shape* (everything except the
  IMSI, the identifiers and the authentication vector) and records where the
  variable fields sit, so a writer patches bytes instead of re-encoding
  (:meth:`S6aTemplate.fill`). Tests check that a filled template equals the
  full encoding.

Identifiers: the end-to-end identifier is the record's ``e2e_id`` (kept by
retransmissions, RFC 6733 §3); the Session-Id is
``<originating host>;<e2e high 32 bits>;<e2e low 32 bits>`` (RFC 6733 §8.8,
fixed 10-digit fields), the same on every hop of the transaction and for its
retransmission; the hop-by-hop identifier is ``(txn_id << 3 | position of the
request's sender on the path) mod 2**32`` (§3: unique per connection, the
answer on a hop carries the request's value).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, replace

from roamsim.catalogue.diameter import COMMANDS, S6A_APPLICATION_ID, VENDOR_3GPP
from roamsim.sinks.pcap import diameter as d
from roamsim.sinks.pcap.addressing import Element, PlmnId
from roamsim.sinks.pcap.diameter import Code

BY_NAME: dict[str, tuple[int, bool]] = {
    name: (c.code, name == c.request) for c in COMMANDS.values() for name in (c.request, c.answer)
}
"""Message name (``ULR``, ``ULA``) → (command code, is request)."""

RAT_EUTRAN = 1004
ULR_FLAG_S6A_INDICATOR = 0x02
ULR_FLAG_INITIAL_ATTACH = 0x20
ULA_FLAG_SEPARATION = 0x01
PUR_FLAG_UE_PURGED_IN_MME = 0x01
PUA_FLAG_FREEZE_M_TMSI = 0x01
CANCELLATION_MME_UPDATE = 0
NO_STATE_MAINTAINED = 1
AMF_EUTRAN = b"\x80\x00"
"""Authentication Management Field with the separation bit set (TS 33.401 §6.1.1)."""
FEATURE_LIST_ID = 1
FEATURE_LIST = 0x0000000F
"""Supported-Features of S6a (TS 29.272 §7.3.10): ODB, regional subscription, ... (bits 0-3)."""

SESSION_SUFFIX_LEN = 21
"""``;`` is not part of it: ``HHHHHHHHHH;LLLLLLLLLL`` (two zero-padded 32-bit decimals)."""


@dataclass(frozen=True)
class AuthVector:
    """One E-UTRAN authentication vector (TS 33.401 §6.1.2)."""

    rand: bytes
    xres: bytes
    autn: bytes
    kasme: bytes


def auth_vector(imsi: int, txn_id: int) -> AuthVector:
    """A deterministic stand-in vector for one transaction (BLAKE2b of the IMSI and the transaction).

    The values are arbitrary but well-formed (AUTN = SQN⊕AK ‖ AMF ‖ MAC with
    the E-UTRAN separation bit); they are not derived from any key.
    """
    h = hashlib.blake2b(struct.pack("<qq", imsi, txn_id), digest_size=64, person=b"roamsim-eutran").digest()
    k = hashlib.blake2b(h, digest_size=32, person=b"roamsim-kasme").digest()
    return AuthVector(rand=h[0:16], xres=h[16:24], autn=h[24:30] + AMF_EUTRAN + h[30:38], kasme=k)


@dataclass(frozen=True)
class S6aMessage:
    """The varying fields of one S6a message; :func:`encode` adds the fixed ones."""

    name: str
    """``AIR``, ``AIA``, ``ULR``, ``ULA``, ``CLR``, ``CLA``, ``IDR``, ``IDA``, ``PUR``, ``PUA``."""
    hop_by_hop: int
    end_to_end: int
    session_id: str
    origin_host: str
    origin_realm: str
    destination_host: str | None = None
    destination_realm: str | None = None
    user_name: str | None = None
    """The IMSI digits (requests)."""
    visited_plmn_id: bytes | None = None
    """AIR and ULR."""
    route_record: tuple[str, ...] = ()
    result_code: int | None = None
    """Result-Code of an answer (None when it carries an Experimental-Result)."""
    experimental_result_code: int | None = None
    retransmitted: bool = False
    initial_attach: bool = True
    """ULR-Flags Initial-Attach-Indicator."""
    auth_vector: AuthVector | None = None
    """AIA with success."""
    cancellation_type: int = CANCELLATION_MME_UPDATE

    @property
    def command_code(self) -> int:
        return BY_NAME[self.name][0]

    @property
    def is_request(self) -> bool:
        return BY_NAME[self.name][1]

    @property
    def success(self) -> bool:
        return self.result_code == 2001


def _supported_features() -> bytes:
    return d.g3(Code.SUPPORTED_FEATURES, [
        d.u32(Code.VENDOR_ID, VENDOR_3GPP),
        d.u3(Code.FEATURE_LIST_ID, FEATURE_LIST_ID, mandatory=False),
        d.u3(Code.FEATURE_LIST, FEATURE_LIST, mandatory=False),
    ], mandatory=False)


def _ambr(ul: int, dl: int) -> bytes:
    return d.g3(Code.AMBR, [d.u3(Code.MAX_REQUESTED_BANDWIDTH_UL, ul), d.u3(Code.MAX_REQUESTED_BANDWIDTH_DL, dl)])


def subscription_data(*, full: bool = True) -> bytes:
    """Subscription-Data (TS 29.272 §7.3.2): status, network access mode, UE-AMBR and one "internet" APN.

    ``full`` adds the APN-Configuration-Profile (ULA); IDR carries the rest only.
    """
    members = [
        d.u3(Code.SUBSCRIBER_STATUS, 0),  # SERVICE_GRANTED
        d.u3(Code.NETWORK_ACCESS_MODE, 2),  # ONLY_PACKET
        _ambr(50_000_000, 150_000_000),
    ]
    if full:
        qos = d.g3(Code.EPS_SUBSCRIBED_QOS_PROFILE, [
            d.u3(Code.QOS_CLASS_IDENTIFIER, 9),
            d.g3(Code.ALLOCATION_RETENTION_PRIORITY, [
                d.u3(Code.PRIORITY_LEVEL, 8, mandatory=False),
                d.u3(Code.PRE_EMPTION_CAPABILITY, 1, mandatory=False),  # PRE-EMPTION_CAPABILITY_DISABLED
                d.u3(Code.PRE_EMPTION_VULNERABILITY, 0, mandatory=False),  # PRE-EMPTION_VULNERABILITY_ENABLED
            ], mandatory=False),
        ])
        apn = d.g3(Code.APN_CONFIGURATION, [
            d.u3(Code.CONTEXT_IDENTIFIER, 1),
            d.u3(Code.PDN_TYPE, 0),  # IPv4
            d.utf8(Code.SERVICE_SELECTION, "internet"),
            qos,
            _ambr(50_000_000, 150_000_000),
        ])
        members.append(d.g3(Code.APN_CONFIGURATION_PROFILE, [
            d.u3(Code.CONTEXT_IDENTIFIER, 1),
            d.u3(Code.ALL_APN_CONFIGURATIONS_INCLUDED_INDICATOR, 0),  # All_APN_CONFIGURATIONS_INCLUDED
            apn,
        ]))
    return d.g3(Code.SUBSCRIPTION_DATA, members)


def _vector_avp(v: AuthVector) -> bytes:
    return d.g3(Code.AUTHENTICATION_INFO, [d.g3(Code.E_UTRAN_VECTOR, [
        d.o3(Code.RAND, v.rand), d.o3(Code.XRES, v.xres), d.o3(Code.AUTN, v.autn), d.o3(Code.KASME, v.kasme),
    ])])


def encode(m: S6aMessage) -> bytes:
    """The Diameter bytes of ``m`` (AVPs in the order of the TS 29.272 §7.2 ABNF)."""
    code, request = BY_NAME[m.name]
    key = m.name[:2]
    avps = [d.utf8(Code.SESSION_ID, m.session_id), d.vendor_specific_application_id()]
    error = False
    if request:
        flags = d.CMD_REQUEST | d.CMD_PROXIABLE | (d.CMD_RETRANSMITTED if m.retransmitted else 0)
        avps += [d.u32(Code.AUTH_SESSION_STATE, NO_STATE_MAINTAINED),
                 d.utf8(Code.ORIGIN_HOST, m.origin_host), d.utf8(Code.ORIGIN_REALM, m.origin_realm)]
        if m.destination_host is not None:
            avps.append(d.utf8(Code.DESTINATION_HOST, m.destination_host))
        if m.destination_realm is None or m.user_name is None:
            raise ValueError(f"{m.name} needs Destination-Realm and User-Name")
        avps += [d.utf8(Code.DESTINATION_REALM, m.destination_realm), d.utf8(Code.USER_NAME, m.user_name)]
        if key in ("UL", "AI") and m.visited_plmn_id is None:
            raise ValueError(f"{m.name} needs Visited-PLMN-Id")
        if key == "UL":
            flags_value = ULR_FLAG_S6A_INDICATOR | (ULR_FLAG_INITIAL_ATTACH if m.initial_attach else 0)
            avps += [_supported_features(), d.u3(Code.RAT_TYPE, RAT_EUTRAN, mandatory=False),
                     d.u3(Code.ULR_FLAGS, flags_value), d.o3(Code.VISITED_PLMN_ID, m.visited_plmn_id or b"")]
        elif key == "AI":
            avps += [d.g3(Code.REQUESTED_EUTRAN_AUTHENTICATION_INFO, [
                d.u3(Code.NUMBER_OF_REQUESTED_VECTORS, 1), d.u3(Code.IMMEDIATE_RESPONSE_PREFERRED, 1)]),
                d.o3(Code.VISITED_PLMN_ID, m.visited_plmn_id or b"")]
        elif key == "CL":
            avps += [_supported_features(), d.u3(Code.CANCELLATION_TYPE, m.cancellation_type)]
        elif key == "ID":
            avps += [_supported_features(), subscription_data(full=False)]
        elif key == "PU":
            avps.append(d.u3(Code.PUR_FLAGS, PUR_FLAG_UE_PURGED_IN_MME, mandatory=False))
        avps += [d.utf8(Code.ROUTE_RECORD, host) for host in m.route_record]
    else:
        flags = d.CMD_PROXIABLE
        if m.experimental_result_code is not None:
            avps.append(d.experimental_result(m.experimental_result_code))
        elif m.result_code is not None:
            avps.append(d.u32(Code.RESULT_CODE, m.result_code))
            error = 3000 <= m.result_code < 4000  # protocol errors set the E bit (RFC 6733 §7.1.3)
        else:
            raise ValueError(f"{m.name} needs Result-Code or Experimental-Result")
        avps += [d.u32(Code.AUTH_SESSION_STATE, NO_STATE_MAINTAINED),
                 d.utf8(Code.ORIGIN_HOST, m.origin_host), d.utf8(Code.ORIGIN_REALM, m.origin_realm)]
        if m.success:
            if key == "UL":
                avps += [_supported_features(), d.u3(Code.ULA_FLAGS, ULA_FLAG_SEPARATION), subscription_data()]
            elif key == "AI":
                if m.auth_vector is None:
                    raise ValueError("a successful AIA needs an authentication vector")
                avps.append(_vector_avp(m.auth_vector))
            elif key == "PU":
                avps.append(d.u3(Code.PUA_FLAGS, PUA_FLAG_FREEZE_M_TMSI))
        if error:
            flags |= d.CMD_ERROR
    return d.message(code, flags, S6A_APPLICATION_ID, m.hop_by_hop, m.end_to_end, avps)


def decode_s6a(buf: bytes) -> S6aMessage:
    """Read back the :class:`S6aMessage` fields of an S6a message (inverse of :func:`encode`)."""
    msg = d.decode(buf)
    if msg.application_id != S6A_APPLICATION_ID:
        raise d.DecodeError(f"application {msg.application_id} is not S6a")
    names = {(c.code, True): c.request for c in COMMANDS.values()} | {
        (c.code, False): c.answer for c in COMMANDS.values()}
    name = names[(msg.command, msg.is_request)]

    def text(code: int) -> str | None:
        a = msg.find(code)
        return None if a is None else a.text

    exp = msg.find(Code.EXPERIMENTAL_RESULT)
    exp_code = None
    if exp is not None:
        inner = exp.find(Code.EXPERIMENTAL_RESULT_CODE)
        exp_code = None if inner is None else inner.u32
    rc = msg.find(Code.RESULT_CODE)
    vplmn = msg.find(Code.VISITED_PLMN_ID)
    ulr_flags = msg.find(Code.ULR_FLAGS)
    ctype = msg.find(Code.CANCELLATION_TYPE)
    vector = None
    info = msg.find(Code.AUTHENTICATION_INFO)
    if info is not None:
        ev = info.find(Code.E_UTRAN_VECTOR)
        if ev is None:
            raise d.DecodeError("Authentication-Info without E-UTRAN-Vector")
        parts = {a.code: a.data for a in ev.children}
        vector = AuthVector(parts[Code.RAND], parts[Code.XRES], parts[Code.AUTN], parts[Code.KASME])
    return S6aMessage(
        name=name,
        hop_by_hop=msg.hop_by_hop,
        end_to_end=msg.end_to_end,
        session_id=text(Code.SESSION_ID) or "",
        origin_host=text(Code.ORIGIN_HOST) or "",
        origin_realm=text(Code.ORIGIN_REALM) or "",
        destination_host=text(Code.DESTINATION_HOST),
        destination_realm=text(Code.DESTINATION_REALM),
        user_name=text(Code.USER_NAME),
        visited_plmn_id=None if vplmn is None else vplmn.data,
        route_record=tuple(a.text for a in msg.find_all(Code.ROUTE_RECORD)),
        result_code=None if rc is None else rc.u32,
        experimental_result_code=exp_code,
        retransmitted=bool(msg.flags & d.CMD_RETRANSMITTED),
        initial_attach=True if ulr_flags is None else bool(ulr_flags.u32 & ULR_FLAG_INITIAL_ATTACH),
        auth_vector=vector,
        cancellation_type=CANCELLATION_MME_UPDATE if ctype is None else ctype.u32,
    )


# -- records → messages ---------------------------------------------------------


@dataclass(frozen=True)
class S6aHop:
    """One S6a message on one hop, as the records describe it.

    ``path`` is the transaction's request path, sender first:
    ``(MME, visited DEA, IPX, home DEA, HSS)`` for AIR/ULR/PUR and
    ``(HSS, home DEA, IPX, visited DEA, MME)`` for CLR/IDR. ``responder`` is the
    position on it of the element that answers (4, or 3 when the home DEA
    answers a steering reject). ``hop`` counts from the sender of the message
    (0 at the request's origin for requests, at the responder for answers),
    as in messages.parquet.
    """

    name: str
    path: tuple[Element, ...]
    responder: int
    hop: int
    imsi: int
    txn_id: int
    e2e_id: int
    visited_plmn: PlmnId
    result_code: int | None = None
    experimental: bool = False
    retransmission: bool = False
    initial_attach: bool = True

    @property
    def is_request(self) -> bool:
        return BY_NAME[self.name][1]

    @property
    def link(self) -> tuple[Element, Element]:
        """(sender, receiver) of this message."""
        if self.is_request:
            return self.path[self.hop], self.path[self.hop + 1]
        pos = self.responder - self.hop
        return self.path[pos], self.path[pos - 1]

    @property
    def request_sender(self) -> int:
        """Position on the path of the element that sent the request on this hop."""
        return self.hop if self.is_request else self.responder - self.hop - 1


def hop_by_hop_id(txn_id: int, request_sender: int) -> int:
    """The hop-by-hop identifier of a transaction's request (and its answer) on one hop."""
    return ((txn_id << 3) | request_sender) & 0xFFFFFFFF


def session_id(host: str, e2e_id: int) -> str:
    return f"{host};{(e2e_id >> 32) & 0xFFFFFFFF:010d};{e2e_id & 0xFFFFFFFF:010d}"


def s6a_message(h: S6aHop) -> S6aMessage:
    """The :class:`S6aMessage` a hop carries (module docstring for the identifier rules)."""
    origin, target = h.path[0], h.path[-1]
    base = S6aMessage(
        name=h.name,
        hop_by_hop=hop_by_hop_id(h.txn_id, h.request_sender),
        end_to_end=h.e2e_id & 0xFFFFFFFF,
        session_id=session_id(origin.host, h.e2e_id),
        origin_host="",
        origin_realm="",
    )
    if h.is_request:
        key = h.name[:2]
        dest_host = None if key == "AI" else target.host  # an AIR goes to the home realm only
        return replace(
            base, origin_host=origin.host, origin_realm=origin.realm, destination_host=dest_host,
            destination_realm=target.realm, user_name=str(h.imsi),
            visited_plmn_id=h.visited_plmn.tbcd() if key in ("UL", "AI") else None,
            route_record=tuple(e.host for e in h.path[:h.hop]),
            retransmitted=h.retransmission, initial_attach=h.initial_attach,
        )
    answerer = h.path[h.responder]
    if h.result_code is None:
        raise ValueError(f"{h.name} without a result code")
    success = h.result_code == 2001 and not h.experimental
    return replace(
        base, origin_host=answerer.host, origin_realm=answerer.realm,
        result_code=None if h.experimental else h.result_code,
        experimental_result_code=h.result_code if h.experimental else None,
        auth_vector=auth_vector(h.imsi, h.txn_id) if success and h.name == "AIA" else None,
    )


# -- templates ------------------------------------------------------------------


@dataclass(frozen=True)
class S6aTemplate:
    """An encoded message of one shape and where its variable fields sit (offsets into ``data``)."""

    data: bytes
    session: int
    """Offset of the Session-Id's 21-character identifier suffix."""
    imsi: int
    """Offset of the User-Name digits, or -1."""
    imsi_len: int
    vector: tuple[int, int, int, int] | None
    """Offsets of RAND, XRES, AUTN, KASME data, or None."""
    request_sender: int
    """Position of the request's sender on the path (for the hop-by-hop identifier)."""

    def fill(self, buf: bytearray, base: int, imsi: int, txn_id: int, e2e_id: int) -> None:
        """Patch the variable fields into ``buf``, where the message starts at ``base``."""
        struct.pack_into("!II", buf, base + 12, ((txn_id << 3) | self.request_sender) & 0xFFFFFFFF,
                         e2e_id & 0xFFFFFFFF)
        s = base + self.session
        buf[s:s + SESSION_SUFFIX_LEN] = b"%010d;%010d" % ((e2e_id >> 32) & 0xFFFFFFFF, e2e_id & 0xFFFFFFFF)
        if self.imsi >= 0:
            digits = b"%d" % imsi
            if len(digits) != self.imsi_len:
                raise ValueError(f"IMSI {imsi} does not fit a {self.imsi_len}-digit template")
            s = base + self.imsi
            buf[s:s + self.imsi_len] = digits
        if self.vector is not None:
            v = auth_vector(imsi, txn_id)
            r, x, a, k = self.vector
            buf[base + r:base + r + 16] = v.rand
            buf[base + x:base + x + 8] = v.xres
            buf[base + a:base + a + 16] = v.autn
            buf[base + k:base + k + 32] = v.kasme


def template(h: S6aHop) -> S6aTemplate:
    """Encode the shape of ``h`` once (its IMSI, identifiers and vector are placeholders to patch)."""
    data = encode(s6a_message(h))
    msg = d.decode(data)
    sid = msg.find(Code.SESSION_ID)
    if sid is None:
        raise AssertionError("no Session-Id")
    user = msg.find(Code.USER_NAME)
    offsets = {a.code: a.offset for a in msg.walk() if a.code in (Code.RAND, Code.XRES, Code.AUTN, Code.KASME)}
    vector = None
    if offsets:
        vector = (offsets[Code.RAND], offsets[Code.XRES], offsets[Code.AUTN], offsets[Code.KASME])
    return S6aTemplate(
        data=data,
        session=sid.offset + len(sid.data) - SESSION_SUFFIX_LEN,
        imsi=-1 if user is None else user.offset,
        imsi_len=0 if user is None else len(user.data),
        vector=vector,
        request_sender=h.request_sender,
    )
