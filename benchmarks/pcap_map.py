"""MAP packet writing speed: the template path of :class:`MapEmitter` against its full-encode reference path.

Rows for a fixed-seed population of roamers (home uk-alpha, visiting es-one or fr-bleu) are built here the
way the engine records them (one row per message per hop, four hops between operators, one inside the
home network): a CS location update (sendAuthenticationInfo, updateLocation with a nested
insertSubscriberData), a GPRS attach (sendAuthenticationInfo, updateGprsLocation with a nested
insertSubscriberData) or a mobile-terminated short message (sendRoutingInfoForSM, mt-forwardSM), with 5%
of the answers errors. Both paths write the same rows into an in-memory pcapng; the reference path,
slower, gets a prefix of them and the script checks its bytes equal the template path's on that prefix.

    python benchmarks/pcap_map.py             # N = 200,000 rows, best of 3
    python benchmarks/pcap_map.py --quick     # N = 40,000
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np

from roamsim.sinks.pcap.addressing import Addressing
from roamsim.sinks.pcap.crc32c import IMPLEMENTATION
from roamsim.sinks.pcap.emit_map import MESSAGE_NAMES, MapEmitter
from roamsim.sinks.pcap.pcapng import PcapngWriter

SEED = 20_240_601
OPERATORS = [("uk-alpha", "234-15", "GB"), ("es-one", "214-01", "ES"), ("fr-bleu", "208-20", "FR")]
KINDS = ("hlr", "stp", "smsc", *(f"vlr{i}" for i in range(1, 9)), *(f"sgsn{i}" for i in range(1, 5)))
NAMES = ["ipx", *(f"{op}.{k}" for op, _, _ in OPERATORS for k in KINDS)]
IDX = {n: i for i, n in enumerate(NAMES)}
T0 = 1_814_573_053_601_097_896
HOP_NS, SERVE_NS = 2_000_000, 5_000_000
COLUMNS = ("time", "msg", "is_request", "txn_id", "e2e_id", "procedure_id", "imsi", "origin", "destination",
           "txn_origin", "txn_responder", "hop", "rc", "retrans", "home_op", "visited_op")
ERRORS = {"updateLocation": 8, "updateGprsLocation": 34, "sendAuthenticationInfo": 35, "mt-forwardSM": 6,
          "sendRoutingInfoForSM": 1, "insertSubscriberData": 36}


class Builder:
    """Rows of whole transactions, appended as tuples in the order of :data:`COLUMNS`."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, ...]] = []
        self.txn = 0

    @staticmethod
    def path(a: str, b: str) -> list[str]:
        oa, ob = a.split(".", maxsplit=1)[0], b.split(".", maxsplit=1)[0]
        return [a, b] if oa == ob else [a, f"{oa}.stp", "ipx", f"{ob}.stp", b]

    def request(self, t: int, op: str, a: str, b: str, imsi: int, proc: int, visited: int,
                e2e: int | None = None) -> tuple[int, int, list[str], int, int]:
        self.txn += 1
        e2e = self.txn if e2e is None else e2e
        p = self.path(a, b)
        for h in range(len(p) - 1):
            self.rows.append((t + h * HOP_NS, MESSAGE_NAMES.index(op), 1, self.txn, e2e, proc, imsi, IDX[p[h]],
                              IDX[p[h + 1]], IDX[a], IDX[b], h, 0, 0, 0, visited))
        return self.txn, e2e, p, t + (len(p) - 1) * HOP_NS, MESSAGE_NAMES.index(op)

    def answer(self, req: tuple[int, int, list[str], int, int], t: int, rc: int, imsi: int, proc: int,
               visited: int) -> int:
        txn, e2e, p, _, msg = req
        back = p[::-1]
        for h in range(len(back) - 1):
            self.rows.append((t + h * HOP_NS, msg, 0, txn, e2e, proc, imsi, IDX[back[h]], IDX[back[h + 1]],
                              IDX[p[0]], IDX[p[-1]], h, rc, 0, 0, visited))
        return t + (len(back) - 1) * HOP_NS

    def transaction(self, t: int, op: str, a: str, b: str, rc: int, imsi: int, proc: int, visited: int) -> int:
        req = self.request(t, op, a, b, imsi, proc, visited)
        return self.answer(req, req[3] + SERVE_NS, rc, imsi, proc, visited)


def population_rows(n_rows: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """At least ``n_rows`` rows of procedures of a fixed-seed population, in time order (then cut to ``n_rows``)."""
    rng = np.random.default_rng(seed)
    b = Builder()
    t, proc = T0, 0
    hlr, smsc = "uk-alpha.hlr", "uk-alpha.smsc"
    while len(b.rows) < n_rows:
        proc += 1
        t += int(rng.exponential(2_000_000))
        visited = int(rng.integers(1, 3))
        op_id = OPERATORS[visited][0]
        imsi = 234_150_000_000_000 + int(rng.integers(0, 10**9))
        fail = rng.random() < 0.05
        kind = rng.random()
        if kind < 0.5 or kind >= 0.8:
            gprs = kind >= 0.8
            node = f"{op_id}.sgsn{rng.integers(1, 5)}" if gprs else f"{op_id}.vlr{rng.integers(1, 9)}"
            update = "updateGprsLocation" if gprs else "updateLocation"
            end = b.transaction(t, "sendAuthenticationInfo", node, hlr, 0, imsi, proc, visited)
            req = b.request(end + 1_000_000, update, node, hlr, imsi, proc, visited)
            if fail:
                b.answer(req, req[3] + SERVE_NS, ERRORS[update], imsi, proc, visited)
                continue
            isd = b.request(req[3] + SERVE_NS, "insertSubscriberData", hlr, node, imsi, proc, visited, e2e=req[1])
            done = b.answer(isd, isd[3] + SERVE_NS, 0, imsi, proc, visited)
            b.answer(req, done + SERVE_NS, 0, imsi, proc, visited)
        else:
            end = b.transaction(t, "sendRoutingInfoForSM", smsc, hlr, 0, imsi, proc, visited)
            vlr = f"{op_id}.vlr{rng.integers(1, 9)}"
            b.transaction(end + SERVE_NS, "mt-forwardSM", smsc, vlr, ERRORS["mt-forwardSM"] if fail else 0, imsi, proc,
                          visited)
    rows = sorted(b.rows, key=lambda r: r[0])[:n_rows]
    arr = np.array(rows, dtype=np.int64)
    out = {name: arr[:, j] for j, name in enumerate(COLUMNS)}
    out["is_request"] = out["is_request"].astype(bool)
    return out


def run(rows: dict[str, np.ndarray], reference: bool) -> tuple[float, bytes, int, float]:
    """Seconds to write ``rows`` (in 65,536-row chunks), the file, all packets written, and the CPU seconds."""
    buf = io.BytesIO()
    cpu = time.process_time()
    t = time.perf_counter()
    writer = PcapngWriter(buf, comment="benchmark")
    em = MapEmitter(writer, Addressing([(o, p) for o, p, _ in OPERATORS]), NAMES, [o for o, _, _ in OPERATORS],
                    [c for _, _, c in OPERATORS], reference=reference)
    n = rows["time"].shape[0]
    for s in range(0, n, 65_536):
        em.emit({k: v[s:s + 65_536] for k, v in rows.items()})
    writer.flush()
    return time.perf_counter() - t, buf.getvalue(), writer.packets, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="40,000 rows instead of 200,000")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each path; the best counts (default 3)")
    args = ap.parse_args()
    n = 40_000 if args.quick else 200_000
    rows = population_rows(n)
    ref_n = n // 5
    ref_rows = {k: v[:ref_n] for k, v in rows.items()}
    fast = [run(rows, False) for _ in range(args.repeat)]
    slow = [run(ref_rows, True) for _ in range(args.repeat)]
    best_fast, best_slow = min(f[0] for f in fast), min(s[0] for s in slow)
    if run(ref_rows, False)[1] != slow[0][1]:
        raise SystemExit("the template path and the full-encode path wrote different bytes")
    fast_pps, slow_pps = n / best_fast, ref_n / best_slow
    cpu_fast, cpu_slow = min(f[3] for f in fast), min(s[3] for s in slow)
    print(f"crc32c: {IMPLEMENTATION}; seed {SEED}; {len(set(rows['e2e_id'].tolist()))} dialogues")
    print(f"template path:    {n:>8,} message packets ({fast[0][2]:,} with link set-up), "
          f"{len(fast[0][1]) / 1e6:.1f} MB, best {best_fast:.3f} s: {fast_pps:,.0f} packets/s "
          f"(runs: {', '.join(f'{n / f[0]:,.0f}' for f in fast)})")
    print(f"full-encode path: {ref_n:>8,} message packets, best {best_slow:.3f} s: {slow_pps:,.0f} packets/s "
          f"(runs: {', '.join(f'{ref_n / s[0]:,.0f}' for s in slow)})")
    print(f"per CPU second (the machine may be shared): template {n / cpu_fast:,.0f} packets/s, "
          f"full-encode {ref_n / cpu_slow:,.0f} packets/s")
    print(f"ratio: {fast_pps / slow_pps:.1f}x wall, {(n / cpu_fast) / (ref_n / cpu_slow):.1f}x CPU "
          f"(same bytes on the common {ref_n:,} rows)")


if __name__ == "__main__":
    main()
