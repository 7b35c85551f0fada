"""Runs :mod:`roamsim.engine.compiled.kernel`: lays out its arenas from the world and the population, runs it in
slices, hands its record batches to the event log, grows its pools, reports progress and stops on Ctrl-C.

The world's tables include the reject-based steering policies (GSMA IR.73: home × country → policy, preferred
partners), the usage elements (SGW, PGW, SMSC, HLR per operator, the VLR paired with each MME, local breakout per
agreement) and their paths (GTPv2-C SGW → PGW, MAP through the STPs), each session's planned bytes and each cohort's
uplink share. Every population event goes to the kernel (arrival, legs, power cycles, purges, MME and network
changes, IDR, departure, session start and end, MT and MO SMS); sessions.parquet rows leave through the sink's
``write_sessions`` like the other two buffers. :func:`roamsim.engine.compiled.unsupported` refuses 2G/3G/5G up
front. A kernel that still meets something it does not cover (``ST_UNSUPPORTED``, which the up-front
check should make impossible) makes :meth:`CompiledEngine.run` raise RuntimeError: never a silently wrong run."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any, cast

import numpy as np

from roamsim.catalogue import commands as cat
from roamsim.catalogue import diameter as dia
from roamsim.engine import base as B
from roamsim.engine.compiled import NotCovered, exclusion_slots, unsupported
from roamsim.engine.compiled import kernel as k
from roamsim.engine.draws import engine_generators, jitter_block, service_block, uniform_block
from roamsim.placement import ThreadPlacement
from roamsim.population import build as pop
from roamsim.population.build import Population, cohort_seed
from roamsim.records.buffers import PROC_COLUMNS, SESSION_COLUMNS, TXN_COLUMNS, RecordBuffers
from roamsim.scenario.schema import DataRouting, Scenario
from roamsim.world.model import MAX_HOPS, World

_STATUS = ("done", "flush", "progress", "grow", "unsupported", "stop")
_RUN_KEYS = count(1)
PROGRESS_EVERY = 2_000_000
"""Events between two progress reports: about half a second of the kernel (the Python engine reports every 200,000
events, about a second of its own). Each report is a return to Python, which waits for the GIL."""
PROGRESS_S = 0.5
"""A flush also reports progress when the last report is this old (seconds)."""
REFILL_SWITCH_S = 0.0005
"""The interpreter's switch interval while the kernel runs (seconds)."""
Int = k.Int
TXN, PROCEDURES, SESSIONS = "transactions", "procedures", "sessions"
_BUFFERS: dict[str, tuple[int, Int, Int, tuple[str, ...]]] = {
    TXN: (int(k.N_TX), k.S_TXF, k.A_TX, TXN_COLUMNS),
    PROCEDURES: (int(k.N_PR), k.S_PRF, k.A_PR, PROC_COLUMNS),
    SESSIONS: (int(k.N_SE), k.S_SEF, k.A_SE, SESSION_COLUMNS),
}
"""The kernel's record buffers, in the order they are flushed: width, fill slot, address slot, columns."""


def fresh_kernel() -> None:
    """Make sure the kernel's cached machine code was compiled with today's constants (see ``kernel.DIGEST``): a
    stale cache (the catalogue changed, kernel.py did not) is deleted, so the kernel compiles again."""
    if k.frozen_digest() == k.DIGEST:
        return
    cache = Path(getattr(getattr(k.frozen_digest, "_cache", None), "_cache_path", ""))
    if not cache.is_dir():
        raise RuntimeError(f"the compiled engine's cache is stale and was not found; delete {k.__file__}'s "
                           "__pycache__ (or NUMBA_CACHE_DIR)")
    for f in cache.glob("kernel.*.nb[ic]"):
        f.unlink()
    cast(Any, k.frozen_digest).recompile()
    if k.frozen_digest() != k.DIGEST:
        raise RuntimeError("the compiled engine's constants do not match after recompiling")


class CompiledEngine:
    """The kernel over one run: the same constructor, ``run`` and ``events`` as the Python engine."""

    def __init__(self, s: Scenario, world: World, population: Population, records: RecordBuffers, *, seed: int,
                 heap_cap: int = 1 << 12, pool_cap: int | None = None, ring_cap: int = 1 << 8) -> None:
        reason = unsupported(s, world, population)
        if reason is not None:
            raise NotCovered(f"the compiled engine does not cover this scenario's {reason}")
        self.rec = records
        self.batch = records.batch
        self.size = population.size
        self.grows = 0
        self.kernel_s = 0.0
        """Seconds spent in the kernel itself (the rest of ``run`` hands record batches to the event log)."""
        self.run_key = next(_RUN_KEYS)
        self.n_x = exclusion_slots(world, population)
        """PLMN exclusion slots per roamer: as many as it can need."""
        n_ops = len(world.op_ids)
        n_elem = len(world.element_names)
        op_index = {o: i for i, o in enumerate(world.op_ids)}
        # -- paths between every MME and every HSS, both ways (the Python engine makes them on first use; path ids
        #    are not part of the event log, the hops they stand for are)
        pathid = np.full((n_elem, n_elem, 2), -1, dtype=np.int64)
        for v in range(n_ops):
            for mme in world.op_serving[v]["mme"]:
                for h in range(n_ops):
                    hss = world.op_hss[h]
                    pathid[mme, hss, 0] = world.path(mme, hss, "dea", False)
                    pathid[hss, mme, 1] = world.path(hss, mme, "dea", True)
        # -- usage paths (engine/usage.py): S8/S5 GTPv2-C from every SGW to every PGW; MAP through the STPs: SMSC →
        #    HLR (SRI-for-SM, ReportSM-DeliveryStatus), SMSC → VLR (MT-ForwardSM), HLR → SMSC (AlertServiceCentre),
        #    VLR → SMSC (MO-ForwardSM)
        elems = world.op_elem
        for x in range(n_ops):
            for y in range(n_ops):
                pathid[elems[x]["sgw"], elems[y]["pgw"], 0] = world.path(elems[x]["sgw"], elems[y]["pgw"],
                                                                         B.BORDER_OF[B.CREATE], False)
                pathid[elems[x]["smsc"], elems[y]["hlr"], 0] = world.path(elems[x]["smsc"], elems[y]["hlr"],
                                                                          B.BORDER_OF[B.SRI_SM], False)
                pathid[elems[x]["hlr"], elems[y]["smsc"], 1] = world.path(elems[x]["hlr"], elems[y]["smsc"],
                                                                          B.BORDER_OF[B.ASC], True)
                for vlr in world.op_serving[y]["vlr"]:
                    pathid[elems[x]["smsc"], vlr, 1] = world.path(elems[x]["smsc"], vlr, B.BORDER_OF[B.MT_FSM], True)
                    pathid[vlr, elems[x]["smsc"], 0] = world.path(vlr, elems[x]["smsc"], B.BORDER_OF[B.MO_FSM],
                                                                  False)
        op_usage = np.asarray([[e["sgw"], e["pgw"], e["smsc"], e["hlr"]] for e in elems], dtype=np.int64)
        lbo = np.zeros((n_ops, n_ops), dtype=np.int64)
        for (h, v), routing in world.agreement.items():
            lbo[h, v] = routing == DataRouting.LOCAL_BREAKOUT
        sms_node = np.full(n_elem, -1, dtype=np.int64)  # usage.sms_node for an MME: the VLR paired with it
        for v in range(n_ops):
            vlrs, mmes = world.op_serving[v]["vlr"], world.op_serving[v]["mme"]
            for i, mme in enumerate(mmes):
                sms_node[mme] = vlrs[i % len(vlrs)]
        session_bytes = (population.session_bytes if population.session_bytes is not None
                         else np.zeros(0, dtype=np.int64))
        self.max_open = max_open_sessions(population)
        """Most sessions one roamer can hold open: the record buffers keep that many rows of margin."""
        path_cum = np.zeros((len(world.path_cum_ns), MAX_HOPS + 1), dtype=np.int64)
        for i, cum in enumerate(world.path_cum_ns):
            path_cum[i, :len(cum)] = cum
        server_of = np.full((len(cat.CATALOGUE), n_ops), -1, dtype=np.int64)
        for cmd, kind in B.RESPONDER_KIND.items():
            for h, e in enumerate(world.op_elem):
                server_of[cmd, h] = e.get(kind, -1)
        timeouts = {cat.DIAMETER: s.diameter.answer_timeout, cat.MAP: s.timeouts.map, cat.SBI: s.timeouts.sbi,
                    cat.GTPV2: s.timeouts.gtp}
        agree = np.zeros((n_ops, n_ops), dtype=np.int64)
        for (h, v), rats in world.agreement_rats.items():
            for rat in rats:
                agree[h, v] |= 1 << rat
        steps = np.zeros((8, 6), dtype=np.int64)
        nsteps = np.zeros(8, dtype=np.int64)
        for i, seq in enumerate((*B.REG_STEPS, *B.UPDATE_STEPS)):
            steps[i, :len(seq)] = seq
            nsteps[i] = len(seq)
        ue = s.ue
        country_idx = {c: i for i, c in enumerate(world.countries)}
        rat_tab = np.asarray([[[world.rat_for(d, h, v) for v in range(n_ops)] for h in range(n_ops)]
                              for d in range(4)], dtype=np.int64)
        pref_ptr = np.zeros(n_ops + 1, dtype=np.int64)
        pref: list[int] = []
        for h in range(n_ops):
            pref += world.op_sim_preferred[h]
            pref_ptr[h + 1] = len(pref)
        cptr = np.zeros(len(world.countries) + 1, dtype=np.int64)
        cops: list[int] = []
        for i, country in enumerate(world.countries):
            cops += world.country_ops[country]
            cptr[i + 1] = len(cops)
        max_nodes = max(1, *(len(world.op_serving[v]["mme"]) for v in range(n_ops)))
        serving = np.full((n_ops, max_nodes), -1, dtype=np.int64)
        nserv = np.zeros(n_ops, dtype=np.int64)
        for v in range(n_ops):
            nodes = world.op_serving[v]["mme"]
            serving[v, :len(nodes)] = nodes
            nserv[v] = len(nodes)
        emm = [(c, 1, e) for c, e in dia.EXPERIMENTAL_TO_EMM.items()] + [(c, 0, e) for c, e in dia.BASE_TO_EMM.items()]
        # -- reject-based steering (GSMA IR.73): home × country → policy row; the Diameter reject of each policy
        steer = np.full((n_ops, len(world.countries)), -1, dtype=np.int64)
        pol = np.zeros((len(world.steering) + 1, k.N_POL), dtype=np.int64)  # (+1: never empty)
        pol_pref = np.zeros((len(world.steering) + 1, n_ops), dtype=np.int64)
        for i, ((h, country), sp) in enumerate(world.steering.items()):
            steer[h, country_idx[country]] = i
            pol[i] = (sp.country_id, sp.max_rejects, -1 if sp.window_ns is None else sp.window_ns, sp.code,
                      sp.experimental)
            pol_pref[i, sorted(sp.preferred)] = 1
        self.w_parts: list[tuple[Int, Any]] = [  # the world, at the start of M
            (k.W_PATH_CUM, path_cum), (k.W_PATH_LAT, _i64(world.path_latency_ns)),
            (k.W_PATH_HOPS, _i64(world.path_hops)),
            (k.W_PATHID, pathid), (k.W_SUCCESS, _i64(B.SUCCESS)), (k.W_IFACE, _i64(B.IFACE)),
            (k.W_TIMEOUT, _i64([timeouts[c.protocol] for c in cat.CATALOGUE])), (k.W_SERVER_OF, server_of),
            (k.W_OP_HSS, _i64(world.op_hss)), (k.W_ELEM_OP, _i64(world.element_op)), (k.W_AGREE, agree),
            (k.W_WELCOME, _i64([op.welcome_sms for op in s.operators])),
            (k.W_RETRY_RAT, _i64((ue.t3211, ue.t3211, ue.t3411, ue.t3511))),
            (k.W_MAX_ATT, _i64((ue.lu_max_attempts, ue.lu_max_attempts, ue.max_attempts, ue.max_attempts))),
            (k.W_STEPS, steps), (k.W_NSTEPS, nsteps),
            (k.W_OP_COUNTRY, _i64([country_idx[c] for c in world.op_country])),
            (k.W_RAT_TAB, rat_tab), (k.W_PREF_PTR, pref_ptr), (k.W_PREF, _i64([*pref, 0])), (k.W_CPTR, cptr),
            (k.W_COPS, _i64(cops)), (k.W_SERVING, serving), (k.W_NSERV, nserv),
            (k.W_BACKOFF_RAT, _i64((ue.t3402, ue.t3402, ue.t3402, ue.t3502))),
            (k.W_EMM, _i64(emm or [(0, 0, 0)])), (k.W_N_EMM, len(emm)),
            (k.W_N_OPS, n_ops), (k.W_N_ELEM, n_elem), (k.W_MAX_NODES, max_nodes),
            (k.W_RETRANS, int(s.diameter.retransmissions)), (k.W_NAS_DELAY, int(ue.nas_delay)),
            (k.W_WINDOW, int(s.window.duration)),
            (k.W_OP_DEA, _i64([e["dea"] for e in world.op_elem])), (k.W_N_COUNTRIES, len(world.countries)),
            (k.W_STEER, steer), (k.W_POL, pol), (k.W_POL_PREF, pol_pref), (k.W_NX, self.n_x),
            (k.W_OP_USAGE, op_usage), (k.W_LBO, lbo), (k.W_SMS_NODE, sms_node),
            (k.W_IS_DIA, _i64(B.IS_DIAMETER)), (k.W_CMD_BUSY, _i64([cat.BUSY[c.protocol] for c in cat.CATALOGUE])),
            (k.W_SESSION_BYTES, _i64([*session_bytes, 0])), (k.W_N_BYTES, len(session_bytes)),
            (k.W_MAX_OPEN, self.max_open),
        ]
        # -- F, the float arena: jitter sigma, shares, HSS error rates, fixed service times, then the draw blocks
        cohort_home = [op_index[c.home] for c in s.cohorts]
        services = [s.operators[h].hss.service for h in cohort_home]
        fixed = np.asarray([d.a if d.kind == "fixed" else -1.0 for d in services], dtype=np.float64)
        floats = [np.asarray([world.jitter_sigma]), np.asarray(world.op_share, dtype=np.float64),
                  np.asarray([op.hss.transient_errors for op in s.operators], dtype=np.float64), fixed,
                  np.asarray([c.usage.uplink_share for c in s.cohorts], dtype=np.float64)]
        offs = np.cumsum([0] + [a.size for a in floats])
        nc = len(s.cohorts)
        self.F = np.zeros(int(offs[-1]) + 3 * nc * int(k.BLOCK), dtype=np.float64)
        for a, o in zip(floats, offs, strict=False):
            self.F[o:o + a.size] = a
        self.f_slots = [(k.MF_SHARE, int(offs[1])), (k.MF_HSS_ERROR, int(offs[2])), (k.MF_FIXED, int(offs[3])),
                        (k.MF_UPLINK, int(offs[4])), (k.MF_D, int(offs[5]))]
        # -- draw streams: per cohort uniform, jitter and service blocks, each stream from its own Generator, made
        #    by the functions the Python engine draws with (roamsim.engine.draws)
        self.streams: list[tuple[np.random.Generator, Callable[[np.random.Generator, int], np.ndarray]]] = []
        self.live: list[int] = []
        """The streams the kernel draws from (no jitter draws at sigma 0, no service draws for a fixed time)."""
        for c, d in zip(s.cohorts, services, strict=True):
            uniform, jitter, service = engine_generators(cohort_seed(seed, c.name, pop.STREAM_ENGINE))
            i = len(self.streams)
            self.live += [i, *([i + 1] if world.jitter_sigma > 0 else []), *([i + 2] if d.kind != "fixed" else [])]
            self.streams += [(uniform, uniform_block), (jitter, jitter_block(world.jitter_sigma)),
                             (service, service_block(d))]
        self.blocks = self.F[int(offs[5]):].reshape(3 * nc, int(k.BLOCK))  # a view: refills write the kernel's F
        # -- M: the mutable state
        n = population.size
        R = np.zeros((n, k.N_R), dtype=np.int64)
        for f in (k.R_COUNTRY, k.R_NET, k.R_MME, k.R_RAT, k.R_RPLMN, k.R_CUR, k.R_HSS_MME, k.R_CTX, k.R_RETRY_NET,
                  k.R_OFF_CYCLE, k.R_SOR_COUNTRY, k.R_SOR_FIRST):
            R[:, f] = -1
        R[:, k.R_WELCOMED] = -1
        R[:, k.R_SESS] = -1
        R[:, k.R_STATE] = k.ABSENT
        R[:, k.R_HSS_RAT] = k.R4G
        R[:, k.R_HOME] = population.home
        R[:, k.R_COHORT] = population.cohort
        R[:, k.R_DEVICE] = population.device if population.device is not None else k.R4G
        qs = max(op.hss.servers for op in s.operators)
        QN = np.zeros((n_ops, k.N_Q), dtype=np.int64)
        QN[:, k.Q_SERVERS] = [op.hss.servers for op in s.operators]
        QN[:, k.Q_LIMIT] = [op.hss.queue_limit for op in s.operators]
        rows = self.batch + int(k.MARGIN) + self.max_open  # end_sessions: 1 row per open session in each buffer
        if pool_cap is None:  # open sessions keep their procedures: about 1 in 40 roamers at 2 sessions a day
            pool_cap = max(1 << 10, 1 << (population.size // 32).bit_length())
        self.records = {kind: np.empty((rows, width), np.int64) for kind, (width, *_) in _BUFFERS.items()}
        """The kernel's record buffers (transactions, procedures, sessions), row-major, outside ``M``: the kernel
        writes them through their addresses (``M[A_TX]``, ``M[A_PR]``, ``M[A_SE]``), so they must live as long as it
        may run."""
        self._buffers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roamsim-buffers",
                                           initializer=ThreadPlacement(nice=0).join)
        """Prepares the kernel's next record buffer of each kind while it runs (off its CPU)."""
        self._ready: dict[str, Future[np.ndarray]] = {}
        free = np.arange(pool_cap, dtype=np.int64)[::-1].copy()
        self.M = self._build_M(
            R, np.zeros((pool_cap, k.N_P), np.int64), free, np.zeros((pool_cap, k.N_T), np.int64), free.copy(),
            np.zeros((heap_cap, k.N_H), np.int64), np.zeros((n_ops, qs), np.int64),
            np.zeros((n_ops, ring_cap), np.int64), QN, np.zeros((n, self.n_x * k.N_XF), np.int64),
            np.full(3 * nc, k.BLOCK, dtype=np.int64), None)
        M = self.M
        M[k.S_SEQ] = 1
        M[k.S_PTOP] = pool_cap
        M[k.S_TTOP] = pool_cap
        M[k.S_RUN] = self.run_key
        self.ev = (population.ev_time.astype(np.int64, copy=False), population.ev_roamer.astype(np.int64, copy=False),
                   population.ev_kind.astype(np.int64, copy=False), population.ev_param.astype(np.int64, copy=False))

    # -- arena layout ---------------------------------------------------------------------------------------------
    def _build_M(self, R: np.ndarray, P: np.ndarray, PF: np.ndarray, T: np.ndarray, TF: np.ndarray, H: np.ndarray,
                 QF: np.ndarray, QR: np.ndarray, QN: np.ndarray, X: np.ndarray, DP: np.ndarray,
                 old: np.ndarray | None) -> np.ndarray:
        parts: list[tuple[Int, Any]] = [
            *self.w_parts, *self.f_slots,
            (k.M_R, R), (k.M_P, P), (k.M_PF, PF), (k.M_T, T), (k.M_TF, TF), (k.M_H, H),
            (k.M_QF, QF), (k.M_QR, QR), (k.M_QN, QN), (k.M_X, X), (k.M_DP, DP),
            *((address, self.records[kind].ctypes.data) for kind, (_, _, address, _) in _BUFFERS.items()),
            (k.C_P, P.shape[0]), (k.C_T, T.shape[0]), (k.C_H, H.shape[0]),
            (k.C_QR, QR.shape[1]), (k.C_QS, QF.shape[1])]
        total = int(k.M_HEADER_END) + sum(a.size for _, a in parts if isinstance(a, np.ndarray))
        M = np.zeros(total, dtype=np.int64)
        pos = int(k.M_HEADER_END)
        for slot, a in parts:  # a header slot holds its section's offset, or a scalar as it is
            if isinstance(a, np.ndarray):
                M[slot] = pos
                M[pos:pos + a.size] = a.ravel()
                pos += a.size
            else:
                M[slot] = a
        if old is not None:
            M[k.S_IEX:k.M_HEADER_END] = old[k.S_IEX:k.M_HEADER_END]
        return M

    def _section(self, slot: Int, rows: Int, cols: Int) -> np.ndarray:
        o = int(self.M[slot])
        return self.M[o:o + rows * cols].reshape(rows, cols)

    def _sections(self) -> tuple[np.ndarray, ...]:
        M = self.M
        n_ops = int(M[k.W_N_OPS])
        cp, ct = int(M[k.C_P]), int(M[k.C_T])
        return (self._section(k.M_R, self.size, k.N_R), self._section(k.M_P, cp, k.N_P),
                self._section(k.M_PF, 1, cp)[0],
                self._section(k.M_T, ct, k.N_T), self._section(k.M_TF, 1, ct)[0],
                self._section(k.M_H, int(M[k.C_H]), k.N_H), self._section(k.M_QF, n_ops, int(M[k.C_QS])),
                self._section(k.M_QR, n_ops, int(M[k.C_QR])), self._section(k.M_QN, n_ops, k.N_Q),
                self._section(k.M_X, self.size, self.n_x * k.N_XF), self._section(k.M_DP, 1, len(self.streams))[0])

    def _grow(self) -> None:
        """Lay ``M`` out again with the full sections doubled (pool slots keep their numbers; rings are unrolled)."""
        self.grows += 1
        M = self.M
        R, P, PF, T, TF, H, QF, QR, QN, X, DP = self._sections()
        margin = int(k.MARGIN)
        if M[k.S_HN] + margin > M[k.C_H]:
            H = np.concatenate([H, np.zeros_like(H)])
        tops = {}
        pools = {k.S_PTOP: (P, PF), k.S_TTOP: (T, TF)}
        for slot, (pool, free) in list(pools.items()):
            top = int(M[slot])
            if top < margin:  # the new slots go under the free stack's top, highest first
                cap = pool.shape[0]
                grown = np.zeros(2 * cap, dtype=np.int64)
                grown[:top] = free[:top]
                grown[top:top + cap] = np.arange(2 * cap - 1, cap - 1, -1)
                pools[slot] = (np.concatenate([pool, np.zeros_like(pool)]), grown)
                top += cap
            tops[slot] = top
        (P, PF), (T, TF) = pools[k.S_PTOP], pools[k.S_TTOP]
        QN = QN.copy()
        if M[k.S_QMAX] + margin > M[k.C_QR]:
            cap = QR.shape[1]
            ring = np.zeros((QR.shape[0], 2 * cap), dtype=np.int64)
            for h in range(QR.shape[0]):
                head, n = QN[h, k.Q_HEAD], QN[h, k.Q_N]
                ring[h, :n] = QR[h, (head + np.arange(n)) % cap]
                QN[h, k.Q_HEAD] = 0
            QR = ring
        self.M = self._build_M(R, P, PF, T, TF, H, QF, QR, QN, X, DP, M)
        for slot, top in tops.items():
            self.M[slot] = top

    # -- the run --------------------------------------------------------------------------------------------------
    @property
    def events(self) -> int:
        return int(self.M[k.S_EVENTS])

    def _top_up(self, stream: int, used: int) -> None:
        """Move the block's unused values (past the first ``used``) to its front and draw the rest of it (the values
        do not depend on when they are drawn: :mod:`roamsim.engine.draws`); the kernel reads it from position 0."""
        block = int(k.BLOCK)
        row = self.blocks[stream]
        row[:block - used] = row[used:]  # no overlap when used >= block // 2
        rng, make = self.streams[stream]
        row[block - used:] = make(rng, used)

    def _refill(self, stream: int) -> None:
        """The kernel used a block up inside a slice (through ``objmode``, which waits for the GIL)."""
        self._top_up(stream, int(k.BLOCK))

    def _draw_ahead(self) -> None:
        """Between two slices of the kernel: every live draw stream whose block is at least half used is topped up.
        The kernel then seldom takes the GIL back for a refill inside its event loop, where it would wait for the
        event log's threads: a NumPy or Arrow call holds the GIL for milliseconds."""
        pos = self._section(k.M_DP, 1, len(self.streams))[0]  # a view of M
        for s in self.live:
            if pos[s] >= k.BLOCK // 2:
                self._top_up(s, int(pos[s]))
                pos[s] = 0

    def _flush(self, kind: str, n: int, more: bool = True) -> None:
        """Hand the first ``n`` buffered rows (at most all) to the event log, as :class:`RecordBuffers` does; with
        ``more`` (the kernel goes on), have the buffer thread prepare the next fresh buffer meanwhile."""
        M = self.M
        _, fill, address, columns = _BUFFERS[kind]
        f = int(M[fill])
        n = min(n, f)
        if n == 0:
            return
        # The full buffer goes to the event log as it is (each column a strided view of it; the event log splits
        # them on its builder thread); the kernel goes on in a fresh one, with the rows past ``n``: one the buffer
        # thread allocated and touched after the previous flush, on the other core, so the kernel does not take a
        # page fault per page it fills (about a fifth of the reference model's kernel time).
        buf = self.records[kind]
        ready = self._ready.get(kind)
        if ready is not None and ready.done():  # never waits for it: the kernel would wait meanwhile
            fresh = ready.result()
            del self._ready[kind]
        else:
            fresh = np.empty_like(buf)
        if more and kind not in self._ready:
            self._ready[kind] = self._buffers.submit(_touched, buf.shape)
        fresh[:f - n] = buf[n:f]
        self.records[kind] = fresh
        M[address] = fresh.ctypes.data
        M[fill] = f - n
        cols = buf[:n].T
        if kind == SESSIONS:
            self.rec.sessions += n
            self.rec.sink.write_sessions(dict(zip(columns, cols, strict=True)))
        elif kind == PROCEDURES:
            self.rec.procedures += n
            self.rec.sink.write_procedures(dict(zip(columns, cols, strict=True)))
        else:
            self.rec.transactions += n
            self.rec.sink.write_transactions(dict(zip(columns, cols, strict=True)))

    def run(self, progress: Callable[[int, int], None] | None = None, every: int | None = None) -> None:
        """Run to the window's end and drain what is in flight; Ctrl-C stops at the next event boundary
        (KeyboardInterrupt, after the buffered records went to the event log)."""
        M = self.M
        every = PROGRESS_EVERY if every is None else every
        M[k.S_NEXTREP] = M[k.S_EVENTS] + every
        ev_t, ev_r, ev_k, ev_p = self.ev
        window = int(M[k.W_WINDOW])
        fresh_kernel()
        k.REFILL[self.run_key] = self._refill
        switch = sys.getswitchinterval()
        # The kernel takes the GIL back at the end of a slice and to refill a draw block (rare: see _draw_ahead); the
        # event log's threads hold it meanwhile, and would keep it up to a switch interval (5 ms by default) each
        # time: make that wait short.
        sys.setswitchinterval(min(switch, REFILL_SWITCH_S))
        reported = time.perf_counter()
        try:
            with self._sigint_stops(), B.gc_paused():
                while True:
                    self._draw_ahead()
                    mark = time.perf_counter()
                    status = k.run_kernel(self.M, self.F, ev_t, ev_r, ev_k, ev_p, self.batch, every)
                    self.kernel_s += time.perf_counter() - mark
                    M = self.M
                    if status == k.ST_FLUSH:
                        for kind, (_, fill, _, _) in _BUFFERS.items():
                            if M[fill] >= self.batch:
                                self._flush(kind, self.batch)
                    elif status == k.ST_PROGRESS:
                        pass
                    elif status == k.ST_GROW:
                        self._grow()
                    elif status == k.ST_DONE:
                        break
                    elif status == k.ST_STOP:
                        raise KeyboardInterrupt
                    else:
                        raise RuntimeError(f"compiled engine: {_STATUS[status]} (case {int(M[k.S_ARG])}) at "
                                           f"t={int(M[k.S_T])} ns")
                    # A run bound by the event log reaches PROGRESS_EVERY events slowly: a flush reports too, when due
                    if progress is not None and (status == k.ST_PROGRESS or (
                            status == k.ST_FLUSH and time.perf_counter() - reported >= PROGRESS_S)):
                        progress(min(int(M[k.S_T]), window), self.events)
                        reported = time.perf_counter()
        finally:  # as RecordBuffers.flush after the Python engine: an interrupted run keeps its records
            sys.setswitchinterval(switch)
            del k.REFILL[self.run_key]
            for kind in _BUFFERS:
                self._flush(kind, 1 << 62, more=False)
            self._buffers.shutdown(cancel_futures=True)
            self._ready.clear()
        if progress is not None:
            progress(window, self.events)

    @contextmanager
    def _sigint_stops(self) -> Iterator[None]:
        """SIGINT sets the kernel's stop flag (seen at the next slice or draw refill) instead of raising inside a
        half-done event; only in the main thread, where signal handlers run."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum: int, frame: object) -> None:
            self.M[k.S_STOP] = 1

        previous = signal.signal(signal.SIGINT, stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def max_open_sessions(population: Population) -> int:
    """Most data sessions one roamer can have open at once: its session starts less its session ends so far, at
    most (a start the engine skips only lowers the count; an end always follows its start)."""
    kind = population.ev_kind
    sel = (kind == pop.EV_SESSION_START) | (kind == pop.EV_SESSION_END)
    if not sel.any():
        return 0
    roamer = population.ev_roamer[sel].astype(np.int64)
    delta = np.where(kind[sel] == pop.EV_SESSION_START, 1, -1).astype(np.int64)
    order = np.argsort(roamer, kind="stable")  # per roamer, in event order
    roamer, open_ = roamer[order], np.cumsum(delta[order])
    first = np.flatnonzero(np.r_[True, roamer[1:] != roamer[:-1]])
    before = np.r_[0, open_[first[1:] - 1]]  # the running count where each roamer's events begin
    sizes = np.diff(np.r_[first, roamer.size])
    return max(1, int((open_ - np.repeat(before, sizes)).max()))


def _touched(shape: tuple[int, ...]) -> np.ndarray:
    """A new record buffer with every page already mapped (NumPy fills it without the GIL)."""
    buf = np.empty(shape, np.int64)
    buf.fill(0)
    return buf


def _i64(xs: Any) -> np.ndarray:
    return np.asarray(xs, dtype=np.int64).ravel()
