"""SBI packet writing speed: the template path of SbiEmitter against the full-encode path, in one run.

Rows (fixed seed): roamers of two home networks (one with a 3-digit MNC) in
two visited networks register (Nausf Authenticate and Confirm, Nudm UECM
Registration, SDM Get and Subscribe; 1 in 10 steered away with a 403) and
open and release a PDU session (Nsmf Create and Release), each request and
answer on the four hops AMF/V-SMF → visited SEPP → IPX → home SEPP →
AUSF/UDM/H-SMF, at random start times within an hour. Every row is one
packet with its own IMSI, stream id, TCP sequence numbers and checksums, IP
identification and checksum, timestamp and pcapng comment; the connection
set-up and N32-c packets come on top and are counted separately.

Both paths write the same bytes (checked here on the full-encode subset);
the printed ratio is template packets/s ÷ full-encode packets/s.

    python benchmarks/pcap_sbi.py              # about 100,000 packets, best of 3
    python benchmarks/pcap_sbi.py --quick      # about 20,000
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np

from roamsim.sinks.pcap.addressing import Addressing
from roamsim.sinks.pcap.emit_sbi import MESSAGE_NAMES, SbiEmitter
from roamsim.sinks.pcap.pcapng import PcapngWriter

SEED = 20_240_501
OPERATORS = [("es-one", "214-01", "ES"), ("fr-two", "208-10", "FR"), ("uk-alpha", "234-15", "GB"),
             ("us-big", "310-260", "US")]
VISITED = ("es-one", "fr-two")
HOMES = ("uk-alpha", "us-big")
T0 = 1_814_573_053_601_097_896
HOP_NS = 4_000_000
CHUNK = 65_536


def world() -> tuple[Addressing, list[str]]:
    names = ["ipx"]
    for op in VISITED:
        names += [f"{op}.amf1", f"{op}.amf2", f"{op}.smf", f"{op}.sepp"]
    for op in HOMES:
        names += [f"{op}.ausf", f"{op}.udm", f"{op}.smf", f"{op}.sepp"]
    return Addressing([(o, p) for o, p, _ in OPERATORS]), names


def rows(n_packets: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """About ``n_packets`` message rows, time-ordered."""
    rng = np.random.default_rng(seed)
    _, names = world()
    idx = {n: i for i, n in enumerate(names)}
    op_index = {o: i for i, (o, _, _) in enumerate(OPERATORS)}
    out: list[tuple[int, ...]] = []
    txn = 0
    proc = 0
    roamer = 0
    while len(out) < n_packets:
        roamer += 1
        home = HOMES[int(rng.integers(2))]
        visited = VISITED[int(rng.integers(2))]
        imsi = (234150000000000 if home == "uk-alpha" else 310260000000000) + roamer
        amf = f"{visited}.amf{1 + int(rng.integers(2))}"
        t = T0 + int(rng.integers(3_600_000_000_000))
        steered = rng.random() < 0.1
        proc += 1
        plan: list[tuple[str, str, str, int]] = [
            ("Nausf_UEAuthentication_Authenticate", amf, f"{home}.ausf", 201),
            ("Nausf_UEAuthentication_Confirm", amf, f"{home}.ausf", 200),
            ("Nudm_UECM_Registration", amf, f"{home}.udm", 403 if steered else 201),
        ]
        if not steered:
            plan += [("Nudm_SDM_Get", amf, f"{home}.udm", 200), ("Nudm_SDM_Subscribe", amf, f"{home}.udm", 201),
                     ("Nsmf_PDUSession_Create", f"{visited}.smf", f"{home}.smf", 201),
                     ("Nsmf_PDUSession_Release", f"{visited}.smf", f"{home}.smf", 204)]
        for name, consumer, producer, status in plan:
            txn += 1
            if name.startswith("Nsmf"):
                proc += 1
            path = [consumer, f"{visited}.sepp", "ipx", f"{home}.sepp", producer]
            ends = (idx[consumer], idx[producer])
            msg = MESSAGE_NAMES.index(name)
            for i in range(4):
                out.append((t, msg, 1, txn, txn, proc, imsi, idx[path[i]], idx[path[i + 1]], *ends, i, 0, 0,
                            op_index[home], op_index[visited]))
                t += HOP_NS
            for j in range(4):
                out.append((t, msg, 0, txn, txn, proc, imsi, idx[path[4 - j]], idx[path[3 - j]], *ends, j, status,
                            0, op_index[home], op_index[visited]))
                t += HOP_NS
    out.sort(key=lambda r: r[0])
    cols = ("time", "msg", "is_request", "txn_id", "e2e_id", "procedure_id", "imsi", "origin", "destination",
            "txn_origin", "txn_responder", "hop", "rc", "retrans", "home_op", "visited_op")
    types = {"is_request": bool, "origin": np.int32, "destination": np.int32, "txn_origin": np.int32,
             "txn_responder": np.int32, "hop": np.int8, "rc": np.int32, "retrans": np.int8, "home_op": np.int16,
             "visited_op": np.int16}
    return {k: np.array([r[i] for r in out], dtype=types.get(k, np.int64)) for i, k in enumerate(cols)}


def write(c: dict[str, np.ndarray], *, templates: bool) -> tuple[float, bytes, SbiEmitter]:
    addressing, names = world()
    buf = io.BytesIO()
    start = time.perf_counter()
    writer = PcapngWriter(buf, comment="benchmark")
    emitter = SbiEmitter(writer, addressing, names, [o for o, _, _ in OPERATORS], [x for _, _, x in OPERATORS],
                         templates=templates)
    n = c["time"].shape[0]
    for s in range(0, n, CHUNK):
        emitter.emit({k: v[s:s + CHUNK] for k, v in c.items()})
    writer.flush()
    return time.perf_counter() - start, buf.getvalue(), emitter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=100_000, help="message packets (rows) for the template path")
    ap.add_argument("--full-packets", type=int, default=20_000, help="rows for the full-encode path")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each path; the best is reported")
    ap.add_argument("--quick", action="store_true", help="20,000 and 5,000 rows")
    args = ap.parse_args()
    if args.quick:
        args.packets, args.full_packets = 20_000, 5_000
    big = rows(args.packets)
    small = {k: v[:args.full_packets] for k, v in big.items()}
    n, m = big["time"].shape[0], small["time"].shape[0]

    fast = min(write(big, templates=True)[0] for _ in range(args.repeat))
    full = min(write(small, templates=False)[0] for _ in range(args.repeat))
    _, data, emitter = write(big, templates=True)
    same = write(small, templates=True)[1] == write(small, templates=False)[1]
    fast_rate, full_rate = n / fast, m / full
    print(f"rows: {n:,} template path, {m:,} full-encode path (seed {SEED}); "
          f"{emitter.writer.packets - n:,} set-up/N32-c packets besides; {len(data) / n:.0f} B/packet in the file")
    print(f"template path:     {fast_rate:>10,.0f} packets/s  ({fast:.3f} s)")
    print(f"full-encode path:  {full_rate:>10,.0f} packets/s  ({full:.3f} s)")
    print(f"ratio:             {fast_rate / full_rate:>10.1f}x   (same bytes: {same})")
    if not same:
        raise SystemExit("the two paths wrote different bytes")


if __name__ == "__main__":
    main()
