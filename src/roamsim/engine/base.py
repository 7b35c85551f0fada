"""Shared definitions of the engine: event kinds, UE states, command ids of every generation, procedure
types, NAS timers and causes, and the :class:`Proc` and :class:`Txn` records (see :mod:`roamsim.engine.core`)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from roamsim.catalogue import commands as cat
from roamsim.engine.draws import Draws, block_draws, service_block
from roamsim.records.schema import OUTCOMES, PROCEDURE_TYPES, TRIGGERS
from roamsim.scenario.distributions import Distribution
from roamsim.world.model import BORDER

# Event kinds on the heap.
K_HSS = 0
K_ANSWER = 1
K_TIMEOUT = 2
K_TIMER = 3

# UE states.
ABSENT, SEARCHING, REGISTERED, OFF, NO_SERVICE = range(5)

(P_ATTACH, P_TAU, P_CANCEL, P_IDR, P_PURGE, P_LU, P_GPRS_LU, P_REG, P_MOB_REG, P_SESSION, P_SESSION_DEL,
 P_SMS_MT, P_SMS_MO, P_ALERT) = range(len(PROCEDURE_TYPES))
TRIG = {name: i for i, name in enumerate(TRIGGERS)}
OUT = {name: i for i, name in enumerate(OUTCOMES)}

C = cat.cmd
AIR, ULR, CLR, IDR, PUR = C("air"), C("ulr"), C("clr"), C("idr"), C("pur")
SAI, UL, ISD, CL, UGL, PURGE_MS = C("sai"), C("ul"), C("isd"), C("cl"), C("ugl"), C("purge_ms")
SRI_SM, MT_FSM, MO_FSM, RSDS, ASC = C("sri_sm"), C("mt_fsm"), C("mo_fsm"), C("rsds"), C("asc")
AUTH, CONFIRM, UECM_REG, SDM_GET, SDM_SUB = C("ausf_auth"), C("ausf_confirm"), C("uecm_reg"), C("sdm_get"), C("sdm_sub")
SDM_UNSUB = C("sdm_unsub")
UECM_UPDATE, DEREG_NOTIFY = C("uecm_update"), C("uecm_dereg_notify")
PDU_CREATE, PDU_RELEASE, CREATE, DELETE = C("pdu_create"), C("pdu_release"), C("create_session"), C("delete_session")

PROTO = [c.protocol for c in cat.CATALOGUE]
SUCCESS = [c.success for c in cat.CATALOGUE]
IFACE = list(cat.INTERFACE_INDEX)
BORDER_OF = [BORDER.get(c.protocol) for c in cat.CATALOGUE]
IF_GR, IF_S5 = cat.INTERFACES.index("Gr"), cat.INTERFACES.index("S5")
IS_DIAMETER = [c.protocol == cat.DIAMETER for c in cat.CATALOGUE]
IS_MAP = [c.protocol == cat.MAP for c in cat.CATALOGUE]

R2G, R3G, R4G, R5G = range(4)
NODE_KIND = ("vlr", "vlr", "mme", "amf")
"""Serving node of each RAT's mobility management."""
REG_STEPS: tuple[tuple[int, ...], ...] = ((SAI, UL, UGL), (SAI, UL, UGL), (AIR, ULR),
                                          (AUTH, CONFIRM, UECM_REG, SDM_GET, SDM_SUB))
"""Home-network requests of an initial registration per RAT."""
REG_TYPE = (P_LU, P_LU, P_ATTACH, P_REG)
UPDATE_TYPE = (P_LU, P_LU, P_TAU, P_MOB_REG)
UPDATE_STEPS: tuple[tuple[int, ...], ...] = ((UL,), (UL,), (ULR,), (UECM_REG,))
LOCATION_CMDS = frozenset((UL, ULR, UECM_REG))
"""Requests that register a serving node at home (where steering answers and old nodes are cancelled)."""
RESPONDER_KIND = {AIR: "hss", ULR: "hss", PUR: "hss", SAI: "hlr", UL: "hlr", UGL: "hlr", PURGE_MS: "hlr",
                  SRI_SM: "hlr", RSDS: "hlr", AUTH: "ausf", CONFIRM: "ausf", UECM_REG: "udm", SDM_GET: "udm",
                  SDM_SUB: "udm", SDM_UNSUB: "udm", UECM_UPDATE: "udm"}
CANCEL_BY_KIND = {"mme": CLR, "vlr": CL, "sgsn": CL, "amf": DEREG_NOTIFY}
PURGE_BY_KIND = {"mme": PUR, "vlr": PURGE_MS, "sgsn": PURGE_MS, "amf": SDM_UNSUB}
"""First request of a purge; a 5G AMF unsubscribes from the UDM's data, then marks the UE purged
(Nudm_UECM_Update with purgeFlag, TS 23.502 §4.2.2.3.2 steps 9-10 and the open5gs release flow)."""
IDR_BY_KIND = {"mme": IDR, "vlr": ISD}
HOME_FOR_KIND = {"mme": "hss", "vlr": "hlr", "sgsn": "hlr", "amf": "udm"}
ABSENT_SUBSCRIBER_SM = 6
"""MAP absentSubscriberSM (TS 29.002 §17.6.6)."""
NODE_PROCESSING_NS = 2_000_000
"""Time a serving node, PGW, SMF or SMSC takes to answer [est; domain notes §2.2 give 1-10 ms for non-HSS nodes]."""

HPPLMN_T_NS = 60 * 60 * 1_000_000_000
"""TS 23.122 §4.4.3.3.1 default HPPLMN search period T; #42 bars a PLMN for 2T (TS 24.301 §5.5.1.2.5)."""
EMM_TIMEOUT_CAUSE = 17
"""Cause the MME sends when S6a gives no answer after retransmission (network failure)."""
GMM5_TIMEOUT_CAUSE = 111
"""5GMM cause when the home network does not answer (protocol error, unspecified; TS 24.501 §9.11.3.2)."""


class Proc:
    """One procedure attempt in flight."""

    __slots__ = ("attempt", "corr", "draws", "home", "id", "kind", "mme", "network", "peer", "r", "rat", "sgsn",
                 "sor", "start", "steered", "step", "steps", "trigger", "visited", "x")

    def __init__(self, pid: int, kind: int, r: int, trigger: int, visited: int, mme: int, start: int,
                 attempt: int, network: bool, home: int, draws: Draws, rat: int = R4G) -> None:
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
        self.rat = rat
        self.steps: tuple[int, ...] = ()
        self.sgsn = -1
        self.sor = -1  # 5G SoR: the preferred partner the UE moves to after registering
        self.x = 0  # per-type datum: session id, SMS centre
        self.corr = -1  # a session's correlation id (its first transaction's): later messages reuse it
        self.peer = -1  # a session's PGW or H-SMF


class Txn:
    """A Diameter request in flight, from its origin to the element that answers it."""

    __slots__ = ("cmd", "e2e", "id", "iface", "ipx_fwd", "origin", "path", "proc", "responder", "retry", "t_req")

    def __init__(self, tid: int, e2e: int, proc: Proc, cmd: int, path: int, origin: int, responder: int,
                 t_req: int, retry: int, ipx_fwd: int, iface: int) -> None:
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
        self.iface = iface


def _service_sampler(d: Distribution, rng: np.random.Generator) -> Callable[[], float]:
    """Service times of ``d`` in ns, drawn in blocks from ``rng``."""
    if d.kind == "fixed":
        v = d.a
        return lambda: v
    return block_draws(rng, service_block(d))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for an engine run. The engines' records form no reference cycles, and a
    full collection scans every live object of the process while holding the GIL: in the Python engine that is a
    measurable share of the run; with the compiled engine it would stall the kernel's draw refills (which need the
    GIL) behind a collection started on the event log's threads."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
