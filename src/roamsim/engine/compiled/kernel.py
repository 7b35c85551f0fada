"""The compiled event loop: :class:`roamsim.engine.core.Engine`'s semantics as one numba kernel.

It covers the S6a (4G) core of the engine: arrivals and TS 23.122 network selection, attach (AIR, NAS delay,
ULR), MME changes (ULR, CLR to the old MME), the HSS as a multi-server FIFO queue with its waiting room and
transient errors, answer timeouts and retransmissions (RFC 6733 §5.5.4), DIAMETER_TOO_BUSY retried once, TS 24.301
cause handling (attempt counter, T3411, T3402, #11/#13/#15/#42 exclusions), and the rest of a roamer's stay:
border crossings of an itinerary, power cycles, purges by the MME (PUR/PUA, TS 23.401 §5.3.9.3), network changes,
subscription changes (IDR/IDA) and the return home (CLR), with ``_abort`` of a procedure in progress; and
reject-based steering of roaming at the home DEA (GSMA IR.73: ``_steer`` on the ULR, per-roamer rejects within
``max_rejects`` and ``window``; no 5G SoR since no 5G); and a roamer's usage on 4G, from ``engine/usage.py`` under
the same names: data sessions (GTPv2-C Create/Delete Session from the V-SGW to the home PGW over S8, or to the
visited PGW for local breakout, folded; ``end_sessions`` at border crossings, power off, network changes and the
return home, in session-id order; a third record buffer for sessions.parquet), MT SMS (SRI-for-SM queued at the
HLR with the HSS, MT-ForwardSM to the VLR paired with the MME for SMS over SGs, absent subscriber →
ReportSM-DeliveryStatus and message-waiting data, AlertServiceCentre at the next Update Location and redelivery),
MO SMS and the welcome SMS. Not covered: 2G/3G/5G. Anything else sets ``ST_UNSUPPORTED`` and stops (the driver
raises): never a silently wrong answer.
:mod:`roamsim.engine.compiled.driver` checks a scenario up front and runs the Python engine for what this kernel
does not cover.

Names mirror ``engine/core.py`` (``_on_hss``, ``_answer``, ``_on_answer``, ``_attach_failed``, ``_on_leg``...),
so the two are read side by side; the tests compare their Parquet output byte for byte.

Code shape (measured; docs/architecture.md, "Two engines, one behaviour"): every int64 table lives in one arena
``M`` (world tables, scalars, roamer rows, Proc/Txn pools with free stacks, the event heap, HSS queues, PLMN
exclusions, draw positions, and the addresses of the three row-major record buffers, which live outside it and are
written through them with ``_poke``; a roamer's open sessions are a list through the Proc pool) and every float in
``F`` (world floats, draw blocks). Helpers take (M, F, ...) and are compiled without numba's reference counting
(``_nrt=False``): no array is allocated in the kernel. Computed arena indices go through ``_u`` (unsigned: no
negative-index wraparound); the draw helpers are inlined.

Random draws come from per-cohort blocks of 8192 values (uniform, jitter, service: each stream its own Generator),
drawn with the very NumPy calls of :mod:`roamsim.engine.draws`. The driver tops the blocks up between slices of the
run (a stream's values do not depend on where its blocks start); a block used up inside a slice is refilled from
inside the kernel through ``objmode``, which waits for the GIL.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import njit, objmode, types
from numba.core import cgutils
from numba.core.extending import intrinsic

from roamsim.catalogue import commands as cat
from roamsim.catalogue import diameter as dia
from roamsim.engine import base as B
from roamsim.population import build as pop
from roamsim.records.buffers import PROC_COLUMNS, SESSION_COLUMNS, TXN_COLUMNS
from roamsim.world import model as world_model
from roamsim.world.model import MAX_HOPS

Arena = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Int = int | np.int64
"""An integer in the kernel: the constants below are np.int64, arena reads are int64."""
_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def _i64(xs: Any) -> tuple[np.int64, ...]:
    """np.int64 constants: numba types a global Python int as a literal and compiles one specialization of
    every function per literal argument value; np.int64 globals are plain int64 (one specialization)."""
    return tuple(np.int64(x) for x in xs)


def _jit(fn: _Fn) -> _Fn:
    """Compiled, cached, without reference counting (no NRT: no array is allocated in the kernel)."""
    return njit(cache=True, _nrt=False)(fn)  # type: ignore[call-overload]


def _loop(fn: _Fn) -> _Fn:
    """The event loop: compiled as the helpers are, and running without the GIL (the event log's writer thread
    builds its tables meanwhile; draw refills take the GIL back for their NumPy calls)."""
    return njit(cache=True, _nrt=False, nogil=True)(fn)  # type: ignore[call-overload]


def _tiny(fn: _Fn) -> _Fn:
    """An accessor inlined in numba IR (otherwise one specialization per literal field constant)."""
    return njit(cache=True, _nrt=False, inline="always")(fn)  # type: ignore[call-overload]


def _prefetch_codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
    ary_t = signature.args[0]
    ary = context.make_array(ary_t)(context, builder, args[0])
    ptr = cgutils.get_item_pointer(context, builder, ary_t, ary, [args[1]])  # type: ignore[no-untyped-call]
    i32 = ir.IntType(32)
    fn = cgutils.get_or_insert_function(  # type: ignore[no-untyped-call]
        builder.module, ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32]), "llvm.prefetch.p0")
    builder.call(fn, [ptr, i32(0), i32(3), i32(1)])  # read, keep in all cache levels, data
    return context.get_dummy_value()


def _prefetch_typing(typingctx: Any, arr: Any, i: Any) -> Any:
    return types.void(arr, i), _prefetch_codegen


_prefetch: Callable[[Arena, Int], None] = cast(Any, intrinsic(_prefetch_typing))
"""A hint to load the cache line of ``M[i]`` (the CPU's prefetch instruction: no fault, no result)."""


def _poke_codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
    address, i, v = args
    i64 = ir.IntType(64)
    builder.store(v, builder.gep(builder.inttoptr(address, i64.as_pointer()), [i]))
    return context.get_dummy_value()


def _poke_typing(typingctx: Any, address: Any, i: Any, v: Any) -> Any:
    return types.void(types.int64, types.int64, types.int64), _poke_codegen


_poke: Callable[[Int, Int, Int], None] = cast(Any, intrinsic(_poke_typing))
"""Store int64 ``v`` at index ``i`` of the int64 buffer at ``address``: the record buffers live outside ``M``, so
the driver hands a full one to the event log as it is (no copy) and gives the kernel a fresh one."""


# ---- constants frozen into the kernel (module globals are compile-time constants for numba) ------------
BLOCK = np.int64(8192)
END = np.int64(1 << 62)
AIR, ULR, CLR = _i64((B.AIR, B.ULR, B.CLR,))
IDR, PUR = _i64((B.IDR, B.PUR,))
N_CMD = np.int64(len(cat.CATALOGUE))
TOO_BUSY = np.int64(dia.TOO_BUSY)
NODE_PROCESSING_NS = np.int64(B.NODE_PROCESSING_NS)
TRIG_ARRIVAL, TRIG_RETRY, TRIG_RESEL = _i64((B.TRIG["arrival"], B.TRIG["retry"], B.TRIG["reselection"],))
TRIG_MME_CHANGE, TRIG_LOC_UPD = _i64((B.TRIG["mme_change"], B.TRIG["location_update"],))
TRIG_BACKOFF = np.int64(B.TRIG["backoff_expiry"])
TRIG_BORDER, TRIG_POWER_ON, TRIG_INACTIVITY = _i64((B.TRIG["border_crossing"], B.TRIG["power_on"],
                                                    B.TRIG["inactivity"],))
TRIG_NET_CHANGE, TRIG_SUBSCRIPTION, TRIG_RETURN_HOME = _i64((B.TRIG["network_change"], B.TRIG["subscription_change"],
                                                             B.TRIG["return_home"],))
TRIG_SOR = np.int64(B.TRIG["steering_of_roaming"])
HPPLMN_T_NS = np.int64(B.HPPLMN_T_NS)
O_SUCCESS, O_REJECTED, O_TIMEOUT = _i64((B.OUT["success"], B.OUT["rejected"], B.OUT["timeout"],))
O_ABORTED = np.int64(B.OUT["aborted"])
EV_ARRIVE, EV_MME_CHANGE = _i64((pop.EV_ARRIVE, pop.EV_MME_CHANGE,))
EV_LEG, EV_POWER_OFF, EV_PURGE, EV_POWER_ON = _i64((pop.EV_LEG, pop.EV_POWER_OFF, pop.EV_PURGE, pop.EV_POWER_ON,))
EV_NET_CHANGE, EV_IDR, EV_DEPART = _i64((pop.EV_NET_CHANGE, pop.EV_IDR, pop.EV_DEPART,))
K_HSS, K_ANSWER, K_TIMEOUT, K_TIMER = _i64((B.K_HSS, B.K_ANSWER, B.K_TIMEOUT, B.K_TIMER,))
ABSENT, SEARCHING, REGISTERED, OFF, NO_SERVICE = _i64((B.ABSENT, B.SEARCHING, B.REGISTERED, B.OFF, B.NO_SERVICE,))
R4G = np.int64(B.R4G)
P_ATTACH, P_TAU, P_CANCEL = _i64((B.P_ATTACH, B.P_TAU, B.P_CANCEL,))
P_IDR, P_PURGE = _i64((B.P_IDR, B.P_PURGE,))
EMM_TIMEOUT_CAUSE = np.int64(B.EMM_TIMEOUT_CAUSE)
BUSY_DIA, BUSY_EXP = _i64(cat.BUSY[cat.DIAMETER])
RNA_DIA, RNA_EXP = _i64(cat.ROAMING_NOT_ALLOWED[cat.DIAMETER])
UNABLE_TO_DELIVER, AUTH_DATA_UNAVAILABLE = _i64((dia.UNABLE_TO_DELIVER, dia.AUTHENTICATION_DATA_UNAVAILABLE,))
MAX_HOPS1 = np.int64(MAX_HOPS + 1)  # columns of path_cum
# usage (engine/usage.py): GTPv2-C sessions, MAP SMS
SRI_SM, MT_FSM, MO_FSM, RSDS, ASC = _i64((B.SRI_SM, B.MT_FSM, B.MO_FSM, B.RSDS, B.ASC,))
CREATE, DELETE = _i64((B.CREATE, B.DELETE,))
IF_S5 = np.int64(B.IF_S5)
ABSENT_SUBSCRIBER_SM = np.int64(B.ABSENT_SUBSCRIBER_SM)
P_SESSION, P_SESSION_DEL, P_SMS_MT, P_SMS_MO, P_ALERT = _i64((B.P_SESSION, B.P_SESSION_DEL, B.P_SMS_MT, B.P_SMS_MO,
                                                             B.P_ALERT,))
TRIG_DATA, TRIG_SMS, TRIG_WELCOME, TRIG_ALERT = _i64((B.TRIG["data"], B.TRIG["sms"], B.TRIG["welcome"],
                                                     B.TRIG["alert"],))
TRIG_POWER_OFF = np.int64(B.TRIG["power_off"])
EV_SESSION_START, EV_SESSION_END, EV_SMS_MT, EV_SMS_MO = _i64((pop.EV_SESSION_START, pop.EV_SESSION_END, pop.EV_SMS_MT,
                                                              pop.EV_SMS_MO,))

ST_DONE, ST_FLUSH, ST_PROGRESS, ST_GROW, ST_UNSUPPORTED, ST_STOP = _i64(range(6))

# ---- M arena, part 1: the world's header slots (W_*), at the very start of M -----------------------------------------
(W_PATH_CUM, W_PATH_LAT, W_PATH_HOPS, W_PATHID, W_SUCCESS, W_IFACE, W_TIMEOUT, W_SERVER_OF, W_OP_HSS,
 W_ELEM_OP, W_AGREE, W_WELCOME, W_RETRY_RAT, W_MAX_ATT, W_STEPS, W_NSTEPS, W_OP_COUNTRY, W_RAT_TAB,
 W_PREF_PTR, W_PREF, W_CPTR, W_COPS, W_SERVING, W_NSERV, W_BACKOFF_RAT, W_EMM, W_N_EMM,
 W_N_OPS, W_N_ELEM, W_MAX_NODES, W_RETRANS, W_NAS_DELAY, W_WINDOW,
 W_OP_DEA, W_N_COUNTRIES, W_STEER, W_POL, W_POL_PREF, W_NX,
 W_OP_USAGE, W_LBO, W_SMS_NODE, W_IS_DIA, W_CMD_BUSY, W_SESSION_BYTES, W_N_BYTES, W_MAX_OPEN,
 W_HEADER) = _i64(range(48))
# steering policy row (W_POL); W_STEER: home × country → policy row or -1; W_POL_PREF: policy × op → preferred
POL_COUNTRY, POL_MAX_REJECTS, POL_WINDOW, POL_CODE, POL_EXP, N_POL = _i64(range(6))
DEA_INDEX = np.int64(world_model.DEA_INDEX)  # hop of the home DEA on a path from the visited side
# usage elements of an operator (row of W_OP_USAGE); W_LBO: home × visited → 1 for local breakout; W_SMS_NODE:
# element → the VLR an MT SMS goes to (SMS over SGs: the VLR paired with the MME), -1 for others; W_IS_DIA and
# W_CMD_BUSY (code, experimental) per command; W_SESSION_BYTES: Population.session_bytes (W_N_BYTES of them)
OU_SGW, OU_PGW, OU_SMSC, OU_HLR, N_OU = _i64(range(5))

# ---- M arena, part 2: the state's header slots (offsets, capacities, scalars), after the world's ---------------------
(M_R, M_P, M_PF, M_T, M_TF, M_H, A_TX, A_PR, M_QF, M_QR, M_QN, M_X, M_DP, A_SE,  # section offsets (A_: addresses)
 MF_SHARE, MF_HSS_ERROR, MF_FIXED, MF_D, MF_UPLINK,  # offsets of sections of F (the float arena; F[0] = jitter sigma)
 C_P, C_T, C_H, C_QR, C_QS,  # capacities (pool rows, heap rows, ring, servers per queue)
 S_IEX, S_SEQ, S_NTXN, S_NPROC, S_EVENTS, S_HN, S_TXF, S_PRF, S_PTOP, S_TTOP, S_NEXTREP, S_STATUS,
 S_ARG, S_T, S_QMAX, S_STOP, S_RUN, S_SEF, M_HEADER_END) = _i64(range(W_HEADER, W_HEADER + 43))
# roamer row
(R_STATE, R_COUNTRY, R_NET, R_MME, R_RAT, R_RPLMN, R_ATT, R_CUR, R_EPOCH, R_HSS_MME, R_HSS_RAT, R_CTX,
 R_HOME, R_COHORT, R_DEVICE, R_RETRY_NET, R_NX, R_OFF_CYCLE,
 R_SOR_COUNTRY, R_SOR_REJECTS, R_SOR_FIRST, R_SOR_DONE,  # Engine.sor[r]: country id (-1: none), rejects, first, done
 R_MWD, R_WELCOMED, R_SESS, R_NSESS,  # Engine.mwd, Engine.welcomed (-1: none), open sessions (list head, count)
 N_R) = _i64(range(27))
# Proc row
(P_ID, P_KIND, P_R, P_TRIG, P_VIS, P_MME, P_START, P_ATT, P_NET, P_HOME, P_RAT, P_STEP, P_STEPS, P_STEERED,
 P_REFS, P_CLOSED,
 P_X, P_CORR, P_PEER, P_NEXT,  # Proc.x (session id, SMS centre), .corr, .peer; next open session of the roamer
 N_P) = _i64(range(21))
# Txn row
(T_ID, T_E2E, T_PROC, T_CMD, T_PATH, T_ORIG, T_RESP, T_TREQ, T_RETRY, T_FWD, T_IFACE, T_CODE, T_EXP,
 N_T) = _i64(range(14))
# PLMN exclusions per roamer (the engine's fplmn / roam_forbidden / tried / barred_until dicts of sets):
# M[W_NX] slots of (op, kind, until) per roamer, R_NX of them used; the driver sizes them so they cannot overflow
X_OP, X_KIND, X_UNTIL, N_XF = _i64(range(4))
XK_FPLMN, XK_ROAMF, XK_TRIED, XK_BARRED = _i64((1, 2, 3, 4))
# heap row
H_T, H_SEQ, H_KIND, H_A, H_B, H_C, N_H = _i64(range(7))
# queue row (QN): head, waiting, servers, limit
Q_HEAD, Q_N, Q_SERVERS, Q_LIMIT, N_Q = _i64(range(5))
N_TX, N_PR, N_SE = _i64((len(TXN_COLUMNS), len(PROC_COLUMNS), len(SESSION_COLUMNS)))  # in RecordBuffers' order
LOOKAHEAD = np.int64(4)  # exogenous events ahead whose roamer row is prefetched
MARGIN = np.int64(64)  # rows an event may add past `batch`; pools/heap/ring keep this much room at event start

DIGEST = np.int64(zlib.crc32(repr(sorted((name, int(v)) for name, v in globals().items()
                                          if isinstance(v, np.int64) and name.isupper())).encode()))
"""A digest of the constants above. numba's cache is keyed on this file, not on the values it froze into the
compiled code (the catalogue's command ids, causes...): :func:`frozen_digest` returns the digest as compiled, so
a cache made with other values is recognised (:func:`roamsim.engine.compiled.driver.fresh_kernel`)."""


@_jit
def frozen_digest() -> Int:
    """:data:`DIGEST` as it was when this code was compiled."""
    return DIGEST


REFILL: dict[int, Callable[[int], None]] = {}
"""Run key (``M[S_RUN]``) → the driver's refill of a draw stream's block: runs in one process may overlap
(threads), so the kernel names its run when it asks for values."""


def _refill(run: int, stream: int) -> None:
    """Draw the next block of ``stream`` into its row of ``F`` (called from the kernel through objmode)."""
    REFILL[run](stream)


@_tiny
def _u(i: Int) -> np.uint64:
    """An arena index as unsigned, so numba skips its negative-index wraparound (a sign test and a select on every
    computed index; arena offsets are never negative)."""
    return np.uint64(i)


@_jit
def _next_block(M: Arena, s: Int) -> None:
    """Draw stream ``s``'s next block into ``F`` (in Python, the same NumPy calls)."""
    run = M[S_RUN]
    with objmode():
        _refill(int(run), int(s))


@_tiny
def _draw(M: Arena, F: Floats, s: Int) -> float:
    """Next value of draw stream ``s`` (inlined: the rare block refill is the call)."""
    dp = _u(M[M_DP] + s)
    pos = M[dp]
    if pos >= BLOCK:
        _next_block(M, s)
        pos = 0
    M[dp] = pos + 1
    return F[_u(M[MF_D] + s * BLOCK + pos)]


@_tiny
def _uniform(M: Arena, F: Floats, c: Int) -> float:
    return _draw(M, F, 3 * c)


@_tiny
def _jitter(M: Arena, F: Floats, c: Int) -> float:
    if F[0] == 0.0:  # jitter sigma 0: roamsim's _one(), no draw
        return 1.0
    return _draw(M, F, 3 * c + 1)


@_tiny
def _service(M: Arena, F: Floats, c: Int) -> float:
    fixed = F[_u(M[MF_FIXED] + c)]
    if fixed >= 0.0:  # "fixed" distribution: no draw
        return fixed
    return _draw(M, F, 3 * c + 2)


# ---- accessors ----------------------------------------------------------------------------------------------
@_tiny
def rg(M: Arena, r: Int, f: Int) -> Int:
    return M[_u(M[M_R] + r * N_R + f)]


@_tiny
def rs(M: Arena, r: Int, f: Int, v: Int) -> None:
    M[_u(M[M_R] + r * N_R + f)] = v


@_tiny
def pg(M: Arena, p: Int, f: Int) -> Int:
    return M[_u(M[M_P] + p * N_P + f)]


@_tiny
def ps(M: Arena, p: Int, f: Int, v: Int) -> None:
    M[_u(M[M_P] + p * N_P + f)] = v


@_tiny
def tg(M: Arena, x: Int, f: Int) -> Int:
    return M[_u(M[M_T] + x * N_T + f)]


@_tiny
def ts(M: Arena, x: Int, f: Int, v: Int) -> None:
    M[_u(M[M_T] + x * N_T + f)] = v


@_tiny
def wv(M: Arena, slot: Int, i: Int) -> Int:
    """i-th value of the world section at header ``slot``."""
    return M[_u(M[slot] + i)]


@_tiny
def _prefetch_roamer(M: Arena, r: Int) -> None:
    """Start loading roamer ``r``'s row (a few events before it is needed: rows are touched in random order): every
    64-byte line of it (N_R values span up to N_R // 8 + 1 lines)."""
    o = M[M_R] + r * N_R
    for j in range(0, N_R, 8):
        _prefetch(M, o + j)
    _prefetch(M, o + N_R - 1)


@_tiny
def unsupported(M: Arena, code: Int) -> None:
    M[S_STATUS] = ST_UNSUPPORTED
    M[S_ARG] = code


# ---- heap: array binary heap on (t, seq); seq is unique, so the pop order equals heapq's ----------------
@_tiny
def _less(M: Arena, i: Int, j: Int) -> bool:
    o = M[M_H]
    a, b = o + i * N_H, o + j * N_H
    ta, tb = M[_u(a + H_T)], M[_u(b + H_T)]
    return ta < tb or (ta == tb and M[_u(a + H_SEQ)] < M[_u(b + H_SEQ)])


@_tiny
def _swap(M: Arena, i: Int, j: Int) -> None:
    o = M[M_H]
    a, b = o + i * N_H, o + j * N_H
    for k in range(N_H):
        x = M[_u(a + k)]
        M[_u(a + k)] = M[_u(b + k)]
        M[_u(b + k)] = x


@_jit
def _push(M: Arena, t: Int, kind: Int, a: Int, b: Int, c: Int) -> None:
    n = M[S_HN]
    e = M[M_H] + n * N_H
    M[_u(e + H_T)] = t
    M[_u(e + H_SEQ)] = M[S_SEQ]
    M[S_SEQ] += 1
    M[_u(e + H_KIND)] = kind
    M[_u(e + H_A)] = a
    M[_u(e + H_B)] = b
    M[_u(e + H_C)] = c
    M[S_HN] = n + 1
    while n > 0:
        parent = (n - 1) >> 1
        if _less(M, n, parent):
            _swap(M, n, parent)
            n = parent
        else:
            break


@_jit
def _pop(M: Arena) -> None:
    """Remove the root (read it first)."""
    n = M[S_HN] - 1
    M[S_HN] = n
    if n == 0:
        return
    o = M[M_H]
    for k in range(N_H):
        M[_u(o + k)] = M[_u(o + n * N_H + k)]
    i = 0
    while True:
        lft = 2 * i + 1
        if lft >= n:
            break
        m = lft
        if lft + 1 < n and _less(M, lft + 1, lft):
            m = lft + 1
        if _less(M, m, i):
            _swap(M, m, i)
            i = m
        else:
            break


# ---- pools and records -------------------------------------------------------------------------------------
@_jit
def _new_proc(M: Arena, kind: Int, r: Int, trig: Int, visited: Int, mme: Int, t: Int, attempt: Int, network: Int,
              rat: Int) -> Int:
    M[S_PTOP] -= 1
    p = M[_u(M[M_PF] + M[S_PTOP])]
    M[S_NPROC] += 1
    o = M[M_P] + p * N_P
    M[_u(o + P_ID)] = M[S_NPROC]
    M[_u(o + P_KIND)] = kind
    M[_u(o + P_R)] = r
    M[_u(o + P_TRIG)] = trig
    M[_u(o + P_VIS)] = visited
    M[_u(o + P_MME)] = mme
    M[_u(o + P_START)] = t
    M[_u(o + P_ATT)] = attempt
    M[_u(o + P_NET)] = network
    M[_u(o + P_HOME)] = rg(M, r, R_HOME)
    M[_u(o + P_RAT)] = rat
    M[_u(o + P_STEP)] = 0
    M[_u(o + P_STEPS)] = -1
    M[_u(o + P_STEERED)] = 0
    M[_u(o + P_REFS)] = 0
    M[_u(o + P_CLOSED)] = 0
    M[_u(o + P_X)] = 0
    M[_u(o + P_CORR)] = -1
    M[_u(o + P_PEER)] = -1
    M[_u(o + P_NEXT)] = -1
    return p


@_jit
def _maybe_free_proc(M: Arena, p: Int) -> None:
    if pg(M, p, P_CLOSED) == 1 and pg(M, p, P_REFS) == 0 and rg(M, pg(M, p, P_R), R_CUR) != p:
        ps(M, p, P_CLOSED, 2)
        M[_u(M[M_PF] + M[S_PTOP])] = p
        M[S_PTOP] += 1


@_jit
def _free_txn(M: Arena, x: Int) -> None:
    p = tg(M, x, T_PROC)
    ps(M, p, P_REFS, pg(M, p, P_REFS) - 1)
    M[_u(M[M_TF] + M[S_TTOP])] = x
    M[S_TTOP] += 1
    _maybe_free_proc(M, p)


@_jit
def _close(M: Arena, p: Int, t: Int, outcome: Int, cause: Int, code: Int, exp: Int) -> None:
    a = M[A_PR]  # the procedure record buffer: row-major, one record is N_PR consecutive values
    o = M[S_PRF] * N_PR
    q = M[M_P] + p * N_P
    _poke(a, o, M[_u(q + P_ID)])
    _poke(a, o + 1, M[_u(q + P_KIND)])
    _poke(a, o + 2, M[_u(q + P_TRIG)])
    _poke(a, o + 3, M[_u(q + P_R)])
    _poke(a, o + 4, M[_u(q + P_VIS)])
    _poke(a, o + 5, M[_u(q + P_MME)])
    _poke(a, o + 6, M[_u(q + P_START)])
    _poke(a, o + 7, t)
    _poke(a, o + 8, outcome)
    _poke(a, o + 9, cause)
    _poke(a, o + 10, code)
    _poke(a, o + 11, exp)
    _poke(a, o + 12, M[_u(q + P_ATT)])
    _poke(a, o + 13, M[_u(q + P_STEERED)])
    _poke(a, o + 14, M[_u(q + P_RAT)])
    M[S_PRF] += 1
    M[_u(q + P_CLOSED)] = 1
    _maybe_free_proc(M, p)


@_jit
def _new_txn(M: Arena, F: Floats, p: Int, cmd: Int, path: Int, origin: Int, responder: Int, t: Int, retry: Int,
             e2e: Int) -> Int:
    M[S_NTXN] += 1
    tid = M[S_NTXN]
    M[S_TTOP] -= 1
    x = M[_u(M[M_TF] + M[S_TTOP])]
    o = M[M_T] + x * N_T
    M[_u(o + T_ID)] = tid
    M[_u(o + T_E2E)] = tid if e2e < 0 else e2e
    M[_u(o + T_PROC)] = p
    M[_u(o + T_CMD)] = cmd
    M[_u(o + T_PATH)] = path
    M[_u(o + T_ORIG)] = origin
    M[_u(o + T_RESP)] = responder
    M[_u(o + T_TREQ)] = t
    M[_u(o + T_RETRY)] = retry
    M[_u(o + T_IFACE)] = wv(M, W_IFACE, cmd)  # (MAP over Gr: the is_sgsn check is not needed for S6a)
    M[_u(o + T_FWD)] = np.int64(wv(M, W_PATH_LAT, path) * _jitter(M, F, rg(M, pg(M, p, P_R), R_COHORT)))
    ps(M, p, P_REFS, pg(M, p, P_REFS) + 1)
    return x


@_jit
def _record_txn(M: Arena, x: Int, t_ans: Int, code: Int, exp: Int, timed_out: Int, steering: Int, wait: Int,
                service: Int, resp_hops: Int, t_depart: Int) -> None:
    a = M[A_TX]  # the transaction record buffer: row-major, one record is N_TX consecutive values
    o = M[S_TXF] * N_TX
    q = M[M_T] + x * N_T
    p = M[_u(q + T_PROC)]
    _poke(a, o, M[_u(q + T_ID)])
    _poke(a, o + 1, M[_u(q + T_E2E)])
    _poke(a, o + 2, pg(M, p, P_ID))
    _poke(a, o + 3, pg(M, p, P_R))
    _poke(a, o + 4, pg(M, p, P_VIS))
    _poke(a, o + 5, M[_u(q + T_CMD)])
    _poke(a, o + 6, M[_u(q + T_PATH)])
    _poke(a, o + 7, resp_hops)
    _poke(a, o + 8, M[_u(q + T_ORIG)])
    _poke(a, o + 9, M[_u(q + T_RESP)])
    _poke(a, o + 10, M[_u(q + T_TREQ)])
    _poke(a, o + 11, M[_u(q + T_FWD)])
    _poke(a, o + 12, t_depart)
    _poke(a, o + 13, t_ans)
    _poke(a, o + 14, code)
    _poke(a, o + 15, exp)
    _poke(a, o + 16, timed_out)
    _poke(a, o + 17, M[_u(q + T_RETRY)])
    _poke(a, o + 18, steering)
    _poke(a, o + 19, wait)
    _poke(a, o + 20, service)
    _poke(a, o + 21, M[_u(q + T_IFACE)])
    M[S_TXF] += 1


# ---- engine handlers (names as in roamsim.engine.core) -----------------------------------------------------
@_tiny
def _path_cum(M: Arena, path: Int, hop: Int) -> Int:
    return M[_u(M[W_PATH_CUM] + path * MAX_HOPS1 + hop)]


@_jit
def _answer(M: Arena, F: Floats, x: Int, t_depart: Int, resp_hops: Int, code: Int, exp: Int, wait: Int, service: Int,
            steering: Int, schedule: bool) -> Int:
    path = tg(M, x, T_PATH)
    c = rg(M, pg(M, tg(M, x, T_PROC), P_R), R_COHORT)
    t_ans = t_depart + _path_cum(M, path, resp_hops) + np.int64(wv(M, W_PATH_LAT, path) * _jitter(M, F, c))
    limit = wv(M, W_TIMEOUT, tg(M, x, T_CMD))
    t_req = tg(M, x, T_TREQ)
    timed_out = 1 if t_ans - t_req > limit else 0
    _record_txn(M, x, t_ans, code, exp, timed_out, steering, wait, service, resp_hops, t_depart)
    if schedule:
        if timed_out:
            _push(M, t_req + limit, K_TIMEOUT, x, 0, 0)
        else:
            ts(M, x, T_CODE, code)
            ts(M, x, T_EXP, exp)
            _push(M, t_ans, K_ANSWER, x, 0, 0)
    return t_ans


@_jit
def _send_home(M: Arena, F: Floats, t: Int, p: Int, cmd: Int, origin: Int, retry: Int, e2e: Int) -> None:
    h = pg(M, p, P_HOME)
    server = M[_u(M[W_SERVER_OF] + cmd * M[W_N_OPS] + h)]
    n_elem = M[W_N_ELEM]
    path = M[_u(M[W_PATHID] + (origin * n_elem + server) * 2)]
    if path < 0:
        unsupported(M, 1)  # a path the driver did not make
        return
    x = _new_txn(M, F, p, cmd, path, origin, server, t, retry, e2e)
    if cmd == ULR:  # LOCATION_CMDS on S6a; (5G SoR instead of rejects: no 5G in this model)
        pol = _policy(M, p)
        if pol >= 0:
            t_border = t + _path_cum(M, path, DEA_INDEX) + tg(M, x, T_FWD)
            if _steer(M, t_border, p, pol):
                ts(M, x, T_RESP, wv(M, W_OP_DEA, h))
                ps(M, p, P_STEERED, 1)
                row = M[W_POL] + pol * N_POL
                _answer(M, F, x, t_border, DEA_INDEX, M[_u(row + POL_CODE)], M[_u(row + POL_EXP)], 0, 0, 1, True)
                return
    _push(M, t + _path_cum(M, path, wv(M, W_PATH_HOPS, path)) + tg(M, x, T_FWD), K_HSS, x, 0, 0)


@_jit
def _policy(M: Arena, p: Int) -> Int:
    """The steering policy of the procedure's home in its visited network's country (row of W_POL), or -1."""
    country = wv(M, W_OP_COUNTRY, pg(M, p, P_VIS))
    return M[_u(M[W_STEER] + pg(M, p, P_HOME) * M[W_N_COUNTRIES] + country)]


@_jit
def _steer(M: Arena, t: Int, p: Int, pol: Int) -> bool:
    """Reject-based steering at the home border agent (GSMA IR.73): True if this request is rejected."""
    r = pg(M, p, P_R)
    v = pg(M, p, P_VIS)
    row = M[W_POL] + pol * N_POL
    country = M[_u(row + POL_COUNTRY)]
    if rg(M, r, R_SOR_COUNTRY) != country:  # (also: no state yet, -1)
        rs(M, r, R_SOR_COUNTRY, country)
        rs(M, r, R_SOR_REJECTS, 0)
        rs(M, r, R_SOR_FIRST, -1)
        rs(M, r, R_SOR_DONE, 0)
    if rg(M, r, R_SOR_DONE):
        return False
    if M[_u(M[W_POL_PREF] + pol * M[W_N_OPS] + v)]:
        rs(M, r, R_SOR_DONE, 1)
        return False
    window, first = M[_u(row + POL_WINDOW)], rg(M, r, R_SOR_FIRST)
    within = window < 0 or first < 0 or t - first < window
    if rg(M, r, R_SOR_REJECTS) < M[_u(row + POL_MAX_REJECTS)] and within:
        rs(M, r, R_SOR_REJECTS, rg(M, r, R_SOR_REJECTS) + 1)
        if first < 0:
            rs(M, r, R_SOR_FIRST, t)
        return True
    rs(M, r, R_SOR_DONE, 1)
    return False


@_jit
def _home_request(M: Arena, F: Floats, t: Int, p: Int, cmd: Int, target: Int) -> Int:
    """A request answered by a node without queueing (folded, no event); returns the answer's arrival time."""
    origin = wv(M, W_OP_HSS, pg(M, p, P_HOME))  # HOME_FOR_KIND["mme"] == "hss"
    n_elem = M[W_N_ELEM]
    path = M[_u(M[W_PATHID] + (origin * n_elem + target) * 2 + 1)]
    if path < 0:
        unsupported(M, 2)
        return t
    x = _new_txn(M, F, p, cmd, path, origin, target, t, 0, -1)
    hops = wv(M, W_PATH_HOPS, path)
    t_node = t + _path_cum(M, path, hops) + tg(M, x, T_FWD)
    r = pg(M, p, P_R)
    if cmd == CLR and rg(M, r, R_CTX) == target:
        rs(M, r, R_CTX, -1)
    t_ans = _answer(M, F, x, t_node + NODE_PROCESSING_NS, hops, wv(M, W_SUCCESS, cmd), 0, 0, 0, 0,
                    False)
    _free_txn(M, x)
    return t_ans


@_jit
def _cancel(M: Arena, F: Floats, t: Int, r: Int, node: Int, trig: Int, rat: Int) -> None:
    p = _new_proc(M, P_CANCEL, r, trig, wv(M, W_ELEM_OP, node), node, t, 0, 1, rat)
    t_ans = _home_request(M, F, t, p, CLR, node)
    _close(M, p, t_ans, O_SUCCESS, 0, wv(M, W_SUCCESS, CLR), 0)


@_jit
def _admit(M: Arena, h: Int, t: Int, service: Int) -> Int:
    """roamsim.engine.queue.ServerQueue.admit: FIFO next-free time per server, finite waiting room."""
    qn = M[M_QN] + h * N_Q
    qf = M[M_QF] + h * M[C_QS]
    nserv = M[_u(qn + Q_SERVERS)]
    k = 0
    start = M[_u(qf)]
    for j in range(1, nserv):
        if M[_u(qf + j)] < start:
            start = M[_u(qf + j)]
            k = j
    if start > t:
        cap = M[C_QR]
        qr = M[M_QR] + h * cap
        head, n = M[_u(qn + Q_HEAD)], M[_u(qn + Q_N)]
        while n > 0 and M[_u(qr + head)] <= t:
            head += 1
            if head == cap:
                head = 0
            n -= 1
        M[_u(qn + Q_HEAD)] = head
        M[_u(qn + Q_N)] = n
        if n >= M[_u(qn + Q_LIMIT)]:
            return -1
        M[_u(qr + (head + n) % cap)] = start
        n += 1
        M[_u(qn + Q_N)] = n
        M[S_QMAX] = max(M[S_QMAX], n)
    else:
        start = t
    M[_u(qf + k)] = start + service
    return start


@_jit
def _lost(M: Arena, x: Int) -> None:
    _record_txn(M, x, -1, 0, 0, 1, 0, 0, 0, wv(M, W_PATH_HOPS, tg(M, x, T_PATH)), -1)
    _push(M, tg(M, x, T_TREQ) + wv(M, W_TIMEOUT, tg(M, x, T_CMD)), K_TIMEOUT, x, 0, 0)


@_jit
def _on_hss(M: Arena, F: Floats, t: Int, x: Int) -> None:
    """A request reaches the home subscriber server: transient errors, queueing, then the answer."""
    code: Int
    p = tg(M, x, T_PROC)
    r = pg(M, p, P_R)
    h = pg(M, p, P_HOME)
    c = rg(M, r, R_COHORT)
    cmd = tg(M, x, T_CMD)
    hops = wv(M, W_PATH_HOPS, tg(M, x, T_PATH))
    err = F[_u(M[MF_HSS_ERROR] + h)]
    if err > 0.0 and _uniform(M, F, c) < err:
        u = _uniform(M, F, c)
        if u < 0.3:
            _lost(M, x)
            return
        if wv(M, W_IS_DIA, cmd) == 0:  # MAP (SRI-for-SM at the HLR): cat.BUSY
            code, exp = wv(M, W_CMD_BUSY, 2 * cmd), wv(M, W_CMD_BUSY, 2 * cmd + 1)
        elif u < 0.6:
            code, exp = TOO_BUSY, 0
        elif cmd == AIR:
            code, exp = AUTH_DATA_UNAVAILABLE, 1
        else:
            code, exp = UNABLE_TO_DELIVER, 0
        _answer(M, F, x, t, hops, code, exp, 0, 0, 0, True)
        return
    service = np.int64(_service(M, F, c))
    start = _admit(M, h, t, service)
    if start < 0:
        _answer(M, F, x, t, hops, wv(M, W_CMD_BUSY, 2 * cmd), wv(M, W_CMD_BUSY, 2 * cmd + 1), 0, 0, 0, True)
        return
    done = start + service
    code, exp = wv(M, W_SUCCESS, cmd), 0
    if cmd == ULR:
        v = pg(M, p, P_VIS)
        if (M[_u(M[W_AGREE] + h * M[W_N_OPS] + v)] >> pg(M, p, P_RAT)) & 1 == 0:
            code, exp = RNA_DIA, 1
        else:
            old, old_rat = rg(M, r, R_HSS_MME), rg(M, r, R_HSS_RAT)
            origin = tg(M, x, T_ORIG)
            rs(M, r, R_HSS_MME, origin)
            rs(M, r, R_HSS_RAT, pg(M, p, P_RAT))
            if old >= 0 and old != origin:
                _cancel(M, F, done, r, old, TRIG_LOC_UPD, old_rat)
            if rg(M, r, R_MWD):
                rs(M, r, R_MWD, 0)
                _alert(M, F, done, r)
    elif cmd == PUR:
        if rg(M, r, R_HSS_MME) == tg(M, x, T_ORIG):
            rs(M, r, R_HSS_MME, -1)
        # (hlr_sgsn: no 2G/3G registration in this model)
    elif cmd == SRI_SM:
        if rg(M, r, R_HSS_MME) < 0:
            code = ABSENT_SUBSCRIBER_SM
            rs(M, r, R_MWD, 1)
    elif cmd == RSDS:
        rs(M, r, R_MWD, 1)
    elif cmd != AIR:
        unsupported(M, 3)
    _answer(M, F, x, done, hops, code, exp, start - t, service, 0, True)


@_jit
def _registered(M: Arena, F: Floats, t: Int, p: Int, code: Int, exp: Int) -> None:
    r = pg(M, p, P_R)
    kind = pg(M, p, P_KIND)
    rs(M, r, R_CUR, -1)
    _close(M, p, t, O_SUCCESS, 0, code, exp)
    v = pg(M, p, P_VIS)
    rs(M, r, R_STATE, REGISTERED)
    rs(M, r, R_NET, v)
    rs(M, r, R_MME, pg(M, p, P_MME))
    rs(M, r, R_CTX, pg(M, p, P_MME))
    rs(M, r, R_RAT, pg(M, p, P_RAT))
    rs(M, r, R_RPLMN, v)
    rs(M, r, R_ATT, 0)
    _x_clear(M, r, XK_TRIED)
    # (proc.sor: 5G SoR only)
    if wv(M, W_WELCOME, v) and rg(M, r, R_WELCOMED) != v and kind == P_ATTACH:  # (P_LU, P_REG: no 2G/3G/5G)
        rs(M, r, R_WELCOMED, v)
        _start_sms_mt(M, F, t, r, TRIG_WELCOME, v)


@_jit
def _schedule_retry(M: Arena, t: Int, r: Int, v: Int, rat: Int) -> None:
    rs(M, r, R_EPOCH, rg(M, r, R_EPOCH) + 1)
    rs(M, r, R_RETRY_NET, v)
    _push(M, t + wv(M, W_RETRY_RAT, rat), K_TIMER, r, rg(M, r, R_EPOCH), TRIG_RETRY)


@_jit
def _emm_cause(M: Arena, code: Int, exp: Int) -> Int:
    """dia.emm_cause_for (TS 29.272 Annex A): listed (code, experimental) pairs, else #42."""
    base = M[W_EMM]
    for j in range(M[W_N_EMM]):
        if M[_u(base + 3 * j)] == code and M[_u(base + 3 * j + 1)] == exp:
            return M[_u(base + 3 * j + 2)]
    return 42


@_jit
def _attach_failed(M: Arena, F: Floats, t: Int, p: Int, code: Int, exp: Int, timed_out: bool) -> None:
    r, v = pg(M, p, P_R), pg(M, p, P_VIS)
    rat = pg(M, p, P_RAT)
    cause = EMM_TIMEOUT_CAUSE if timed_out else _emm_cause(M, code, exp)
    _close(M, p, t, O_TIMEOUT if timed_out else O_REJECTED, cause, code, exp)
    rs(M, r, R_CUR, -1)
    _maybe_free_proc(M, p)
    if pg(M, p, P_KIND) == P_TAU:
        # A failed update leaves the UE deregistered: it registers again after the retry timer.
        rs(M, r, R_NET, -1)
        rs(M, r, R_STATE, SEARCHING)
        _schedule_retry(M, t, r, v, rat)
        return
    if cause == 11:
        _x_add(M, r, v, XK_FPLMN, 0)
        rs(M, r, R_ATT, 0)
        _select_and_attach(M, F, t, r, TRIG_RESEL, rat)
    elif cause == 13 or cause == 15:
        _x_add(M, r, v, XK_ROAMF, 0)
        rs(M, r, R_ATT, 0)
        _select_and_attach(M, F, t, r, TRIG_RESEL, rat)
    elif cause == 8 or cause == 2 or cause == 3:
        rs(M, r, R_STATE, NO_SERVICE)  # USIM invalid until power cycle
    elif cause == 42:
        _x_add(M, r, v, XK_BARRED, t + 2 * HPPLMN_T_NS)
        rs(M, r, R_ATT, 0)
        _select_and_attach(M, F, t, r, TRIG_RESEL, rat)
    else:
        rs(M, r, R_ATT, rg(M, r, R_ATT) + 1)
        if rg(M, r, R_ATT) < wv(M, W_MAX_ATT, rat):
            _schedule_retry(M, t, r, v, rat)
        else:
            rs(M, r, R_ATT, 0)
            _x_add(M, r, v, XK_TRIED, 0)
            _select_and_attach(M, F, t, r, TRIG_RESEL, rat)


@_jit
def _on_answer(M: Arena, F: Floats, t: Int, x: Int) -> None:
    p = tg(M, x, T_PROC)
    r = pg(M, p, P_R)
    cmd, code, exp = tg(M, x, T_CMD), tg(M, x, T_CODE), tg(M, x, T_EXP)
    network = pg(M, p, P_NET) == 1
    if (code == TOO_BUSY and wv(M, W_IS_DIA, cmd) == 1 and tg(M, x, T_RETRY) < M[W_RETRANS]
            and (network or rg(M, r, R_CUR) == p)):
        _send_home(M, F, t, p, cmd, tg(M, x, T_ORIG), tg(M, x, T_RETRY) + 1, tg(M, x, T_E2E))
        return
    ok = code == wv(M, W_SUCCESS, cmd)
    if network:
        if pg(M, p, P_KIND) == P_SMS_MT:
            _sms_mt_step(M, F, t, p, x, code, ok)
            return
        _close(M, p, t, O_SUCCESS if ok else O_REJECTED, 0, code, exp)
        return
    if rg(M, r, R_CUR) != p:
        return
    if not ok:
        _attach_failed(M, F, t, p, code, exp, False)
        return
    step = pg(M, p, P_STEP) + 1
    ps(M, p, P_STEP, step)
    sid = pg(M, p, P_STEPS)
    if step < wv(M, W_NSTEPS, sid):
        _send_home(M, F, t + M[W_NAS_DELAY], p, wv(M, W_STEPS, sid * 6 + step), pg(M, p, P_MME), 0, -1)
        return
    _registered(M, F, t, p, code, exp)


@_jit
def _on_timeout(M: Arena, F: Floats, t: Int, x: Int) -> None:
    p = tg(M, x, T_PROC)
    network = pg(M, p, P_NET) == 1
    if not network and rg(M, pg(M, p, P_R), R_CUR) != p:
        return
    if tg(M, x, T_RETRY) < M[W_RETRANS]:
        # RFC 6733 §5.5.4: retransmit with the T flag, same End-to-End identifier.
        _send_home(M, F, t, p, tg(M, x, T_CMD), tg(M, x, T_ORIG), tg(M, x, T_RETRY) + 1,
                   tg(M, x, T_E2E))
        return
    if network:
        _close(M, p, t, O_TIMEOUT, 0, 0, 0)
        if pg(M, p, P_KIND) == P_SESSION:
            _session_record(M, F, p, t, O_TIMEOUT, 0)
    else:
        _attach_failed(M, F, t, p, 0, 0, True)


@_jit
def _rat_on(M: Arena, r: Int, v: Int) -> Int:
    n_ops = M[W_N_OPS]
    return M[_u(M[W_RAT_TAB] + (rg(M, r, R_DEVICE) * n_ops + rg(M, r, R_HOME)) * n_ops + v)]


@_tiny
def _x_base(M: Arena, r: Int) -> Int:
    return M[M_X] + r * M[W_NX] * N_XF


@_jit
def _x_add(M: Arena, r: Int, v: Int, kind: Int, until: Int) -> None:
    """Add v to the roamer's set ``kind`` (barred: set/overwrite its expiry)."""
    b = _x_base(M, r)
    n = rg(M, r, R_NX)
    for j in range(n):
        e = b + j * N_XF
        if M[_u(e + X_OP)] == v and M[_u(e + X_KIND)] == kind:
            M[_u(e + X_UNTIL)] = until
            return
    if n == M[W_NX]:
        unsupported(M, 9)  # more exclusions than slots (the driver's bound says this cannot happen)
        return
    e = b + n * N_XF
    M[_u(e + X_OP)] = v
    M[_u(e + X_KIND)] = kind
    M[_u(e + X_UNTIL)] = until
    rs(M, r, R_NX, n + 1)


@_jit
def _x_clear(M: Arena, r: Int, kind: Int) -> None:
    """Remove the roamer's entries of ``kind`` (order of the others kept)."""
    b = _x_base(M, r)
    n = rg(M, r, R_NX)
    k = 0
    for j in range(n):
        e = b + j * N_XF
        if M[_u(e + X_KIND)] != kind:
            if k != j:
                f = b + k * N_XF
                M[_u(f + X_OP)] = M[_u(e + X_OP)]
                M[_u(f + X_KIND)] = M[_u(e + X_KIND)]
                M[_u(f + X_UNTIL)] = M[_u(e + X_UNTIL)]
            k += 1
    rs(M, r, R_NX, k)


@_jit
def _x_any(M: Arena, r: Int, kind: Int) -> bool:
    b = _x_base(M, r)
    for j in range(rg(M, r, R_NX)):
        if M[_u(b + j * N_XF + X_KIND)] == kind:
            return True
    return False


@_jit
def _excluded(M: Arena, t: Int, r: Int, v: Int) -> bool:
    """Engine.excluded(t, r) contains v: forbidden (#11), forbidden for roaming (#13/#15), tried, barred (#42)."""
    b = _x_base(M, r)
    for j in range(rg(M, r, R_NX)):
        e = b + j * N_XF
        if M[_u(e + X_OP)] == v and (M[_u(e + X_KIND)] != XK_BARRED or M[_u(e + X_UNTIL)] > t):
            return True
    return False


@_jit
def _selectable(M: Arena, t: Int, r: Int, v: Int) -> bool:
    return bool(wv(M, W_OP_COUNTRY, v) == rg(M, r, R_COUNTRY) and not _excluded(M, t, r, v)
                and _rat_on(M, r, v) >= 0)


@_jit
def _pick_network(M: Arena, F: Floats, t: Int, r: Int, avoid: Int) -> Int:
    """TS 23.122 automatic mode: RPLMN, SIM-preferred list, then weighted by coverage share."""
    country = rg(M, r, R_COUNTRY)
    if country < 0:
        return -1
    home = rg(M, r, R_HOME)
    rp = rg(M, r, R_RPLMN)
    if (rp >= 0 and rp != avoid and wv(M, W_OP_COUNTRY, rp) == country and not _excluded(M, t, r, rp)
            and _rat_on(M, r, rp) >= 0):
        return rp
    for j in range(wv(M, W_PREF_PTR, home), wv(M, W_PREF_PTR, home + 1)):
        v = wv(M, W_PREF, j)
        if (v != avoid and wv(M, W_OP_COUNTRY, v) == country and not _excluded(M, t, r, v)
                and _rat_on(M, r, v) >= 0):
            return v
    n = 0
    first: Int = -1
    last: Int = -1
    total = 0.0
    share = M[MF_SHARE]
    for j in range(wv(M, W_CPTR, country), wv(M, W_CPTR, country + 1)):
        v = wv(M, W_COPS, j)
        if v != avoid and not _excluded(M, t, r, v) and _rat_on(M, r, v) >= 0:
            n += 1
            if first < 0:
                first = v
            last = v
            total += F[_u(share + v)]
    if n <= 1:
        return first
    xval = _uniform(M, F, rg(M, r, R_COHORT)) * total
    for j in range(wv(M, W_CPTR, country), wv(M, W_CPTR, country + 1)):
        v = wv(M, W_COPS, j)
        if v != avoid and not _excluded(M, t, r, v) and _rat_on(M, r, v) >= 0:
            xval -= F[_u(share + v)]
            if xval < 0.0:
                return v
    return last


@_jit
def _start_attach(M: Arena, F: Floats, t: Int, r: Int, v: Int, trig: Int) -> None:
    if t >= M[W_WINDOW]:
        rs(M, r, R_STATE, NO_SERVICE)
        return
    rat = _rat_on(M, r, v)
    if rat != R4G:
        unsupported(M, 7)  # 2G/3G MAP and 5G SBI flows not ported
        return
    nn = wv(M, W_NSERV, v)
    base = M[W_SERVING] + v * M[W_MAX_NODES]
    last = rg(M, r, R_MME)
    node: Int = -1
    if last >= 0 and wv(M, W_ELEM_OP, last) == v:
        for j in range(nn):
            if M[_u(base + j)] == last:
                node = last
    if node < 0:
        node = M[_u(base + np.int64(_uniform(M, F, rg(M, r, R_COHORT)) * nn))]
    rs(M, r, R_MME, node)
    rs(M, r, R_STATE, SEARCHING)
    p = _new_proc(M, P_ATTACH, r, trig, v, node, t, rg(M, r, R_ATT) + 1, 0, rat)
    ps(M, p, P_STEPS, rat)  # REG_STEPS[rat]
    rs(M, r, R_CUR, p)
    _send_home(M, F, t, p, wv(M, W_STEPS, rat * 6), node, 0, -1)


@_jit
def _select_and_attach(M: Arena, F: Floats, t: Int, r: Int, trig: Int, rat: Int) -> None:
    v = _pick_network(M, F, t, r, -1)
    if v >= 0:
        _start_attach(M, F, t, r, v, trig)
        return
    # Nothing to try: wait T3402 if something may come back, else stay without service.
    rs(M, r, R_STATE, NO_SERVICE)
    if _x_any(M, r, XK_TRIED) or _x_any(M, r, XK_BARRED):
        rs(M, r, R_EPOCH, rg(M, r, R_EPOCH) + 1)
        _push(M, t + wv(M, W_BACKOFF_RAT, rat), K_TIMER, r, rg(M, r, R_EPOCH), TRIG_BACKOFF)


@_jit
def _on_arrive(M: Arena, F: Floats, t: Int, r: Int, param: Int) -> None:
    rs(M, r, R_COUNTRY, param)
    rs(M, r, R_EPOCH, rg(M, r, R_EPOCH) + 1)  # reset_selection
    rs(M, r, R_ATT, 0)
    rs(M, r, R_STATE, SEARCHING)
    _x_clear(M, r, XK_TRIED)
    _x_clear(M, r, XK_ROAMF)
    _x_clear(M, r, XK_BARRED)
    _select_and_attach(M, F, t, r, TRIG_ARRIVAL, R4G)


@_jit
def _on_mme_change(M: Arena, F: Floats, t: Int, r: Int) -> None:
    if rg(M, r, R_STATE) == REGISTERED and rg(M, r, R_CUR) < 0:
        v = rg(M, r, R_NET)
        rat = rg(M, r, R_RAT)
        nn = wv(M, W_NSERV, v)
        base = M[W_SERVING] + v * M[W_MAX_NODES]
        if nn > 1:
            k = np.int64(_uniform(M, F, rg(M, r, R_COHORT)) * (nn - 1))
            cur_mme = rg(M, r, R_MME)
            new = -1
            for j in range(nn):  # [m for m in nodes if m != mme[r]][k]
                m = M[_u(base + j)]
                if m != cur_mme:
                    if k == 0:
                        new = m
                        break
                    k -= 1
            p = _new_proc(M, P_TAU, r, TRIG_MME_CHANGE, v, new, t, 1, 0, rat)
            ps(M, p, P_STEPS, 4 + rat)  # UPDATE_STEPS[rat]
            rs(M, r, R_CUR, p)
            _send_home(M, F, t, p, wv(M, W_STEPS, (4 + rat) * 6), new, 0, -1)


@_jit
def _reset_selection(M: Arena, r: Int) -> None:
    """Power-on, new country: counters reset, per-visit forbidden lists (#13/#15, #42) and tried PLMNs cleared."""
    rs(M, r, R_EPOCH, rg(M, r, R_EPOCH) + 1)
    rs(M, r, R_ATT, 0)
    _x_clear(M, r, XK_TRIED)
    _x_clear(M, r, XK_ROAMF)
    _x_clear(M, r, XK_BARRED)


@_jit
def _abort(M: Arena, t: Int, r: Int) -> None:
    """The procedure in progress (if any) is closed as aborted; pending UE timers are void (epoch)."""
    p = rg(M, r, R_CUR)
    if p >= 0:
        rs(M, r, R_CUR, -1)
        _close(M, p, t, O_ABORTED, 0, 0, 0)
    rs(M, r, R_EPOCH, rg(M, r, R_EPOCH) + 1)


@_jit
def _on_leg(M: Arena, F: Floats, t: Int, r: Int, param: Int) -> None:
    """The roamer crosses a border (next country of an itinerary)."""
    st = rg(M, r, R_STATE)
    _abort(M, t, r)
    _end_sessions(M, F, t, r, TRIG_BORDER)
    rs(M, r, R_COUNTRY, param)
    _reset_selection(M, r)
    rs(M, r, R_NET, -1)
    if st != OFF:
        rs(M, r, R_STATE, SEARCHING)
        _select_and_attach(M, F, t, r, TRIG_BORDER, R4G)


@_jit
def _on_power_off(M: Arena, F: Floats, t: Int, r: Int, param: Int) -> None:
    st = rg(M, r, R_STATE)
    if st in (OFF, ABSENT):
        return
    _abort(M, t, r)
    _end_sessions(M, F, t, r, TRIG_POWER_OFF)
    rs(M, r, R_STATE, OFF)
    rs(M, r, R_OFF_CYCLE, param)
    rs(M, r, R_NET, -1)


@_jit
def _on_power_on(M: Arena, F: Floats, t: Int, r: Int, param: Int) -> None:
    if rg(M, r, R_STATE) == OFF and rg(M, r, R_OFF_CYCLE) == param:
        _reset_selection(M, r)
        rs(M, r, R_STATE, SEARCHING)
        _select_and_attach(M, F, t, r, TRIG_POWER_ON, R4G)


@_jit
def _on_purge(M: Arena, F: Floats, t: Int, r: Int, param: Int) -> None:
    """The MME purges a UE that stayed off (TS 23.401 §5.3.9.3): PUR/PUA, a network procedure."""
    ctx = rg(M, r, R_CTX)
    if rg(M, r, R_STATE) == OFF and rg(M, r, R_OFF_CYCLE) == param and ctx >= 0:
        p = _new_proc(M, P_PURGE, r, TRIG_INACTIVITY, wv(M, W_ELEM_OP, ctx), ctx, t, 0, 1, rg(M, r, R_RAT))
        rs(M, r, R_CTX, -1)
        _send_home(M, F, t, p, PUR, ctx, 0, -1)  # PURGE_BY_KIND["mme"]


@_jit
def _on_net_change(M: Arena, F: Floats, t: Int, r: Int) -> None:
    if rg(M, r, R_STATE) == REGISTERED and rg(M, r, R_CUR) < 0:
        v = _pick_network(M, F, t, r, rg(M, r, R_NET))
        if v >= 0:
            _end_sessions(M, F, t, r, TRIG_NET_CHANGE)
            rs(M, r, R_NET, -1)
            rs(M, r, R_STATE, SEARCHING)
            _start_attach(M, F, t, r, v, TRIG_NET_CHANGE)


@_jit
def _on_idr(M: Arena, F: Floats, t: Int, r: Int) -> None:
    """The home network changes the subscription: IDR/IDA to the registered MME (IDR_BY_KIND["mme"])."""
    target = rg(M, r, R_HSS_MME)
    if target >= 0:
        p = _new_proc(M, P_IDR, r, TRIG_SUBSCRIPTION, wv(M, W_ELEM_OP, target), target, t, 0, 1,
                      rg(M, r, R_HSS_RAT))
        _close(M, p, _home_request(M, F, t, p, IDR, target), O_SUCCESS, 0, wv(M, W_SUCCESS, IDR), 0)


@_jit
def _on_depart(M: Arena, F: Floats, t: Int, r: Int) -> None:
    """The roamer returns home: the home network cancels the visited registration (CLR)."""
    _abort(M, t, r)
    _end_sessions(M, F, t, r, TRIG_RETURN_HOME)
    rs(M, r, R_STATE, ABSENT)
    rs(M, r, R_NET, -1)
    rs(M, r, R_COUNTRY, -1)
    rs(M, r, R_EPOCH, rg(M, r, R_EPOCH) + 1)
    target = rg(M, r, R_HSS_MME)
    if target >= 0:
        _cancel(M, F, t, r, target, TRIG_RETURN_HOME, rg(M, r, R_HSS_RAT))
        rs(M, r, R_HSS_MME, -1)
    # (hlr_sgsn: no 2G/3G registration in this model)


@_jit
def _on_timer(M: Arena, F: Floats, t: Int, r: Int, trig: Int) -> None:
    s = rg(M, r, R_STATE)
    if trig == TRIG_ALERT:
        if s != ABSENT:
            _start_sms_mt(M, F, t, r, TRIG_ALERT, -1)
        return
    if s != SEARCHING and s != NO_SERVICE and s != REGISTERED:
        return
    if trig == TRIG_SOR:
        unsupported(M, 10)  # 5G SoR timers: never scheduled on 4G
        return
    if s == REGISTERED:
        return
    if trig == TRIG_BACKOFF:
        _x_clear(M, r, XK_TRIED)
        rs(M, r, R_ATT, 0)
        rs(M, r, R_STATE, SEARCHING)
        _select_and_attach(M, F, t, r, trig, R4G)
    elif trig == TRIG_RETRY:
        v = rg(M, r, R_RETRY_NET)
        if v >= 0 and _selectable(M, t, r, v):
            _start_attach(M, F, t, r, v, trig)
        else:
            _select_and_attach(M, F, t, r, TRIG_RESEL, R4G)
    else:
        unsupported(M, 8)  # steering-of-roaming timers


# ---- usage (names as in roamsim.engine.usage): data sessions, SMS -------------------------------------------
@_tiny
def _path(M: Arena, origin: Int, responder: Int, from_home: Int) -> Int:
    """Engine.path_to's path id for (origin, responder, from_home), laid out by the driver (-1: not made)."""
    return M[_u(M[W_PATHID] + (origin * M[W_N_ELEM] + responder) * 2 + from_home)]


@_tiny
def _op_usage(M: Arena, op: Int, f: Int) -> Int:
    return M[_u(M[W_OP_USAGE] + op * N_OU + f)]


@_jit
def _node_request(M: Arena, F: Floats, t: Int, p: Int, cmd: Int, origin: Int, target: Int, from_home: Int) -> Int:
    """Engine.home_request with an explicit origin (AlertServiceCentre from the HLR, MO-ForwardSM from the VLR):
    answered by the node without queueing; returns the answer's arrival time at the origin."""
    path = _path(M, origin, target, from_home)
    if path < 0:
        unsupported(M, 2)
        return t
    x = _new_txn(M, F, p, cmd, path, origin, target, t, 0, -1)
    hops = wv(M, W_PATH_HOPS, path)
    t_node = t + _path_cum(M, path, hops) + tg(M, x, T_FWD)
    t_ans = _answer(M, F, x, t_node + NODE_PROCESSING_NS, hops, wv(M, W_SUCCESS, cmd), 0, 0, 0, 0, False)
    _free_txn(M, x)
    return t_ans


@_jit
def _start_session(M: Arena, F: Floats, t: Int, r: Int, sid: Int) -> None:
    """A data session (TS 23.401 §5.10.2): GTPv2-C Create Session from the V-SGW to the home PGW (home-routed)
    or the visited one (local breakout)."""
    v = rg(M, r, R_NET)
    rat = rg(M, r, R_RAT)
    if rat != R4G:
        unsupported(M, 11)  # 2G/3G/5G sessions
        return
    if rg(M, r, R_NSESS) >= M[W_MAX_OPEN]:
        unsupported(M, 13)  # more open sessions than the record buffers' margin (the driver's bound forbids it)
        return
    p = _new_proc(M, P_SESSION, r, TRIG_DATA, v, rg(M, r, R_MME), t, 1, 1, rat)
    ps(M, p, P_X, sid)
    _session_keep(M, r, p)
    h = pg(M, p, P_HOME)
    lbo = M[_u(M[W_LBO] + h * M[W_N_OPS] + v)]
    _session_request(M, F, t, p, CREATE, _op_usage(M, v, OU_SGW), _op_usage(M, v if lbo else h, OU_PGW), True)


@_jit
def _session_request(M: Arena, F: Floats, t: Int, p: Int, cmd: Int, origin: Int, target: Int, open_: bool) -> None:
    """One GTPv2-C request answered by the PGW (no queue: folded)."""
    path = _path(M, origin, target, 0)
    if path < 0:
        unsupported(M, 14)
        return
    x = _new_txn(M, F, p, cmd, path, origin, target, t, 0, -1 if open_ else pg(M, p, P_CORR))
    if wv(M, W_ELEM_OP, origin) == wv(M, W_ELEM_OP, target):  # (cmd is CREATE or DELETE)
        ts(M, x, T_IFACE, IF_S5)
    if open_:
        ps(M, p, P_CORR, tg(M, x, T_E2E))
    ps(M, p, P_MME, origin)
    ps(M, p, P_PEER, target)
    hops = wv(M, W_PATH_HOPS, path)
    t_node = t + _path_cum(M, path, hops) + tg(M, x, T_FWD)
    t_ans = _answer(M, F, x, t_node + NODE_PROCESSING_NS, hops, wv(M, W_SUCCESS, cmd), 0, 0, 0, 0, False)
    _free_txn(M, x)
    _close(M, p, t_ans, O_SUCCESS, 0, wv(M, W_SUCCESS, cmd), 0)


@_jit
def _session_keep(M: Arena, r: Int, p: Int) -> None:
    """Engine.sessions[r][sid] = p: the roamer's open sessions, a list through the Proc pool in session-id order
    (end_sessions goes through them sorted); a kept Proc holds a reference, so it outlives its record."""
    sid = pg(M, p, P_X)
    prev: Int = -1
    cur = rg(M, r, R_SESS)
    while cur >= 0 and pg(M, cur, P_X) < sid:
        prev = cur
        cur = pg(M, cur, P_NEXT)
    ps(M, p, P_NEXT, cur)
    if prev < 0:
        rs(M, r, R_SESS, p)
    else:
        ps(M, prev, P_NEXT, p)
    rs(M, r, R_NSESS, rg(M, r, R_NSESS) + 1)
    ps(M, p, P_REFS, pg(M, p, P_REFS) + 1)


@_jit
def _session_take(M: Arena, r: Int, sid: Int) -> Int:
    """Engine.sessions[r].pop(sid) (-1: not open); the caller releases the Proc after delete_session."""
    prev: Int = -1
    cur = rg(M, r, R_SESS)
    while cur >= 0 and pg(M, cur, P_X) != sid:
        prev = cur
        cur = pg(M, cur, P_NEXT)
    if cur >= 0:
        if prev < 0:
            rs(M, r, R_SESS, pg(M, cur, P_NEXT))
        else:
            ps(M, prev, P_NEXT, pg(M, cur, P_NEXT))
        rs(M, r, R_NSESS, rg(M, r, R_NSESS) - 1)
    return cur


@_jit
def _delete_session(M: Arena, F: Floats, t: Int, r: Int, setup: Int, trig: Int) -> None:
    """End a session: Delete Session when it had signalling, then its record; the set-up Proc is released."""
    if pg(M, setup, P_PEER) >= 0:
        if pg(M, setup, P_RAT) != R4G:
            unsupported(M, 11)  # PDU session release (5G)
            return
        p = _new_proc(M, P_SESSION_DEL, r, trig, pg(M, setup, P_VIS), pg(M, setup, P_MME), t, 1, 1,
                      pg(M, setup, P_RAT))
        ps(M, p, P_X, pg(M, setup, P_X))
        ps(M, p, P_CORR, pg(M, setup, P_CORR))
        _session_request(M, F, t, p, DELETE, pg(M, setup, P_MME), pg(M, setup, P_PEER), False)
    _session_record(M, F, setup, t, O_SUCCESS, 0)
    ps(M, setup, P_REFS, pg(M, setup, P_REFS) - 1)
    _maybe_free_proc(M, setup)


@_jit
def _end_sessions(M: Arena, F: Floats, t: Int, r: Int, trig: Int) -> None:
    """Every open session of the roamer ends, in session-id order (border crossing, power off, network change,
    return home)."""
    p = rg(M, r, R_SESS)
    rs(M, r, R_SESS, -1)
    rs(M, r, R_NSESS, 0)
    while p >= 0:
        nxt = pg(M, p, P_NEXT)
        _delete_session(M, F, t, r, p, trig)
        p = nxt


@_jit
def _session_record(M: Arena, F: Floats, setup: Int, t_end: Int, outcome: Int, code: Int) -> None:
    """RecordBuffers.session: a sessions.parquet row, with the planned volume split by the cohort's uplink share
    (``int(planned * share)``: the float product truncated, as in Python)."""
    sid = pg(M, setup, P_X)
    planned = M[_u(M[W_SESSION_BYTES] + sid)] if sid < M[W_N_BYTES] else np.int64(0)
    r = pg(M, setup, P_R)
    up = np.int64(planned * F[_u(M[MF_UPLINK] + rg(M, r, R_COHORT))])
    a = M[A_SE]  # the session record buffer: row-major, one record is N_SE consecutive values
    o = M[S_SEF] * N_SE
    _poke(a, o, sid)
    _poke(a, o + 1, pg(M, setup, P_ID))
    _poke(a, o + 2, r)
    _poke(a, o + 3, pg(M, setup, P_VIS))
    _poke(a, o + 4, pg(M, setup, P_RAT))
    _poke(a, o + 5, M[_u(M[W_LBO] + pg(M, setup, P_HOME) * M[W_N_OPS] + pg(M, setup, P_VIS))])
    _poke(a, o + 6, pg(M, setup, P_START))
    _poke(a, o + 7, t_end)
    _poke(a, o + 8, outcome)
    _poke(a, o + 9, code)
    _poke(a, o + 10, up)
    _poke(a, o + 11, planned - up)
    M[S_SEF] += 1


@_jit
def _sms_node(M: Arena, r: Int) -> Int:
    """The node an MT SMS goes to: for 4G the VLR of SMS over SGs paired with the registered MME (-1: none)."""
    node = rg(M, r, R_HSS_MME)
    if node < 0:
        return -1
    vlr = wv(M, W_SMS_NODE, node)
    if vlr < 0:
        unsupported(M, 12)  # a VLR or AMF registered at home: no 2G/3G/5G here
    return vlr


@_jit
def _start_sms_mt(M: Arena, F: Floats, t: Int, r: Int, trig: Int, sender_op: Int) -> None:
    """An MT SMS from the home SMSC (or, for a welcome SMS, the visited network's): SRI-for-SM to the HLR, which
    queues with the HSS of its operator."""
    h = rg(M, r, R_HOME)
    smsc = _op_usage(M, h if sender_op < 0 else sender_op, OU_SMSC)
    net = rg(M, r, R_NET)
    p = _new_proc(M, P_SMS_MT, r, trig, net if net >= 0 else h, smsc, t, 1, 1, max(rg(M, r, R_RAT), 0))
    ps(M, p, P_X, smsc)
    hlr = _op_usage(M, h, OU_HLR)
    path = _path(M, smsc, hlr, 0)
    if path < 0:
        unsupported(M, 15)
        return
    x = _new_txn(M, F, p, SRI_SM, path, smsc, hlr, t, 0, -1)
    _push(M, t + _path_cum(M, path, wv(M, W_PATH_HOPS, path)) + tg(M, x, T_FWD), K_HSS, x, 0, 0)


@_jit
def _sms_mt_step(M: Arena, F: Floats, t: Int, p: Int, x: Int, code: Int, ok: bool) -> None:
    """After SRI-for-SM: MT-ForwardSM to the serving node (folded); an absent subscriber makes the SMSC report
    the failed delivery (ReportSM-DeliveryStatus) and the HLR set the message-waiting data."""
    r = pg(M, p, P_R)
    if tg(M, x, T_CMD) == SRI_SM:
        node = _sms_node(M, r)
        if not ok or node < 0:
            _close(M, p, t, O_REJECTED, 0, code, 0)
            return
        ps(M, p, P_VIS, wv(M, W_ELEM_OP, node))
        smsc = pg(M, p, P_X)
        path = _path(M, smsc, node, 1)
        if path < 0:
            unsupported(M, 16)
            return
        fsm = _new_txn(M, F, p, MT_FSM, path, smsc, node, t, 0, -1)
        hops = wv(M, W_PATH_HOPS, path)
        t_node = t + _path_cum(M, path, hops) + tg(M, fsm, T_FWD)
        absent = rg(M, r, R_STATE) != REGISTERED or rg(M, r, R_HSS_MME) < 0
        rc = ABSENT_SUBSCRIBER_SM if absent else wv(M, W_SUCCESS, MT_FSM)
        t_ans = _answer(M, F, fsm, t_node + NODE_PROCESSING_NS, hops, rc, 0, 0, 0, 0, False)
        _free_txn(M, fsm)
        if absent:
            hlr = _op_usage(M, pg(M, p, P_HOME), OU_HLR)
            rpath = _path(M, smsc, hlr, 0)
            rsds = _new_txn(M, F, p, RSDS, rpath, smsc, hlr, t_ans, 0, -1)
            rhops = wv(M, W_PATH_HOPS, rpath)
            t_rs = _answer(M, F, rsds, t_ans + _path_cum(M, rpath, rhops) + tg(M, rsds, T_FWD) + NODE_PROCESSING_NS,
                           rhops, wv(M, W_SUCCESS, RSDS), 0, 0, 0, 0, False)
            _free_txn(M, rsds)
            rs(M, r, R_MWD, 1)
            _close(M, p, t_rs, O_REJECTED, 0, ABSENT_SUBSCRIBER_SM, 0)
        else:
            _close(M, p, t_ans, O_SUCCESS, 0, wv(M, W_SUCCESS, MT_FSM), 0)
        return
    _close(M, p, t, O_SUCCESS if ok else O_REJECTED, 0, code, 0)


@_jit
def _alert(M: Arena, F: Floats, t: Int, r: Int) -> None:
    """The HLR alerts the home SMSC that the subscriber is back (AlertServiceCentre); the SMSC delivers again."""
    h = rg(M, r, R_HOME)
    hlr = _op_usage(M, h, OU_HLR)
    p = _new_proc(M, P_ALERT, r, TRIG_ALERT, h, hlr, t, 0, 1, max(rg(M, r, R_RAT), 0))
    t_ans = _node_request(M, F, t, p, ASC, hlr, _op_usage(M, h, OU_SMSC), 1)
    _close(M, p, t_ans, O_SUCCESS, 0, wv(M, W_SUCCESS, ASC), 0)
    if t_ans < M[W_WINDOW]:
        _push(M, t_ans, K_TIMER, r, -1, TRIG_ALERT)


@_jit
def _start_sms_mo(M: Arena, F: Floats, t: Int, r: Int) -> None:
    """MO-ForwardSM from the serving node (the VLR of SMS over SGs) to the home SMSC."""
    node = _sms_node(M, r)
    if node < 0:
        return
    p = _new_proc(M, P_SMS_MO, r, TRIG_SMS, rg(M, r, R_NET), node, t, 1, 1, rg(M, r, R_RAT))
    t_ans = _node_request(M, F, t, p, MO_FSM, node, _op_usage(M, rg(M, r, R_HOME), OU_SMSC), 0)
    _close(M, p, t_ans, O_SUCCESS, 0, wv(M, W_SUCCESS, MO_FSM), 0)


@_loop
def run_kernel(M: Arena, F: Floats, ev_t: Arena, ev_r: Arena, ev_k: Arena, ev_p: Arena, batch: Int, every: Int) -> Int:
    """Process events until done, a record buffer holds ``batch`` rows, ``every`` events have passed,
    or a pool/heap/ring needs to grow. Returns a status; all state stays in the arrays (resumable)."""
    n_ex = ev_t.shape[0]
    window = M[W_WINDOW]
    while True:
        if M[S_STATUS] != 0:
            return M[S_STATUS]
        if M[S_STOP] != 0:  # set by the driver's SIGINT handler (which runs between slices or in a draw refill)
            return ST_STOP
        if M[S_TXF] >= batch or M[S_PRF] >= batch or M[S_SEF] >= batch:
            return ST_FLUSH
        if M[S_EVENTS] >= M[S_NEXTREP]:
            M[S_NEXTREP] += every
            return ST_PROGRESS
        if (M[S_HN] + MARGIN > M[C_H] or M[S_PTOP] < MARGIN or M[S_TTOP] < MARGIN
                or M[S_QMAX] + MARGIN > M[C_QR]):
            return ST_GROW
        i = M[S_IEX]
        te = ev_t[i] if i < n_ex else END
        o = M[M_H]
        if M[S_HN] > 0 and M[_u(o + H_T)] <= te:
            t, kind, a, b, c = M[_u(o + H_T)], M[_u(o + H_KIND)], M[_u(o + H_A)], M[_u(o + H_B)], M[_u(o + H_C)]
            _pop(M)
            M[S_T] = t
            if kind == K_HSS:
                _on_hss(M, F, t, a)
            elif kind == K_ANSWER:
                _on_answer(M, F, t, a)
                _free_txn(M, a)
            elif kind == K_TIMEOUT:
                _on_timeout(M, F, t, a)
                _free_txn(M, a)
            else:
                if t >= window:
                    continue
                if b < 0 or rg(M, a, R_EPOCH) == b:
                    _on_timer(M, F, t, a, c)
        elif i < n_ex:
            M[S_IEX] = i + 1
            M[S_T] = te
            if i + LOOKAHEAD < n_ex:
                _prefetch_roamer(M, ev_r[i + LOOKAHEAD])
            k = ev_k[i]
            if k == EV_ARRIVE:
                _on_arrive(M, F, te, ev_r[i], ev_p[i])
            elif k == EV_MME_CHANGE:
                _on_mme_change(M, F, te, ev_r[i])
            elif k == EV_LEG:
                _on_leg(M, F, te, ev_r[i], ev_p[i])
            elif k == EV_POWER_OFF:
                _on_power_off(M, F, te, ev_r[i], ev_p[i])
            elif k == EV_PURGE:
                _on_purge(M, F, te, ev_r[i], ev_p[i])
            elif k == EV_POWER_ON:
                _on_power_on(M, F, te, ev_r[i], ev_p[i])
            elif k == EV_NET_CHANGE:
                _on_net_change(M, F, te, ev_r[i])
            elif k == EV_IDR:
                _on_idr(M, F, te, ev_r[i])
            elif k == EV_DEPART:
                _on_depart(M, F, te, ev_r[i])
            elif k == EV_SESSION_START:
                if rg(M, ev_r[i], R_STATE) == REGISTERED and te < window:
                    _start_session(M, F, te, ev_r[i], ev_p[i])
            elif k == EV_SESSION_END:
                p = _session_take(M, ev_r[i], ev_p[i])
                if p >= 0:
                    _delete_session(M, F, te, ev_r[i], p, TRIG_DATA)
            elif k == EV_SMS_MT:
                if rg(M, ev_r[i], R_STATE) != ABSENT and te < window:
                    _start_sms_mt(M, F, te, ev_r[i], TRIG_SMS, -1)
            elif k == EV_SMS_MO:
                if rg(M, ev_r[i], R_STATE) == REGISTERED and te < window:
                    _start_sms_mo(M, F, te, ev_r[i])
            else:
                unsupported(M, 100 + k)
        else:
            return ST_DONE
        M[S_EVENTS] += 1


