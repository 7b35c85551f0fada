"""Packet writing speed: roamsim's template writer (and scapy, only if it is installed).

Two measurements, side by side in one process:

* **ULR**: N Update-Location-Requests on the visited-DEA → IPX hop, each with
  its own IMSI, Session-Id, hop-by-hop and end-to-end identifiers, TSN/SSN,
  IP identification and checksum, timestamp, CRC32c and per-packet comment,
  written as pcapng (the case of ``shared/design/PERFORMANCE.md``).
* **run**: :func:`write_capture` of a simulated quickstart run at capture
  point ``all`` (every message type, Parquet reading and sorting included).

If ``scapy`` is importable it builds the same ULR packets (``scapy.contrib.diameter``
plus Ether/IP/SCTP) for a smaller N and the ratio is printed. scapy is GPL and
never a dependency of roamsim: without it that part is skipped.

    python benchmarks/pcap_writer.py             # N = 100,000, best of 3
    python benchmarks/pcap_writer.py --quick     # N = 20,000
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from roamsim import simulate
from roamsim.scenario import load_scenario
from roamsim.sinks.pcap.addressing import Addressing
from roamsim.sinks.pcap.capture import write_capture
from roamsim.sinks.pcap.crc32c import IMPLEMENTATION
from roamsim.sinks.pcap.diameter_s6a import encode, s6a_message
from roamsim.sinks.pcap.emit_s6a import MESSAGE_NAMES, S6aSctpEmitter
from roamsim.sinks.pcap.pcapng import PcapngWriter
from roamsim.world.model import compile_world

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "src" / "roamsim" / "examples" / "quickstart.yaml"
T0 = 1_814_573_053_601_097_896


def ulr_rows(world: Any, n: int) -> dict[str, np.ndarray]:
    """N ULRs from es-one.mme1 to uk-alpha's HSS, on hop 1 (es-one.dea → ipx)."""
    mme = world.element_names.index("es-one.mme1")
    hss = world.element_names.index("uk-alpha.hss")
    ids = np.arange(1, n + 1, dtype=np.int64)
    return {
        "time": T0 + ids * 1000, "msg": np.full(n, MESSAGE_NAMES.index("ULR"), dtype=np.int16),
        "is_request": np.ones(n, dtype=bool), "txn_id": ids, "e2e_id": ids, "procedure_id": ids,
        "imsi": 234150100000000 + ids, "hop": np.ones(n, dtype=np.int64), "rc": np.zeros(n, dtype=np.int64),
        "exp": np.zeros(n, dtype=bool), "txn_origin": np.full(n, mme, dtype=np.int16),
        "txn_responder": np.full(n, hss, dtype=np.int16), "retrans": np.zeros(n, dtype=np.int8),
        "initial": np.ones(n, dtype=bool),
    }


def roamsim_ulr(world: Any, rows: dict[str, np.ndarray]) -> tuple[float, int]:
    buf = io.BytesIO()
    t = time.perf_counter()
    writer = PcapngWriter(buf, comment="benchmark")
    emitter = S6aSctpEmitter(writer, world, Addressing.for_world(world))
    n = rows["time"].shape[0]
    for s in range(0, n, 65_536):
        emitter.emit({k: v[s:s + 65_536] for k, v in rows.items()})
    writer.flush()
    return time.perf_counter() - t, len(buf.getvalue())


def scapy_ulr(world: Any, n: int) -> float | None:
    """Build and write the same ULRs with scapy; None when scapy is not installed."""
    if importlib.util.find_spec("scapy") is None:
        return None
    from scapy.all import IP, SCTP, Ether, PcapNgWriter, SCTPChunkData  # type: ignore[import-not-found]
    from scapy.contrib.diameter import AVP, DiamReq  # type: ignore[import-not-found]

    emitter = S6aSctpEmitter(PcapngWriter(io.BytesIO()), world, Addressing.for_world(world))
    mme = world.element_names.index("es-one.mme1")
    hss = world.element_names.index("uk-alpha.hss")
    hop = emitter.hop(MESSAGE_NAMES.index("ULR"), mme, hss, 1, 0, False, False, True, 234150100000001, 1, 1)
    m = s6a_message(hop)
    src, dst = hop.link
    tmp = tempfile.NamedTemporaryFile(suffix=".pcapng", delete=False)  # noqa: SIM115 - scapy opens it by name
    tmp.close()
    pw = PcapNgWriter(tmp.name)
    t = time.perf_counter()
    for i in range(1, n + 1):
        imsi = str(234150100000000 + i)
        sid = f"{m.origin_host};0000000000;{i:010d}"
        avps = [AVP([263, 0], val=sid), AVP([277, 0], val=1), AVP([264, 0], val=m.origin_host),
                AVP([296, 0], val=m.origin_realm), AVP([293, 0], val=m.destination_host or ""),
                AVP([283, 0], val=m.destination_realm or ""), AVP([1, 0], val=imsi),
                AVP([1032, 10415], val=1004), AVP([1405, 10415], val=0x22),
                AVP([1407, 10415], val=m.visited_plmn_id or b"")]
        avps += [AVP([282, 0], val=h) for h in m.route_record]
        diam = DiamReq(316, drAppId=16777251, drHbHId=(i << 3) | 1, drEtEId=i, avpList=avps)
        pkt = (Ether(src=":".join(f"{b:02x}" for b in src.mac), dst=":".join(f"{b:02x}" for b in dst.mac))
               / IP(src=src.ipv4_text, dst=dst.ipv4_text, id=i & 0xFFFF, flags="DF")
               / SCTP(sport=3868, dport=3868, tag=1)
               / SCTPChunkData(tsn=i, stream_id=1, stream_seq=i & 0xFFFF, proto_id=46, beginning=1, ending=1,
                               data=bytes(diam)))
        pkt.time = (T0 + i * 1000) / 1e9
        pkt.comments = [f"procedure_id={i} txn_id={i}".encode()]
        pw.write(pkt)
    pw.close()
    dt = time.perf_counter() - t
    Path(tmp.name).unlink()
    return dt


def run_capture(tmp: Path) -> tuple[float, int]:
    run_dir = tmp / "run"
    simulate(load_scenario(SCENARIO), run_dir)
    t = time.perf_counter()
    summary = write_capture(run_dir, tmp / "all.pcapng", capture_point="all")
    return time.perf_counter() - t, summary.packets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("-n", type=int, default=100_000, help="ULR packets (default 100,000)")
    ap.add_argument("--quick", action="store_true", help="N = 20,000")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each contender (best is reported)")
    ap.add_argument("--scapy-n", type=int, default=2_000, help="packets for scapy (default 2,000)")
    args = ap.parse_args(argv)
    n = 20_000 if args.quick else args.n
    world = compile_world(load_scenario(SCENARIO))
    rows = ulr_rows(world, n)
    # a sanity check before timing: the template path gives the full encoding's bytes
    emitter = S6aSctpEmitter(PcapngWriter(io.BytesIO()), world, Addressing.for_world(world))
    h = emitter.hop(MESSAGE_NAMES.index("ULR"), int(rows["txn_origin"][0]), int(rows["txn_responder"][0]), 1, 0,
                    False, False, True, int(rows["imsi"][0]), 1, 1)
    expected = encode(s6a_message(h))
    buf = io.BytesIO()
    w = PcapngWriter(buf)
    S6aSctpEmitter(w, world, Addressing.for_world(world)).emit({k: v[:1] for k, v in rows.items()})
    w.flush()
    if expected not in buf.getvalue():
        print("template output differs from the full encoding", file=sys.stderr)
        return 1

    print(f"crc32c: {IMPLEMENTATION}")
    times = []
    size = 0
    for _ in range(args.repeat):
        dt, size = roamsim_ulr(world, rows)
        times.append(dt)
    best = min(times)
    rate = n / best
    print(f"roamsim ULR template writer: {n:,} packets, best {best:.3f} s (median {statistics.median(times):.3f} s), "
          f"{rate:,.0f} packets/s, {size / n:.0f} bytes/packet in the file")
    with tempfile.TemporaryDirectory() as tmp:
        dt, packets = run_capture(Path(tmp))
        print(f"roamsim write_capture (quickstart run, capture point all, Parquet read and sort included): "
              f"{packets:,} packets in {dt:.3f} s, {packets / dt:,.0f} packets/s")
    scapy_n = min(args.scapy_n, n)
    st = scapy_ulr(world, scapy_n)
    if st is None:
        print("scapy: not installed, comparison skipped (it is never a roamsim dependency)")
    else:
        srate = scapy_n / st
        print(f"scapy: {scapy_n:,} packets in {st:.3f} s, {srate:,.0f} packets/s; roamsim is {rate / srate:,.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
