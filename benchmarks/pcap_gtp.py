"""GTPv2-C packet writing speed: roamsim's template emitter against a straightforward full encoding.

Rows: whole S5/S8 sessions (Create Session, Modify Bearer, Delete Session, each
a request and its response; 2 % of the Create Sessions rejected with cause 78)
of random roamers (fixed seed) from three home operators on the home-routed
paths of one visited SGW, in time order. Both contenders write the same rows
as pcapng into memory, side by side in one process:

* **template**: :class:`~roamsim.sinks.pcap.emit_gtp.GtpEmitter` (shapes encoded
  once, per-session values computed with NumPy, bytes patched per packet);
* **full encode**: per row, :func:`~roamsim.sinks.pcap.gtpv2.gtp_message` +
  :func:`~roamsim.sinks.pcap.gtpv2.encode` + :meth:`UdpPath.frame` +
  :meth:`PcapngWriter.packet`, the obvious loop.

Before timing, the GTP payloads of both outputs are compared (they must be
identical). Prints packets/s of each and their ratio.

    python benchmarks/pcap_gtp.py             # N = 120,000 packets, best of 3
    python benchmarks/pcap_gtp.py --quick     # N = 24,000
"""

from __future__ import annotations

import argparse
import io
import statistics
import struct
import sys
import time

import numpy as np

from roamsim.sinks.pcap.addressing import Addressing
from roamsim.sinks.pcap.emit_gtp import GtpEmitter
from roamsim.sinks.pcap.gtpv2 import MESSAGE_NAMES, PORT_GTPC, encode, gtp_message
from roamsim.sinks.pcap.pcapng import PcapngWriter, comment_option
from roamsim.sinks.pcap.udp import UDP_PAYLOAD_OFFSET, UdpPath

SEED = 20_240_604
T0 = 1_814_573_053_601_097_896
OPERATORS = [("es-one", "214-01", "ES"), ("uk-alpha", "234-15", "GB"), ("us-big", "310-260", "US"),
             ("de-tel", "262-01", "DE")]
ELEMENTS = ["es-one.sgw", "uk-alpha.pgw", "us-big.pgw", "de-tel.pgw"]
IMSI_BASE = {1: 234_150_000_000_000, 2: 310_260_000_000_000, 3: 262_010_000_000_000}
PROCEDURE = (("CreateSession", 0), ("ModifyBearer", 20_000_000_000), ("DeleteSession", 600_000_000_000))


def session_rows(n_packets: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """About ``n_packets`` rows of whole sessions (module docstring), in time order."""
    rng = np.random.default_rng(seed)
    sessions = max(1, n_packets // 6)
    home = rng.integers(1, 4, sessions)
    imsi = np.array([IMSI_BASE[h] for h in home.tolist()], dtype=np.int64) + rng.integers(0, 10**9, sessions)
    start = T0 + np.sort(rng.integers(0, 3_600_000_000_000, sessions))
    rejected = rng.random(sessions) < 0.02
    cols: dict[str, list[np.ndarray]] = {}
    e2e = np.arange(1, sessions + 1, dtype=np.int64)
    for k, (name, offset) in enumerate(PROCEDURE):
        keep = np.ones(sessions, dtype=bool) if k == 0 else ~rejected
        m = int(keep.sum())
        txn = e2e[keep] * 4 + k
        for is_req, delay in ((True, 0), (False, 40_000_000)):
            part = {
                "time": start[keep] + offset + delay, "msg": np.full(m, MESSAGE_NAMES.index(name), np.int16),
                "is_request": np.full(m, is_req), "txn_id": txn, "e2e_id": e2e[keep], "procedure_id": txn,
                "imsi": imsi[keep], "origin": np.where(is_req, 0, home[keep]).astype(np.int32),
                "destination": np.where(is_req, home[keep], 0).astype(np.int32), "hop": np.zeros(m, np.int8),
                "rc": np.where(is_req, 0, np.where((k == 0) & rejected[keep], 78, 16)).astype(np.int32),
                "retrans": np.zeros(m, np.int8), "home_op": home[keep].astype(np.int16),
                "visited_op": np.zeros(m, np.int16),
            }
            part["txn_origin"], part["txn_responder"] = np.zeros(m, np.int32), home[keep].astype(np.int32)
            for key, v in part.items():
                cols.setdefault(key, []).append(np.asarray(v))
    out = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.argsort(out["time"], kind="stable")
    return {k: v[order] for k, v in out.items()}


def _emitter(buf: io.BytesIO) -> tuple[PcapngWriter, GtpEmitter]:
    addressing = Addressing([(op, plmn) for op, plmn, _ in OPERATORS])
    w = PcapngWriter(buf, comment="benchmark")
    return w, GtpEmitter(w, addressing, ELEMENTS, [o for o, _, _ in OPERATORS], [c for _, _, c in OPERATORS],
                         watchdogs=False)


def template_path(rows: dict[str, np.ndarray]) -> tuple[float, bytes]:
    buf = io.BytesIO()
    t = time.perf_counter()
    w, em = _emitter(buf)
    n = rows["time"].shape[0]
    for s in range(0, n, 65_536):
        em.emit({k: v[s:s + 65_536] for k, v in rows.items()})
    w.flush()
    return time.perf_counter() - t, buf.getvalue()


def full_encode_path(rows: dict[str, np.ndarray]) -> tuple[float, bytes]:
    """The obvious loop: a message object, its encoding and its frame per row."""
    buf = io.BytesIO()
    t = time.perf_counter()
    w, em = _emitter(buf)
    paths: dict[frozenset[str], tuple[int, UdpPath]] = {}
    cols = [rows[k].tolist() for k in ("msg", "is_request", "rc", "origin", "destination", "home_op", "visited_op",
                                       "imsi", "e2e_id", "txn_id", "time", "procedure_id")]
    for msg, req, rc, o, d, home, visited, imsi, e2e, txn, ts, proc in zip(*cols, strict=True):
        h = em.hop(msg, req, rc, o, d, home, visited, imsi, e2e, txn & 0xFFFFFF)
        key = frozenset((h.sgw.name, h.pgw.name))
        found = paths.get(key)
        if found is None:
            found = paths[key] = (w.add_interface(f"{h.sgw.name}<->{h.pgw.name}"),
                                  UdpPath(h.sgw, h.pgw, port=PORT_GTPC))
        iface, path = found
        frame = path.frame(h.sgw if req else h.pgw, encode(gtp_message(h)))
        w.packet(iface, ts, frame, comment_option(f"procedure_id={proc} txn_id={txn}"))
    w.flush()
    return time.perf_counter() - t, buf.getvalue()


def gtp_payloads(pcapng: bytes) -> list[bytes]:
    """The GTPv2-C messages (not Echo) of a pcapng file, in order."""
    pos, out = 0, []
    while pos < len(pcapng):
        btype, total = struct.unpack_from("<II", pcapng, pos)
        if btype == 6:
            cap = struct.unpack_from("<I", pcapng, pos + 20)[0]
            frame = pcapng[pos + 28:pos + 28 + cap]
            if frame[UDP_PAYLOAD_OFFSET + 1] >= 32:
                out.append(frame[UDP_PAYLOAD_OFFSET:])
        pos += total
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("-n", type=int, default=120_000, help="packets (default 120,000)")
    ap.add_argument("--quick", action="store_true", help="N = 24,000")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each contender (best is reported)")
    args = ap.parse_args(argv)
    rows = session_rows(24_000 if args.quick else args.n)
    n = rows["time"].shape[0]
    _, fast_bytes = template_path(rows)
    _, slow_bytes = full_encode_path(rows)
    if gtp_payloads(fast_bytes) != gtp_payloads(slow_bytes) or len(gtp_payloads(fast_bytes)) != n:
        print("the template output differs from the full encoding", file=sys.stderr)
        return 1
    fast_t, slow_t = [], []
    for _ in range(args.repeat):
        fast_t.append(template_path(rows)[0])
        slow_t.append(full_encode_path(rows)[0])
    fast, slow = n / min(fast_t), n / min(slow_t)
    print(f"GTPv2-C rows: {n:,} packets of {n // 6:,} sessions (seed {SEED}), "
          f"{len(fast_bytes) / n:.0f} bytes/packet in the file")
    print(f"template emitter: best {min(fast_t):.3f} s (median {statistics.median(fast_t):.3f} s), "
          f"{fast:,.0f} packets/s")
    print(f"full encode:      best {min(slow_t):.3f} s (median {statistics.median(slow_t):.3f} s), "
          f"{slow:,.0f} packets/s")
    print(f"ratio: the template emitter is {fast / slow:.1f}x the full encode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
