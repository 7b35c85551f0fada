"""The EPS roaming engine: UE mobility management and S6a across the IPX.

Shape (see PERFORMANCE.md): only interactions with shared state are events:
a request reaching an HSS (a multi-server FIFO queue), an answer or timeout
reaching the MME, and UE timers. Link and hop delays are folded into
timestamps; the roamers' own actions come pre-sorted from the population.

Procedures (TS 23.401 §5.3.2.1, §5.3.3; TS 29.272 §5.2):

- attach: AIR/AIA, then ULR/ULA; the HSS cancels (CLR) a previous MME.
- tracking area update with MME change: ULR from the new MME, CLR to the old.
- purge: PUR/PUA from an MME whose UE stayed off.
- insert subscriber data: IDR/IDA from the HSS.
- cancel location on return home.

UE behaviour on reject (TS 24.301 §5.5.1.2.5-6), with the Diameter → EMM
mapping of TS 29.272 Annex A (:func:`roamsim.catalogue.diameter.emm_cause_for`).
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable

import numpy as np

from roamsim.catalogue import diameter as dia
from roamsim.engine.draws import Block, Draws
from roamsim.engine.queue import ServerQueue
from roamsim.population import build as pop
from roamsim.population.build import Population, cohort_seed
from roamsim.records.buffers import RecordBuffers
from roamsim.records.schema import OUTCOMES, PROCEDURE_TYPES, TRIGGERS
from roamsim.scenario.distributions import Distribution
from roamsim.scenario.schema import Scenario
from roamsim.world.model import DEA_INDEX, HOPS, World

# Event kinds on the heap.
K_HSS = 0
K_ANSWER = 1
K_TIMEOUT = 2
K_TIMER = 3

# UE states.
ABSENT, SEARCHING, REGISTERED, OFF, NO_SERVICE = range(5)

P_ATTACH, P_TAU, P_CANCEL, P_IDR, P_PURGE = (PROCEDURE_TYPES.index(n) for n in PROCEDURE_TYPES)
TRIG = {name: i for i, name in enumerate(TRIGGERS)}
OUT = {name: i for i, name in enumerate(OUTCOMES)}

AIR = dia.COMMANDS["air"].code
ULR = dia.COMMANDS["ulr"].code
CLR = dia.COMMANDS["clr"].code
IDR = dia.COMMANDS["idr"].code
PUR = dia.COMMANDS["pur"].code

HPPLMN_T_NS = 60 * 60 * 1_000_000_000
"""TS 23.122 §4.4.3.3.1 default HPPLMN search period T; #42 bars a PLMN for 2T (TS 24.301 §5.5.1.2.5)."""
MME_PROCESSING_NS = 1_000_000
"""Time an MME takes to answer a CLR or IDR [est]."""
EMM_TIMEOUT_CAUSE = 17
"""Cause the MME sends when S6a gives no answer after retransmission (network failure)."""


class Proc:
    """One procedure attempt in flight."""

    __slots__ = ("attempt", "draws", "home", "id", "kind", "mme", "network", "r", "start", "steered", "step",
                 "trigger", "visited")

    def __init__(self, pid: int, kind: int, r: int, trigger: int, visited: int, mme: int, start: int,
                 attempt: int, network: bool, home: int, draws: Draws) -> None:
        self.id = pid
        self.home = home
        self.draws = draws
        self.kind = kind
        self.r = r
        self.trigger = trigger
        self.visited = visited
        self.mme = mme
        self.start = start
        self.attempt = attempt
        self.network = network
        self.steered = False
        self.step = 0


class Txn:
    """A Diameter request in flight, from its origin to the element that answers it."""

    __slots__ = ("cmd", "e2e", "id", "ipx_fwd", "origin", "path", "proc", "responder", "retry", "t_req")

    def __init__(self, tid: int, e2e: int, proc: Proc, cmd: int, path: int, origin: int, responder: int,
                 t_req: int, retry: int, ipx_fwd: int) -> None:
        self.id = tid
        self.e2e = e2e
        self.proc = proc
        self.cmd = cmd
        self.path = path
        self.origin = origin
        self.responder = responder
        self.t_req = t_req
        self.retry = retry
        self.ipx_fwd = ipx_fwd


def _service_sampler(d: Distribution, rng: np.random.Generator) -> Callable[[], float]:
    """Service times of ``d`` in ns, drawn in blocks from ``rng``."""
    if d.kind == "fixed":
        v = d.a
        return lambda: v
    return Block(rng, lambda g, n: np.maximum(d.sample(g, n), 0.0)).next


class Engine:
    """One run's simulation state. Create, then call :meth:`run`."""

    exogenous_chunk = 65_536
    """Exogenous events converted to Python lists at a time (memory vs. per-event cost)."""

    def __init__(self, s: Scenario, world: World, population: Population, records: RecordBuffers,
                 *, seed: int) -> None:
        self.s = s
        self.w = world
        self.p = population
        self.rec = records
        self.window = s.window.duration
        n = population.size
        self.home: list[int] = population.home.tolist()
        self.cohort: list[int] = population.cohort.tolist()
        self.draws = [Draws(np.random.default_rng(cohort_seed(seed, c.name, pop.STREAM_ENGINE)), world.jitter_sigma)
                      for c in s.cohorts]
        self.queues = [ServerQueue(op.hss.servers, op.hss.queue_limit) for op in s.operators]
        self.hss_error = [op.hss.transient_errors for op in s.operators]
        self.service = [[_service_sampler(op.hss.service, d.rng) for d in self.draws] for op in s.operators]

        self.timeout = s.diameter.answer_timeout
        self.retransmissions = s.diameter.retransmissions
        self.t3411 = s.ue.t3411
        self.t3402 = s.ue.t3402
        self.max_attempts = s.ue.max_attempts
        self.nas_delay = s.ue.nas_delay

        # UE view
        self.state = [ABSENT] * n
        self.country: list[str | None] = [None] * n
        self.net = [-1] * n  # registered visited operator
        self.mme = [-1] * n  # serving MME element
        self.rplmn = [-1] * n
        self.attempts = [0] * n
        self.cur: list[Proc | None] = [None] * n
        self.timer_epoch = [0] * n
        self.off_cycle = [-1] * n
        self.fplmn: dict[int, set[int]] = {}  # EF_FPLMN (persistent, #11)
        self.roam_forbidden: dict[int, set[int]] = {}  # forbidden TAs for roaming (#13/#15), cleared at power-off
        self.barred_until: dict[int, dict[int, int]] = {}  # #42: PLMN not a candidate for 2T
        self.tried: dict[int, set[int]] = {}  # PLMNs whose attempt counter ran out in this selection round
        # Network view
        self.hss_mme = [-1] * n  # MME registered at the HSS
        self.mme_ctx = [-1] * n  # MME holding the UE context
        self.sor: dict[int, list[int]] = {}  # roamer → [country code id, rejects, first reject time, done]
        self.retry_net: dict[int, int] = {}  # PLMN a pending T3411 retry goes back to

        self.path_latency = world.path_latency_ns  # grows as paths are made
        self.paths: dict[int, int] = {}  # (origin << 20 | responder) → path id
        self.op_hss = world.op_hss
        self.steered_homes = [any(h == home for home, _ in world.steering) for h in range(len(world.op_ids))]
        self.cum = world.cum_fixed_ns
        self.heap: list[tuple[int, int, int, object]] = []
        self.seq = 0
        self.next_txn = 0
        self.next_proc = 0
        self.events = 0

    # -- scheduling ----------------------------------------------------
    def push(self, t: int, kind: int, obj: object) -> None:
        """Schedule an event; ties are broken by insertion order, so runs are reproducible."""
        seq = self.seq + 1
        self.seq = seq
        heapq.heappush(self.heap, (t, seq, kind, obj))

    def run(self, progress: Callable[[int, int], None] | None = None, every: int = 200_000) -> None:
        """Process every event up to the window end, then drain requests in flight.

        The cyclic garbage collector is paused meanwhile: the engine's records
        form no reference cycles, and scanning millions of young objects costs
        a measurable share of the run.
        """
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._run(progress, every)
        finally:
            if was_enabled:
                gc.enable()

    def _run(self, progress: Callable[[int, int], None] | None, every: int) -> None:
        p = self.p
        heap = self.heap
        heappop = heapq.heappop
        window = self.window
        on_hss, on_answer, on_timeout, on_exogenous = self.on_hss, self.on_answer, self.on_timeout, self.on_exogenous
        timer_epoch = self.timer_epoch
        n_ex = p.ev_time.shape[0]
        chunk = self.exogenous_chunk
        end = 1 << 62  # sentinel time closing each chunk of exogenous events
        i = 0
        ex_t: list[int] = [end]
        ex_r: list[int] = []
        ex_k: list[int] = []
        ex_p: list[int] = []
        j = 0
        events = self.events
        next_report = events + every
        t = 0
        while True:
            te = ex_t[j]
            if te == end and i < n_ex:
                # Load the next chunk before comparing with the heap: the heap may
                # hold events later than the chunk's first exogenous event.
                hi = min(i + chunk, n_ex)
                ex_t = [*p.ev_time[i:hi].tolist(), end]
                ex_r = p.ev_roamer[i:hi].tolist()
                ex_k = p.ev_kind[i:hi].tolist()
                ex_p = p.ev_param[i:hi].tolist()
                i = hi
                j = 0
                continue
            if heap and heap[0][0] <= te:
                t, _, kind, obj = heappop(heap)
                if kind == K_HSS:
                    on_hss(t, obj)  # type: ignore[arg-type]
                elif kind == K_ANSWER:
                    on_answer(t, obj)  # type: ignore[arg-type]
                elif kind == K_TIMEOUT:
                    on_timeout(t, obj)  # type: ignore[arg-type]
                else:
                    if t >= window:
                        continue
                    timer: tuple[int, int, int] = obj  # type: ignore[assignment]
                    if timer_epoch[timer[0]] == timer[1]:
                        self.on_timer(t, timer[0], timer[2])
            elif te != end:
                t = te
                on_exogenous(t, ex_r[j], ex_k[j], ex_p[j])
                j += 1
            else:
                break
            events += 1
            if events >= next_report and progress is not None:
                next_report += every
                self.events = events
                progress(min(t, window), events)
        self.events = events
        if progress is not None:
            progress(window, events)
        self.rec.flush()

    # -- roamer-initiated events ----------------------------------------
    def on_exogenous(self, t: int, r: int, kind: int, param: int) -> None:
        st = self.state[r]
        if kind == pop.EV_ARRIVE:
            self.country[r] = self.w.countries[param]
            self.reset_selection(r)
            self.state[r] = SEARCHING
            self.select_and_attach(t, r, TRIG["arrival"])
        elif kind == pop.EV_LEG:
            self.abort(t, r)
            self.country[r] = self.w.countries[param]
            self.reset_selection(r)
            self.net[r] = -1
            if st != OFF:
                self.state[r] = SEARCHING
                self.select_and_attach(t, r, TRIG["border_crossing"])
        elif kind == pop.EV_POWER_OFF:
            if st in (OFF, ABSENT):
                return
            self.abort(t, r)
            self.state[r] = OFF
            self.off_cycle[r] = param
            self.net[r] = -1
        elif kind == pop.EV_POWER_ON:
            if st == OFF and self.off_cycle[r] == param:
                self.reset_selection(r)
                self.state[r] = SEARCHING
                self.select_and_attach(t, r, TRIG["power_on"])
        elif kind == pop.EV_PURGE:
            ctx = self.mme_ctx[r]
            if st == OFF and self.off_cycle[r] == param and ctx >= 0:
                v = self.w.element_op[ctx]
                proc = self.new_proc(P_PURGE, r, TRIG["inactivity"], v, ctx, t, 0, network=True)
                self.mme_ctx[r] = -1
                self.send_to_hss(t, proc, PUR, ctx)
        elif kind == pop.EV_MME_CHANGE:
            if st == REGISTERED and self.cur[r] is None:
                v = self.net[r]
                mmes = self.w.op_mmes[v]
                if len(mmes) > 1:
                    k = int(self.draws[self.cohort[r]].uniform() * (len(mmes) - 1))
                    new = [m for m in mmes if m != self.mme[r]][k]
                    proc = self.new_proc(P_TAU, r, TRIG["mme_change"], v, new, t, 1, network=False)
                    self.cur[r] = proc
                    proc.step = 1
                    self.send_to_hss(t, proc, ULR, new)
        elif kind == pop.EV_NET_CHANGE:
            if st == REGISTERED and self.cur[r] is None:
                v = self.pick_network(t, r, avoid=self.net[r])
                if v >= 0:
                    self.net[r] = -1
                    self.state[r] = SEARCHING
                    self.start_attach(t, r, v, TRIG["network_change"])
        elif kind == pop.EV_IDR:
            target = self.hss_mme[r]
            if target >= 0:
                proc = self.new_proc(P_IDR, r, TRIG["subscription_change"], self.w.element_op[target], target, t, 0,
                                     network=True)
                self.hss_request(t, proc, IDR, target)
        elif kind == pop.EV_DEPART:
            self.abort(t, r)
            self.state[r] = ABSENT
            self.net[r] = -1
            self.country[r] = None
            self.timer_epoch[r] += 1
            target = self.hss_mme[r]
            if target >= 0:
                proc = self.new_proc(P_CANCEL, r, TRIG["return_home"], self.w.element_op[target], target, t, 0,
                                     network=True)
                self.hss_mme[r] = -1
                self.hss_request(t, proc, CLR, target)

    def on_timer(self, t: int, r: int, trig: int) -> None:
        if self.state[r] not in (SEARCHING, NO_SERVICE):
            return
        if trig == TRIG["backoff_expiry"]:
            self.tried.pop(r, None)
            self.attempts[r] = 0
            self.state[r] = SEARCHING
            self.select_and_attach(t, r, trig)
        else:
            v = self.retry_net.get(r, -1)
            if v >= 0 and self.selectable(t, r, v):
                self.start_attach(t, r, v, trig)
            else:
                self.select_and_attach(t, r, TRIG["reselection"])

    # -- UE PLMN selection (TS 23.122 §4.4.3.1.1, automatic mode) -------
    def reset_selection(self, r: int) -> None:
        """Power-on, new country: counters reset, per-visit forbidden lists cleared."""
        self.timer_epoch[r] += 1
        self.attempts[r] = 0
        self.tried.pop(r, None)
        self.roam_forbidden.pop(r, None)
        self.barred_until.pop(r, None)

    def excluded(self, t: int, r: int) -> set[int] | None:
        """PLMNs the UE must not select now: forbidden (#11), forbidden for roaming (#13, #15),
        barred after #42, and those whose attempt counter ran out in this selection round."""
        excl: set[int] | None = None
        for table in (self.fplmn, self.roam_forbidden, self.tried):
            found = table.get(r)
            if found:
                excl = set(found) if excl is None else excl | found
        barred = self.barred_until.get(r)
        if barred:
            now_barred = {v for v, until in barred.items() if until > t}
            if now_barred:
                excl = now_barred if excl is None else excl | now_barred
        return excl

    def pick_network(self, t: int, r: int, avoid: int = -1) -> int:
        """The PLMN an automatic-mode UE selects (TS 23.122 §4.4.3.1.1), or -1 if none.

        Order: the RPLMN, the SIM's operator-controlled list, then the other
        PLMNs at random weighted by radio coverage (``share``); ``avoid`` and
        the excluded PLMNs are skipped.
        """
        w = self.w
        country = self.country[r]
        if country is None:
            return -1
        excl = self.excluded(t, r)
        rp = self.rplmn[r]
        if rp >= 0 and rp != avoid and w.op_country[rp] == country and (excl is None or rp not in excl):
            return rp
        for v in w.op_sim_preferred[self.home[r]]:
            if v != avoid and w.op_country[v] == country and (excl is None or v not in excl):
                return v
        rest = [v for v in w.country_ops[country] if v != avoid and (excl is None or v not in excl)]
        if len(rest) <= 1:
            return rest[0] if rest else -1
        shares = w.op_share
        x = self.draws[self.cohort[r]].uniform() * sum(shares[v] for v in rest)
        for v in rest:
            x -= shares[v]
            if x < 0.0:
                return v
        return rest[-1]

    def selectable(self, t: int, r: int, v: int) -> bool:
        """Whether ``v`` may be selected now in the roamer's current country."""
        excl = self.excluded(t, r)
        return self.w.op_country[v] == self.country[r] and (excl is None or v not in excl)

    def select_and_attach(self, t: int, r: int, trig: int) -> None:
        v = self.pick_network(t, r)
        if v >= 0:
            self.start_attach(t, r, v, trig)
            return
        # Nothing to try: wait T3402 if something may come back, else stay without service.
        self.state[r] = NO_SERVICE
        if self.tried.get(r) or self.barred_until.get(r):
            self.timer_epoch[r] += 1
            self.push(t + self.t3402, K_TIMER, (r, self.timer_epoch[r], TRIG["backoff_expiry"]))

    # -- UE-initiated procedures ------------------------------------------
    def start_attach(self, t: int, r: int, v: int, trig: int) -> None:
        if t >= self.window:
            # Draining requests in flight after the window: no new procedure starts.
            self.state[r] = NO_SERVICE
            return
        mmes = self.w.op_mmes[v]
        last = self.mme[r]
        if last >= 0 and self.w.element_op[last] == v:
            mme = last  # the GUTI points the UE back to its MME
        else:
            mme = mmes[int(self.draws[self.cohort[r]].uniform() * len(mmes))]
        self.mme[r] = mme
        self.state[r] = SEARCHING
        proc = self.new_proc(P_ATTACH, r, trig, v, mme, t, self.attempts[r] + 1, network=False)
        self.cur[r] = proc
        self.send_to_hss(t, proc, AIR, mme)

    def abort(self, t: int, r: int) -> None:
        proc = self.cur[r]
        if proc is not None:
            self.cur[r] = None
            self.close(proc, t, OUT["aborted"], 0, 0, False)
        self.timer_epoch[r] += 1

    def attach_failed(self, t: int, proc: Proc, code: int, exp: bool, timed_out: bool) -> None:
        r = proc.r
        v = proc.visited
        cause = EMM_TIMEOUT_CAUSE if timed_out else dia.emm_cause_for(code, exp)
        self.close(proc, t, OUT["timeout"] if timed_out else OUT["rejected"], cause, code, exp)
        self.cur[r] = None
        if proc.kind == P_TAU:
            # A failed TAU leaves the UE deregistered: it attaches again after T3411.
            self.net[r] = -1
            self.state[r] = SEARCHING
            self.schedule_retry(t, r, v)
            return
        if cause == 11:
            self.fplmn.setdefault(r, set()).add(v)
            self.attempts[r] = 0
            self.select_and_attach(t, r, TRIG["reselection"])
        elif cause in (13, 15):
            self.roam_forbidden.setdefault(r, set()).add(v)
            self.attempts[r] = 0
            self.select_and_attach(t, r, TRIG["reselection"])
        elif cause == 8:
            self.state[r] = NO_SERVICE  # USIM invalid until power cycle
        elif cause == 42:
            self.barred_until.setdefault(r, {})[v] = t + 2 * HPPLMN_T_NS
            self.attempts[r] = 0
            self.select_and_attach(t, r, TRIG["reselection"])
        else:
            self.attempts[r] += 1
            if self.attempts[r] < self.max_attempts:
                self.schedule_retry(t, r, v)
            else:
                self.attempts[r] = 0
                self.tried.setdefault(r, set()).add(v)
                self.select_and_attach(t, r, TRIG["reselection"])

    def schedule_retry(self, t: int, r: int, v: int) -> None:
        self.timer_epoch[r] += 1
        self.retry_net[r] = v
        self.push(t + self.t3411, K_TIMER, (r, self.timer_epoch[r], TRIG["retry"]))

    # -- S6a transport ------------------------------------------------------
    def new_txn(self, proc: Proc, cmd: int, path: int, origin: int, responder: int, t: int, retry: int,
                e2e: int = -1) -> Txn:
        self.next_txn += 1
        tid = self.next_txn
        ipx = int(self.path_latency[path] * proc.draws.jitter())
        return Txn(tid, tid if e2e < 0 else e2e, proc, cmd, path, origin, responder, t, retry, ipx)

    def send_to_hss(self, t: int, proc: Proc, cmd: int, mme: int, retry: int = 0, e2e: int = -1) -> None:
        """An MME sends a request towards the home HSS (steering may answer at the home DEA)."""
        h = proc.home
        hss = self.op_hss[h]
        key = (mme << 20) | hss
        path = self.paths.get(key)
        if path is None:
            path = self.paths[key] = self.w.path(mme, hss)
        txn = self.new_txn(proc, cmd, path, mme, hss, t, retry, e2e)
        cum = self.cum
        if cmd == ULR and self.steered_homes[h] and self.steer(t + cum[DEA_INDEX] + txn.ipx_fwd, proc):
            pol = self.w.steering[(h, self.w.op_country[proc.visited])]
            t_dea = t + cum[DEA_INDEX] + txn.ipx_fwd
            txn.responder = self.w.op_dea[h]
            proc.steered = True
            self.answer(txn, t_dea, DEA_INDEX, pol.code, pol.experimental, 0, 0, steering=True)
            return
        self.push(t + cum[HOPS] + txn.ipx_fwd, K_HSS, txn)

    def steer(self, t: int, proc: Proc) -> bool:
        """Reject-based steering at the home DEA (GSMA IR.73): True if this ULR is rejected."""
        r = proc.r
        v = proc.visited
        pol = self.w.steering.get((proc.home, self.w.op_country[v]))
        if pol is None:
            return False
        st = self.sor.get(r)
        if st is None or st[0] != pol.country_id:
            st = [pol.country_id, 0, -1, 0]
            self.sor[r] = st
        if st[3]:
            return False
        if v in pol.preferred:
            st[3] = 1
            return False
        within = pol.window_ns is None or st[2] < 0 or t - st[2] < pol.window_ns
        if st[1] < pol.max_rejects and within:
            st[1] += 1
            if st[2] < 0:
                st[2] = t
            return True
        st[3] = 1
        return False

    def hss_request(self, t: int, proc: Proc, cmd: int, mme: int) -> None:
        """An HSS-initiated request (CLR, IDR) to an MME, answered at once: folded, no event."""
        hss = self.op_hss[proc.home]
        key = (hss << 20) | mme
        path = self.paths.get(key)
        if path is None:
            path = self.paths[key] = self.w.path(hss, mme)
        txn = self.new_txn(proc, cmd, path, hss, mme, t, 0)
        t_mme = t + self.cum[HOPS] + txn.ipx_fwd
        if cmd == CLR and self.mme_ctx[proc.r] == mme:
            self.mme_ctx[proc.r] = -1
        t_ans = self.answer(txn, t_mme + MME_PROCESSING_NS, HOPS, dia.SUCCESS, False, 0, 0, schedule=False)
        self.close(proc, t_ans, OUT["success"], 0, dia.SUCCESS, False)

    def on_hss(self, t: int, txn: Txn) -> None:
        """A request reaches the home HSS: transient errors, queueing, then the answer."""
        proc = txn.proc
        r = proc.r
        h = proc.home
        draws = proc.draws
        err = self.hss_error[h]
        if err > 0.0 and draws.uniform() < err:
            x = draws.uniform()
            if x < 0.3:
                self.lost(txn)
                return
            code, exp = (dia.TOO_BUSY, False) if x < 0.6 else (
                (dia.AUTHENTICATION_DATA_UNAVAILABLE, True) if txn.cmd == AIR else (dia.UNABLE_TO_DELIVER, False))
            self.answer(txn, t, HOPS, code, exp, 0, 0)
            return
        service = int(self.service[h][self.cohort[r]]())
        start = self.queues[h].admit(t, service)
        if start < 0:
            self.answer(txn, t, HOPS, dia.TOO_BUSY, False, 0, 0)
            return
        done = start + service
        code, exp = dia.SUCCESS, False
        cmd = txn.cmd
        if cmd == ULR:
            v = proc.visited
            if (h, v) not in self.w.agreement:
                code, exp = dia.ERROR_ROAMING_NOT_ALLOWED, True
            else:
                old = self.hss_mme[r]
                self.hss_mme[r] = txn.origin
                if old >= 0 and old != txn.origin:
                    cancel = self.new_proc(P_CANCEL, r, TRIG["location_update"], self.w.element_op[old], old, done,
                                           0, network=True)
                    self.hss_request(done, cancel, CLR, old)
        elif cmd == PUR and self.hss_mme[r] == txn.origin:
            self.hss_mme[r] = -1
        self.answer(txn, done, HOPS, code, exp, start - t, service)

    def answer(self, txn: Txn, t_depart: int, resp_hops: int, code: int, exp: bool, wait: int, service: int,
               *, steering: bool = False, schedule: bool = True) -> int:
        """Record a transaction answered at ``t_depart``; schedule its arrival (or timeout) at the origin."""
        t_ans = t_depart + self.cum[resp_hops] + int(self.path_latency[txn.path] * txn.proc.draws.jitter())
        timed_out = t_ans - txn.t_req > self.timeout
        self.rec.transaction(txn, t_ans, code, exp, timed_out, steering, wait, service, resp_hops, t_depart)
        if schedule:
            if timed_out:
                self.push(txn.t_req + self.timeout, K_TIMEOUT, txn)
            else:
                self.push(t_ans, K_ANSWER, (txn, code, exp))
        return t_ans

    def lost(self, txn: Txn) -> None:
        """A request that gets no answer: the origin times out."""
        self.rec.transaction(txn, -1, 0, False, True, False, 0, 0, HOPS, -1)
        self.push(txn.t_req + self.timeout, K_TIMEOUT, txn)

    def on_timeout(self, t: int, txn: Txn) -> None:
        proc = txn.proc
        if not proc.network and self.cur[proc.r] is not proc:
            return
        if txn.retry < self.retransmissions:
            # RFC 6733 §5.5.4: retransmit with the T flag, same End-to-End identifier.
            self.send_to_hss(t, proc, txn.cmd, txn.origin, txn.retry + 1, txn.e2e)
            return
        if proc.network:
            self.close(proc, t, OUT["timeout"], 0, 0, False)
        else:
            self.attach_failed(t, proc, 0, False, timed_out=True)

    def on_answer(self, t: int, item: tuple[Txn, int, bool]) -> None:
        txn, code, exp = item
        proc = txn.proc
        r = proc.r
        if code == dia.TOO_BUSY and txn.retry < self.retransmissions and (proc.network or self.cur[r] is proc):
            # RFC 6733 §7.1.3: DIAMETER_TOO_BUSY asks the client to try again (an alternate
            # peer); the MME re-sends with the same End-to-End identifier, once.
            self.send_to_hss(t, proc, txn.cmd, txn.origin, txn.retry + 1, txn.e2e)
            return
        if proc.network:
            self.close(proc, t, OUT["success"] if code == dia.SUCCESS else OUT["rejected"], 0, code, exp)
            return
        if self.cur[r] is not proc:
            return
        if code != dia.SUCCESS:
            self.attach_failed(t, proc, code, exp, timed_out=False)
            return
        if proc.step == 0:
            proc.step = 1
            self.send_to_hss(t + self.nas_delay, proc, ULR, proc.mme)
            return
        # ULA success: registered.
        self.cur[r] = None
        self.close(proc, t, OUT["success"], 0, code, exp)
        self.state[r] = REGISTERED
        self.net[r] = proc.visited
        self.mme[r] = proc.mme
        self.mme_ctx[r] = proc.mme
        self.rplmn[r] = proc.visited
        self.attempts[r] = 0
        self.tried.pop(r, None)

    # -- records ------------------------------------------------------------
    def new_proc(self, kind: int, r: int, trig: int, visited: int, mme: int, t: int, attempt: int,
                 *, network: bool) -> Proc:
        self.next_proc += 1
        return Proc(self.next_proc, kind, r, trig, visited, mme, t, attempt, network, self.home[r],
                    self.draws[self.cohort[r]])

    def close(self, proc: Proc, t: int, outcome: int, cause: int, code: int, exp: bool) -> None:
        self.rec.procedure(proc, t, outcome, cause, code, exp)
