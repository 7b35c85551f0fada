"""The roaming engine: UE mobility management in every generation, data sessions and SMS across the IPX.

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

2G/3G (TS 23.012 §3.6, TS 29.002): location update = SendAuthenticationInfo,
UpdateLocation (the HLR inserts the subscriber data, ISD, inside the dialogue and
cancels the old VLR), then UpdateGprsLocation from the SGSN; PurgeMS; ISD.
5G SA (TS 23.502 §4.2.2.2.2): Nausf authenticate and confirm, Nudm_UECM
registration (the UDM notifies the old AMF), Nudm_SDM get and subscribe; the
5G SoR container (TS 23.122 Annex C) when the home network steers.
Data sessions (TS 23.401 §5.10.2, TS 23.502 §4.3.2.2.2): GTPv2-C Create/Delete
Session from the V-SGW to the H-PGW (home-routed) or V-PGW (local breakout);
5G home-routed Nsmf_PDUSession between the SMFs. SMS (TS 23.040 §10):
SRI-for-SM then MT-ForwardSM, absent subscriber with the message-waiting path
(ReportSM-DeliveryStatus, AlertServiceCentre), MO-ForwardSM, welcome SMS.

UE behaviour on reject (TS 24.301 §5.5.1.2.5-6, TS 24.008 §4.4.4.9, TS 24.501
§5.5.1.2.5), with the Diameter → EMM mapping of TS 29.272 Annex A
(:func:`roamsim.catalogue.diameter.emm_cause_for`), MAP → MM (TS 29.010) and
HTTP → 5GMM (:mod:`roamsim.catalogue.commands`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from heapq import heappush
from itertools import count

from roamsim.catalogue import commands as cat
from roamsim.catalogue import diameter as dia
from roamsim.engine import usage
from roamsim.engine.base import (
    ABSENT,
    ABSENT_SUBSCRIBER_SM,
    AIR,
    BORDER_OF,
    CANCEL_BY_KIND,
    CL,
    CLR,
    DEREG_NOTIFY,
    EMM_TIMEOUT_CAUSE,
    GMM5_TIMEOUT_CAUSE,
    HOME_FOR_KIND,
    HPPLMN_T_NS,
    IDR_BY_KIND,
    IF_GR,
    IFACE,
    IS_DIAMETER,
    IS_MAP,
    ISD,
    K_ANSWER,
    K_HSS,
    K_TIMEOUT,
    K_TIMER,
    LOCATION_CMDS,
    NO_SERVICE,
    NODE_KIND,
    NODE_PROCESSING_NS,
    OFF,
    OUT,
    P_ATTACH,
    P_CANCEL,
    P_GPRS_LU,
    P_IDR,
    P_LU,
    P_MOB_REG,
    P_PURGE,
    P_REG,
    P_SESSION,
    P_SMS_MT,
    P_TAU,
    PROTO,
    PUR,
    PURGE_BY_KIND,
    PURGE_MS,
    R2G,
    R3G,
    R4G,
    R5G,
    REG_STEPS,
    REG_TYPE,
    REGISTERED,
    RESPONDER_KIND,
    RSDS,
    SDM_GET,
    SDM_UNSUB,
    SEARCHING,
    SRI_SM,
    SUCCESS,
    TRIG,
    UECM_UPDATE,
    UGL,
    UL,
    UPDATE_STEPS,
    UPDATE_TYPE,
    Proc,
    Txn,
    _service_sampler,
    gc_paused,
)
from roamsim.engine.draws import Draws
from roamsim.engine.queue import ServerQueue
from roamsim.population import build as pop
from roamsim.population.build import Population, cohort_seed
from roamsim.records.buffers import RecordBuffers
from roamsim.scenario.schema import Scenario
from roamsim.world.model import DEA_INDEX, World


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
        self.device: list[int] = (population.device.tolist() if population.device is not None else [R4G] * n)
        self.session_bytes = population.session_bytes
        self.uplink = [c.usage.uplink_share for c in s.cohorts]
        self.draws = [Draws(cohort_seed(seed, c.name, pop.STREAM_ENGINE), world.jitter_sigma)
                      for c in s.cohorts]
        self.queues = [ServerQueue(op.hss.servers, op.hss.queue_limit) for op in s.operators]
        self.hss_error = [op.hss.transient_errors for op in s.operators]
        self.service = [[_service_sampler(op.hss.service, d.service_rng) for d in self.draws] for op in s.operators]
        self.welcome = [op.welcome_sms for op in s.operators]

        self.timeouts = {cat.DIAMETER: s.diameter.answer_timeout, cat.MAP: s.timeouts.map, cat.SBI: s.timeouts.sbi,
                         cat.GTPV2: s.timeouts.gtp}
        self.cmd_timeout = [self.timeouts[c.protocol] for c in cat.CATALOGUE]
        self.retransmissions = s.diameter.retransmissions
        ue = s.ue
        # Per RAT: attempt counter limit, retry timer, back-off timer (TS 24.008 §4.4.4.9, TS 24.301 §5.5.1.2.6,
        # TS 24.501 §5.5.1.2.7).
        self.max_attempts_rat = (ue.lu_max_attempts, ue.lu_max_attempts, ue.max_attempts, ue.max_attempts)
        self.retry_rat = (ue.t3211, ue.t3211, ue.t3411, ue.t3511)
        self.backoff_rat = (ue.t3402, ue.t3402, ue.t3402, ue.t3502)
        self.nas_delay = s.ue.nas_delay

        # UE view
        self.state = [ABSENT] * n
        self.country: list[str | None] = [None] * n
        self.net = [-1] * n  # registered visited operator
        self.mme = [-1] * n  # serving node (MME, VLR or AMF)
        self.rat = [-1] * n  # RAT of the current registration
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
        self.hss_mme = [-1] * n  # serving node registered at home (MME, VLR or AMF)
        self.hss_rat = [R4G] * n  # RAT of the registration the home network holds
        self.hlr_sgsn = [-1] * n  # SGSN registered at the HLR (2G/3G packet domain)
        self.mme_ctx = [-1] * n  # serving node holding the UE context
        self.sor: dict[int, list[int]] = {}  # roamer → [country code id, rejects, first reject time, done]
        self.retry_net: dict[int, int] = {}  # PLMN a pending retry goes back to
        self.mwd: set[int] = set()  # message waiting data at the HLR (TS 23.040 §3.2.6)
        self.welcomed: dict[int, int] = {}  # roamer → visited network last welcomed
        self.sessions: dict[int, dict[int, Proc]] = {}  # roamer → session id → its set-up procedure

        self.path_latency = world.path_latency_ns  # grows as paths are made
        self.path_cum = world.path_cum_ns
        self.path_hops = world.path_hops
        self.is_sgsn = [k == "sgsn" for k in world.element_kind]
        self.server_of = [[e.get(RESPONDER_KIND[c], -1) if c in RESPONDER_KIND else -1 for e in world.op_elem]
                          for c in range(len(cat.CATALOGUE))]
        """Command → home operator → the element that answers it (HSS, HLR, AUSF, UDM), or -1."""
        self.paths: dict[int, int] = {}  # (origin << 21 | responder << 1 | from_home) → path id
        self.op_hss = world.op_hss
        self.steered_homes = [any(h == home for home, _ in world.steering) for h in range(len(world.op_ids))]
        n_ops = len(world.op_ids)
        self.rat_tab = [[[world.rat_for(d, h, v) for v in range(n_ops)] for h in range(n_ops)] for d in range(4)]
        """Best device RAT → home → visited → the RAT used there (-1: none), from :meth:`World.rat_for`."""
        self.heap: list[tuple[int, int, int, object]] = []
        self.seq = count(1)
        """Insertion order: ties in time are broken by it, so runs are reproducible."""
        self.next_txn = 0
        self.next_proc = 0
        self.events = 0
        self.exogenous = self._exogenous_handlers()
        """Handler of each exogenous event kind, indexed by ``pop.EV_*``."""

    # -- scheduling ----------------------------------------------------
    def push(self, t: int, kind: int, obj: object) -> None:
        """Schedule an event; ties are broken by insertion order, so runs are reproducible."""
        heappush(self.heap, (t, next(self.seq), kind, obj))

    def run(self, progress: Callable[[int, int], None] | None = None, every: int = 200_000) -> None:
        """Process every event up to the window end, then drain requests in flight (the cyclic garbage collector
        paused: :func:`roamsim.engine.base.gc_paused`)."""
        with gc_paused():
            self._run(progress, every)

    def _run(self, progress: Callable[[int, int], None] | None, every: int) -> None:
        p = self.p
        heap = self.heap
        heappop = heapq.heappop
        window = self.window
        on_hss, on_answer, on_timeout, exogenous = self.on_hss, self.on_answer, self.on_timeout, self.exogenous
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
                    if timer[1] < 0 or timer_epoch[timer[0]] == timer[1]:
                        self.on_timer(t, timer[0], timer[2])
            elif te != end:
                t = te
                exogenous[ex_k[j]](t, ex_r[j], ex_p[j])
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
        """A roamer's own action from the population (``pop.EV_*``)."""
        self.exogenous[kind](t, r, param)

    def _exogenous_handlers(self) -> tuple[Callable[[int, int, int], None], ...]:
        handlers = {
            pop.EV_ARRIVE: self.on_arrive, pop.EV_LEG: self.on_leg, pop.EV_POWER_OFF: self.on_power_off,
            pop.EV_PURGE: self.on_purge, pop.EV_POWER_ON: self.on_power_on, pop.EV_MME_CHANGE: self.on_mme_change,
            pop.EV_NET_CHANGE: self.on_net_change, pop.EV_IDR: self.on_idr, pop.EV_DEPART: self.on_depart,
            pop.EV_SESSION_START: self.on_session_start, pop.EV_SESSION_END: self.on_session_end,
            pop.EV_SMS_MT: self.on_sms_mt, pop.EV_SMS_MO: self.on_sms_mo,
        }
        return tuple(handlers[k] for k in range(len(handlers)))

    def on_arrive(self, t: int, r: int, param: int) -> None:
        self.country[r] = self.w.countries[param]
        self.reset_selection(r)
        self.state[r] = SEARCHING
        self.select_and_attach(t, r, TRIG["arrival"])

    def on_leg(self, t: int, r: int, param: int) -> None:
        """The roamer crosses a border (next country of an itinerary)."""
        st = self.state[r]
        self.abort(t, r)
        usage.end_sessions(self, t, r, TRIG["border_crossing"])
        self.country[r] = self.w.countries[param]
        self.reset_selection(r)
        self.net[r] = -1
        if st != OFF:
            self.state[r] = SEARCHING
            self.select_and_attach(t, r, TRIG["border_crossing"])

    def on_power_off(self, t: int, r: int, param: int) -> None:
        if self.state[r] in (OFF, ABSENT):
            return
        self.abort(t, r)
        usage.end_sessions(self, t, r, TRIG["power_off"])
        self.state[r] = OFF
        self.off_cycle[r] = param
        self.net[r] = -1

    def on_power_on(self, t: int, r: int, param: int) -> None:
        if self.state[r] == OFF and self.off_cycle[r] == param:
            self.reset_selection(r)
            self.state[r] = SEARCHING
            self.select_and_attach(t, r, TRIG["power_on"])

    def on_purge(self, t: int, r: int, param: int) -> None:
        """The serving node purges a UE that stayed off (TS 23.401 §5.3.9.3)."""
        ctx = self.mme_ctx[r]
        if self.state[r] == OFF and self.off_cycle[r] == param and ctx >= 0:
            v = self.w.element_op[ctx]
            kind_ = self.w.element_kind[ctx]
            proc = self.new_proc(P_PURGE, r, TRIG["inactivity"], v, ctx, t, 0, network=True, rat=self.rat[r])
            self.mme_ctx[r] = -1
            self.send_home(t, proc, PURGE_BY_KIND[kind_], ctx)

    def on_mme_change(self, t: int, r: int, param: int) -> None:
        """The UE moves to another serving node of its network (TAU, LU or mobility registration)."""
        if self.state[r] == REGISTERED and self.cur[r] is None:
            v = self.net[r]
            rat = self.rat[r]
            nodes = self.w.op_serving[v][NODE_KIND[rat]]
            if len(nodes) > 1:
                k = int(self.draws[self.cohort[r]].uniform() * (len(nodes) - 1))
                new = [m for m in nodes if m != self.mme[r]][k]
                proc = self.new_proc(UPDATE_TYPE[rat], r, TRIG["mme_change"], v, new, t, 1, network=False, rat=rat)
                proc.steps = UPDATE_STEPS[rat]
                self.cur[r] = proc
                self.send_home(t, proc, proc.steps[0], new)

    def on_net_change(self, t: int, r: int, param: int) -> None:
        if self.state[r] == REGISTERED and self.cur[r] is None:
            v = self.pick_network(t, r, avoid=self.net[r])
            if v >= 0:
                usage.end_sessions(self, t, r, TRIG["network_change"])
                self.net[r] = -1
                self.state[r] = SEARCHING
                self.start_attach(t, r, v, TRIG["network_change"])

    def on_idr(self, t: int, r: int, param: int) -> None:
        """The home network changes the subscription (IDR, or MAP ISD to a VLR)."""
        target = self.hss_mme[r]
        if target >= 0:
            cmd = IDR_BY_KIND.get(self.w.element_kind[target])
            if cmd is not None:
                proc = self.new_proc(P_IDR, r, TRIG["subscription_change"], self.w.element_op[target], target,
                                     t, 0, network=True, rat=self.hss_rat[r])
                self.close(proc, self.home_request(t, proc, cmd, target), OUT["success"], 0, SUCCESS[cmd], False)

    def on_depart(self, t: int, r: int, param: int) -> None:
        """The roamer returns home: the home network cancels the visited registrations."""
        self.abort(t, r)
        usage.end_sessions(self, t, r, TRIG["return_home"])
        self.state[r] = ABSENT
        self.net[r] = -1
        self.country[r] = None
        self.timer_epoch[r] += 1
        target = self.hss_mme[r]
        if target >= 0:
            self.cancel(t, r, target, TRIG["return_home"], self.hss_rat[r])
            self.hss_mme[r] = -1
        sgsn = self.hlr_sgsn[r]
        if sgsn >= 0:
            self.cancel(t, r, sgsn, TRIG["return_home"], R3G)
            self.hlr_sgsn[r] = -1

    def on_session_start(self, t: int, r: int, param: int) -> None:
        if self.state[r] == REGISTERED and t < self.window:
            usage.start_session(self, t, r, param)

    def on_session_end(self, t: int, r: int, param: int) -> None:
        found = self.sessions.get(r)
        if found is not None and param in found:
            usage.delete_session(self, t, r, found.pop(param), TRIG["data"])

    def on_sms_mt(self, t: int, r: int, param: int) -> None:
        if self.state[r] != ABSENT and t < self.window:
            usage.start_sms_mt(self, t, r, TRIG["sms"], -1)

    def on_sms_mo(self, t: int, r: int, param: int) -> None:
        if self.state[r] == REGISTERED and t < self.window:
            usage.start_sms_mo(self, t, r)

    def on_timer(self, t: int, r: int, trig: int) -> None:
        if trig == TRIG["alert"]:
            if self.state[r] != ABSENT:
                usage.start_sms_mt(self, t, r, TRIG["alert"], -1)
            return
        if self.state[r] not in (SEARCHING, NO_SERVICE, REGISTERED):
            return
        if trig == TRIG["steering_of_roaming"]:
            # 5G SoR (TS 23.122 Annex C.2): the UE leaves for the preferred partner the UDM named.
            v = self.retry_net.get(r, -1)
            if self.state[r] == REGISTERED and self.cur[r] is None and v >= 0 and self.selectable(t, r, v):
                usage.end_sessions(self, t, r, TRIG["steering_of_roaming"])
                self.net[r] = -1
                self.state[r] = SEARCHING
                self.start_attach(t, r, v, trig)
            return
        if self.state[r] == REGISTERED:
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

    def rat_on(self, r: int, v: int) -> int:
        """The RAT roamer ``r`` uses on network ``v`` (-1: none in common)."""
        return self.rat_tab[self.device[r]][self.home[r]][v]

    def pick_network(self, t: int, r: int, avoid: int = -1) -> int:
        """The PLMN an automatic-mode UE selects (TS 23.122 §4.4.3.1.1), or -1 if none.

        Order: the RPLMN, the SIM's operator-controlled list, then the other
        PLMNs at random weighted by radio coverage (``share``); ``avoid``, the
        excluded PLMNs and those with no RAT the device supports are skipped.
        """
        w = self.w
        country = self.country[r]
        if country is None:
            return -1
        excl = self.excluded(t, r)
        rp = self.rplmn[r]
        if (rp >= 0 and rp != avoid and w.op_country[rp] == country and (excl is None or rp not in excl)
                and self.rat_on(r, rp) >= 0):
            return rp
        for v in w.op_sim_preferred[self.home[r]]:
            if v != avoid and w.op_country[v] == country and (excl is None or v not in excl) \
                    and self.rat_on(r, v) >= 0:
                return v
        rest = [v for v in w.country_ops[country]
                if v != avoid and (excl is None or v not in excl) and self.rat_on(r, v) >= 0]
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
        return self.w.op_country[v] == self.country[r] and (excl is None or v not in excl) and self.rat_on(r, v) >= 0

    def select_and_attach(self, t: int, r: int, trig: int, rat: int = R4G) -> None:
        """Select a network and register; with none left, back off for the failed RAT's timer (T3402,
        or T3502 for 5G) when a network may come back."""
        v = self.pick_network(t, r)
        if v >= 0:
            self.start_attach(t, r, v, trig)
            return
        # Nothing to try: wait T3402 if something may come back, else stay without service.
        self.state[r] = NO_SERVICE
        if self.tried.get(r) or self.barred_until.get(r):
            self.timer_epoch[r] += 1
            self.push(t + self.backoff_rat[rat], K_TIMER, (r, self.timer_epoch[r], TRIG["backoff_expiry"]))

    # -- UE-initiated procedures ------------------------------------------
    def start_attach(self, t: int, r: int, v: int, trig: int) -> None:
        if t >= self.window:
            # Draining requests in flight after the window: no new procedure starts.
            self.state[r] = NO_SERVICE
            return
        rat = self.rat_on(r, v)
        nodes = self.w.op_serving[v][NODE_KIND[rat]]
        last = self.mme[r]
        if last >= 0 and self.w.element_op[last] == v and last in nodes:
            node = last  # the GUTI / TMSI points the UE back to its node
        else:
            node = nodes[int(self.draws[self.cohort[r]].uniform() * len(nodes))]
        self.mme[r] = node
        self.state[r] = SEARCHING
        proc = self.new_proc(REG_TYPE[rat], r, trig, v, node, t, self.attempts[r] + 1, network=False, rat=rat)
        proc.steps = REG_STEPS[rat]
        self.cur[r] = proc
        self.send_home(t, proc, proc.steps[0], node)

    def abort(self, t: int, r: int) -> None:
        proc = self.cur[r]
        if proc is not None:
            self.cur[r] = None
            self.close(proc, t, OUT["aborted"], 0, 0, False)
        self.timer_epoch[r] += 1

    def nas_cause(self, proc: Proc, code: int, exp: bool, timed_out: bool) -> int:
        """The NAS reject cause the serving node sends for a failed home answer."""
        rat = proc.rat
        if rat == R5G:
            return GMM5_TIMEOUT_CAUSE if timed_out else cat.gmm5_cause_for_status(code)
        if rat in (R2G, R3G):
            return 17 if timed_out else cat.mm_cause_for_map(code)
        return EMM_TIMEOUT_CAUSE if timed_out else dia.emm_cause_for(code, exp)

    def attach_failed(self, t: int, proc: Proc, code: int, exp: bool, timed_out: bool) -> None:
        r = proc.r
        v = proc.visited
        cause = self.nas_cause(proc, code, exp, timed_out)
        self.close(proc, t, OUT["timeout"] if timed_out else OUT["rejected"], cause, code, exp)
        self.cur[r] = None
        if proc.kind in (P_TAU, P_MOB_REG) or (proc.kind == P_LU and proc.trigger == TRIG["mme_change"]):
            # A failed update leaves the UE deregistered: it registers again after the retry timer.
            self.net[r] = -1
            self.state[r] = SEARCHING
            self.schedule_retry(t, r, v, proc.rat)
            return
        if cause == 11:
            self.fplmn.setdefault(r, set()).add(v)
            self.attempts[r] = 0
            self.select_and_attach(t, r, TRIG["reselection"], proc.rat)
        elif cause in (13, 15):
            self.roam_forbidden.setdefault(r, set()).add(v)
            self.attempts[r] = 0
            self.select_and_attach(t, r, TRIG["reselection"], proc.rat)
        elif cause in (8, 2, 3):
            self.state[r] = NO_SERVICE  # USIM invalid until power cycle
        elif cause == 42:
            self.barred_until.setdefault(r, {})[v] = t + 2 * HPPLMN_T_NS
            self.attempts[r] = 0
            self.select_and_attach(t, r, TRIG["reselection"], proc.rat)
        else:
            self.attempts[r] += 1
            if self.attempts[r] < self.max_attempts_rat[proc.rat]:
                self.schedule_retry(t, r, v, proc.rat)
            else:
                self.attempts[r] = 0
                self.tried.setdefault(r, set()).add(v)
                self.select_and_attach(t, r, TRIG["reselection"], proc.rat)

    def schedule_retry(self, t: int, r: int, v: int, rat: int = R4G) -> None:
        self.timer_epoch[r] += 1
        self.retry_net[r] = v
        self.push(t + self.retry_rat[rat], K_TIMER, (r, self.timer_epoch[r], TRIG["retry"]))

    def registered(self, t: int, proc: Proc, code: int, exp: bool) -> None:
        """The last step of a registration succeeded."""
        r = proc.r
        self.cur[r] = None
        self.close(proc, t, OUT["success"], 0, code, exp)
        self.state[r] = REGISTERED
        self.net[r] = proc.visited
        self.mme[r] = proc.mme
        self.mme_ctx[r] = proc.mme
        self.rat[r] = proc.rat
        self.rplmn[r] = proc.visited
        self.attempts[r] = 0
        self.tried.pop(r, None)
        v = proc.visited
        if proc.sor >= 0:
            # 5G SoR: the UE, registered, reselects the preferred partner of the container.
            self.timer_epoch[r] += 1
            self.retry_net[r] = proc.sor
            self.push(t + self.nas_delay, K_TIMER, (r, self.timer_epoch[r], TRIG["steering_of_roaming"]))
        elif self.welcome[v] and self.welcomed.get(r) != v and proc.kind in (P_ATTACH, P_LU, P_REG):
            self.welcomed[r] = v
            usage.start_sms_mt(self, t, r, TRIG["welcome"], v)

    # -- home-network requests ---------------------------------------------
    def path_to(self, origin: int, responder: int, cmd: int, from_home: bool) -> int:
        key = (origin << 21) | (responder << 1) | from_home
        path = self.paths.get(key)
        if path is None:
            path = self.paths[key] = self.w.path(origin, responder, BORDER_OF[cmd], from_home)
        return path

    def new_txn(self, proc: Proc, cmd: int, path: int, origin: int, responder: int, t: int, retry: int,
                e2e: int = -1) -> Txn:
        tid = self.next_txn = self.next_txn + 1
        iface = IFACE[cmd]
        if IS_MAP[cmd] and (self.is_sgsn[origin] or self.is_sgsn[responder]):
            iface = IF_GR
        return Txn(tid, tid if e2e < 0 else e2e, proc, cmd, path, origin, responder, t, retry,
                   int(self.path_latency[path] * proc.draws.jitter()), iface)

    def send_home(self, t: int, proc: Proc, cmd: int, origin: int, retry: int = 0, e2e: int = -1) -> None:
        """A serving node sends a request to the roamer's home subscriber server (steering may answer at
        the home border agent)."""
        h = proc.home
        server = self.server_of[cmd][h]
        path = self.paths.get((origin << 21) | (server << 1))
        if path is None:
            path = self.path_to(origin, server, cmd, False)
        txn = self.new_txn(proc, cmd, path, origin, server, t, retry, e2e)
        cum = self.path_cum[path]
        if cmd in LOCATION_CMDS and self.steered_homes[h] and (proc.rat != R5G or not self.sor_5g(proc)):
            t_border = t + cum[DEA_INDEX] + txn.ipx_fwd
            if self.steer(t_border, proc):
                pol = self.w.steering[(h, self.w.op_country[proc.visited])]
                txn.responder = self.w.op_elem[h][BORDER_OF[cmd] or "dea"]
                proc.steered = True
                code, exp = pol.code, pol.experimental
                if PROTO[cmd] == cat.MAP:
                    code, exp = cat.MAP_STEERING_ERROR[pol.name], False
                elif PROTO[cmd] == cat.SBI:
                    code, exp = cat.SBI_STEERING_STATUS[pol.name], False
                self.answer(txn, t_border, DEA_INDEX, code, exp, 0, 0, steering=True)
                return
        heappush(self.heap, (t + cum[-1] + txn.ipx_fwd, next(self.seq), K_HSS, txn))

    def sor_5g(self, proc: Proc) -> bool:
        pol = self.w.steering.get((proc.home, self.w.op_country[proc.visited]))
        return pol is not None and pol.sor_5g

    def steer(self, t: int, proc: Proc) -> bool:
        """Reject-based steering at the home border agent (GSMA IR.73): True if this request is rejected."""
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

    def sor_target(self, t: int, proc: Proc) -> int:
        """5G control-plane SoR at Nudm_SDM_Get (TS 23.122 Annex C): the preferred partner the UE should move to,
        or -1 (registered on a preferred one already, none selectable, or no policy)."""
        pol = self.w.steering.get((proc.home, self.w.op_country[proc.visited]))
        if pol is None or not pol.sor_5g or proc.visited in pol.preferred:
            return -1
        r = proc.r
        st = self.sor.get(r)
        if st is None or st[0] != pol.country_id:
            st = [pol.country_id, 0, -1, 0]
            self.sor[r] = st
        if st[3]:
            return -1
        st[3] = 1
        for v in sorted(pol.preferred):
            if self.selectable(t, r, v) and self.rat_on(r, v) == R5G:
                return v
        return -1

    def home_request(self, t: int, proc: Proc, cmd: int, target: int, e2e: int = -1, from_home: bool = True,
                     origin: int = -1) -> int:
        """A request answered by a node (serving node, SMSC, PGW, SMF) without queueing: folded, no event.
        Returns the answer's arrival time at the origin."""
        if origin < 0:
            origin = self.w.op_elem[proc.home][HOME_FOR_KIND.get(self.w.element_kind[target], "hss")]
        path = self.path_to(origin, target, cmd, from_home)
        txn = self.new_txn(proc, cmd, path, origin, target, t, 0, e2e)
        t_node = t + self.path_cum[path][-1] + txn.ipx_fwd
        if cmd in (CLR, CL, DEREG_NOTIFY) and self.mme_ctx[proc.r] == target:
            self.mme_ctx[proc.r] = -1
        return self.answer(txn, t_node + NODE_PROCESSING_NS, self.path_hops[path], SUCCESS[cmd], False, 0,
                           0, schedule=False)

    def cancel(self, t: int, r: int, node: int, trig: int, rat: int) -> None:
        """The home network cancels a serving node's registration (CLR, MAP CL, Nudm_UECM deregistration
        notification); ``rat`` is that registration's."""
        kind = self.w.element_kind[node]
        proc = self.new_proc(P_CANCEL, r, trig, self.w.element_op[node], node, t, 0, network=True, rat=rat)
        t_ans = self.home_request(t, proc, CANCEL_BY_KIND[kind], node)
        self.close(proc, t_ans, OUT["success"], 0, SUCCESS[CANCEL_BY_KIND[kind]], False)

    def on_hss(self, t: int, txn: Txn) -> None:
        """A request reaches the home subscriber server: transient errors, queueing, then the answer."""
        proc = txn.proc
        r = proc.r
        h = proc.home
        draws = proc.draws
        cmd = txn.cmd
        proto = PROTO[cmd]
        err = self.hss_error[h]
        if err > 0.0 and draws.uniform() < err:
            x = draws.uniform()
            if x < 0.3:
                self.lost(txn)
                return
            if proto == cat.DIAMETER:
                code, exp = (dia.TOO_BUSY, False) if x < 0.6 else (
                    (dia.AUTHENTICATION_DATA_UNAVAILABLE, True) if cmd == AIR else (dia.UNABLE_TO_DELIVER, False))
            else:
                code, exp = cat.BUSY[proto]
            self.answer(txn, t, self.path_hops[txn.path], code, exp, 0, 0)
            return
        service = int(self.service[h][self.cohort[r]]())
        start = self.queues[h].admit(t, service)
        hops = self.path_hops[txn.path]
        if start < 0:
            code, exp = cat.BUSY[proto]
            self.answer(txn, t, hops, code, exp, 0, 0)
            return
        done = start + service
        code, exp = SUCCESS[cmd], False
        if cmd in LOCATION_CMDS or cmd == UGL:
            v = proc.visited
            rats = self.w.agreement_rats.get((h, v))
            if rats is None or proc.rat not in rats:
                code, exp = cat.ROAMING_NOT_ALLOWED[proto]
            elif cmd == UGL:
                old = self.hlr_sgsn[r]
                self.hlr_sgsn[r] = txn.origin
                if old >= 0 and old != txn.origin:
                    self.cancel(done, r, old, TRIG["location_update"], R3G)
                done = self.home_request(done, proc, ISD, txn.origin, e2e=txn.e2e)
            else:
                old, old_rat = self.hss_mme[r], self.hss_rat[r]
                self.hss_mme[r] = txn.origin
                self.hss_rat[r] = proc.rat
                if old >= 0 and old != txn.origin:
                    self.cancel(done, r, old, TRIG["location_update"], old_rat)
                if cmd == UL:
                    # The HLR inserts the subscriber data inside the UpdateLocation dialogue (TS 29.002 §19.1.1.1).
                    done = self.home_request(done, proc, ISD, txn.origin, e2e=txn.e2e)
                if r in self.mwd:
                    self.mwd.discard(r)
                    usage.alert(self, done, r)
        elif cmd == SDM_GET and not proc.network:
            proc.sor = self.sor_target(done, proc)
            if proc.sor >= 0:
                proc.steered = True
        elif cmd in (PUR, PURGE_MS, UECM_UPDATE):
            if self.hss_mme[r] == txn.origin:
                self.hss_mme[r] = -1
            if self.hlr_sgsn[r] == txn.origin:
                self.hlr_sgsn[r] = -1
        elif cmd == SRI_SM:
            if self.hss_mme[r] < 0:
                code = ABSENT_SUBSCRIBER_SM
                self.mwd.add(r)
        elif cmd == RSDS:
            self.mwd.add(r)
        self.answer(txn, done, hops, code, exp, start - t, service)

    def answer(self, txn: Txn, t_depart: int, resp_hops: int, code: int, exp: bool, wait: int, service: int,
               *, steering: bool = False, schedule: bool = True) -> int:
        """Record a transaction answered at ``t_depart``; schedule its arrival (or timeout) at the origin."""
        path = txn.path
        t_ans = t_depart + self.path_cum[path][resp_hops] + int(self.path_latency[path] * txn.proc.draws.jitter())
        limit = self.cmd_timeout[txn.cmd]
        timed_out = t_ans - txn.t_req > limit
        self.rec.transaction(txn, t_ans, code, exp, timed_out, steering, wait, service, resp_hops, t_depart)
        if schedule:
            if timed_out:
                heappush(self.heap, (txn.t_req + limit, next(self.seq), K_TIMEOUT, txn))
            else:
                heappush(self.heap, (t_ans, next(self.seq), K_ANSWER, (txn, code, exp)))
        return t_ans

    def lost(self, txn: Txn) -> None:
        """A request that gets no answer: the origin times out."""
        self.rec.transaction(txn, -1, 0, False, True, False, 0, 0, self.path_hops[txn.path], -1)
        self.push(txn.t_req + self.cmd_timeout[txn.cmd], K_TIMEOUT, txn)

    def on_timeout(self, t: int, txn: Txn) -> None:
        proc = txn.proc
        if not proc.network and self.cur[proc.r] is not proc:
            return
        if txn.retry < self.retransmissions:
            # RFC 6733 §5.5.4: retransmit with the T flag, same End-to-End identifier (likewise for the others).
            self.send_home(t, proc, txn.cmd, txn.origin, txn.retry + 1, txn.e2e)
            return
        if proc.network:
            self.close(proc, t, OUT["timeout"], 0, 0, False)
            if proc.kind == P_SESSION:
                usage.session_record(self, proc, t, OUT["timeout"], 0)
        else:
            self.attach_failed(t, proc, 0, False, timed_out=True)

    def on_answer(self, t: int, item: tuple[Txn, int, bool]) -> None:
        txn, code, exp = item
        proc = txn.proc
        r = proc.r
        cmd = txn.cmd
        if (code == dia.TOO_BUSY and IS_DIAMETER[cmd] and txn.retry < self.retransmissions
                and (proc.network or self.cur[r] is proc)):
            # RFC 6733 §7.1.3: DIAMETER_TOO_BUSY asks the client to try again (an alternate
            # peer); the MME re-sends with the same End-to-End identifier, once.
            self.send_home(t, proc, cmd, txn.origin, txn.retry + 1, txn.e2e)
            return
        ok = code == SUCCESS[cmd]
        if proc.network:
            if proc.kind == P_SMS_MT:
                usage.sms_mt_step(self, t, proc, txn, code, ok)
                return
            if cmd == SDM_UNSUB and ok:
                self.send_home(t, proc, UECM_UPDATE, txn.origin)
                return
            self.close(proc, t, OUT["success"] if ok else OUT["rejected"], 0, code, exp)
            return
        if self.cur[r] is not proc:
            return
        if not ok:
            self.attach_failed(t, proc, code, exp, timed_out=False)
            return
        proc.step += 1
        if proc.step < len(proc.steps):
            nxt = proc.steps[proc.step]
            if nxt == UGL:
                # The packet domain registers next, from the SGSN (TS 23.060 §6.9.1.2.2).
                nodes = self.w.op_serving[proc.visited]["sgsn"]
                proc.sgsn = nodes[self.w.op_serving[proc.visited]["vlr"].index(proc.mme) % len(nodes)]
                self.registered(t, proc, code, exp)  # the CS registration stands whatever the GPRS update gives
                gprs = self.new_proc(P_GPRS_LU, r, TRIG["location_update"], proc.visited, proc.sgsn, t, 1,
                                     network=True, rat=proc.rat)
                self.send_home(t + self.nas_delay, gprs, UGL, proc.sgsn)
                return
            self.send_home(t + self.nas_delay, proc, nxt, proc.mme)
            return
        self.registered(t, proc, code, exp)

    # -- records ------------------------------------------------------------
    def new_proc(self, kind: int, r: int, trig: int, visited: int, mme: int, t: int, attempt: int,
                 *, network: bool, rat: int = R4G) -> Proc:
        self.next_proc += 1
        return Proc(self.next_proc, kind, r, trig, visited, mme, t, attempt, network, self.home[r],
                    self.draws[self.cohort[r]], rat)

    def close(self, proc: Proc, t: int, outcome: int, cause: int, code: int, exp: bool) -> None:
        self.rec.procedure(proc, t, outcome, cause, code, exp)
