"""Data sessions and SMS of the engine: functions of the :class:`roamsim.engine.core.Engine` state.

Data sessions (TS 23.401 §5.10.2, TS 23.502 §4.3.2.2.2): GTPv2-C Create/Delete Session from the V-SGW to the
H-PGW (home-routed) or the V-PGW (local breakout); 5G home-routed Nsmf_PDUSession between the SMFs. SMS
(TS 23.040 §10, TS 29.002 §12): SRI-for-SM then MT-ForwardSM, the message-waiting path, MO-ForwardSM and
the welcome SMS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roamsim.engine.base import (
    ABSENT_SUBSCRIBER_SM,
    ASC,
    CREATE,
    DELETE,
    IF_S5,
    K_HSS,
    K_TIMER,
    MO_FSM,
    MT_FSM,
    NODE_PROCESSING_NS,
    OUT,
    P_ALERT,
    P_SESSION,
    P_SESSION_DEL,
    P_SMS_MO,
    P_SMS_MT,
    PDU_CREATE,
    PDU_RELEASE,
    R4G,
    R5G,
    REGISTERED,
    RSDS,
    SRI_SM,
    SUCCESS,
    TRIG,
    Proc,
    Txn,
)
from roamsim.scenario.schema import DataRouting

if TYPE_CHECKING:
    from roamsim.engine.core import Engine


# -- data sessions (TS 23.401 §5.10.2; TS 23.502 §4.3.2.2.2) --------------
def start_session(e: Engine, t: int, r: int, sid: int) -> None:
    v = e.net[r]
    rat = e.rat[r]
    proc = e.new_proc(P_SESSION, r, TRIG["data"], v, e.mme[r], t, 1, network=True, rat=rat)
    proc.x = sid
    e.sessions.setdefault(r, {})[sid] = proc
    routing = e.w.agreement.get((proc.home, v), DataRouting.HOME_ROUTED)
    if rat == R4G:
        origin = e.w.op_elem[v]["sgw"]
        target = e.w.op_elem[proc.home if routing == DataRouting.HOME_ROUTED else v]["pgw"]
        session_request(e, t, proc, CREATE, origin, target, open_=True)
    elif rat == R5G and routing == DataRouting.HOME_ROUTED:
        session_request(e, t, proc, PDU_CREATE, e.w.op_elem[v]["smf"], e.w.op_elem[proc.home]["smf"],
                        open_=True)
    else:
        # 2G/3G (Gp, GTPv1: not modelled) and 5G local breakout: no roaming signalling; the session is recorded.
        e.close(proc, t, OUT["success"], 0, 0, False)


def session_request(e: Engine, t: int, proc: Proc, cmd: int, origin: int, target: int, *, open_: bool) -> None:
    """One GTPv2-C or Nsmf request answered by the PGW / H-SMF (no queue: folded)."""
    path = e.path_to(origin, target, cmd, False)
    txn = e.new_txn(proc, cmd, path, origin, target, t, 0, -1 if open_ else proc.corr)
    if cmd in (CREATE, DELETE) and e.w.element_op[origin] == e.w.element_op[target]:
        txn.iface = IF_S5
    if open_:
        proc.corr = txn.e2e
    proc.mme = origin
    proc.peer = target
    t_node = t + e.path_cum[path][-1] + txn.ipx_fwd
    t_ans = e.answer(txn, t_node + NODE_PROCESSING_NS, e.path_hops[path], SUCCESS[cmd], False, 0,
                     0, schedule=False)
    e.close(proc, t_ans, OUT["success"], 0, SUCCESS[cmd], False)


def delete_session(e: Engine, t: int, r: int, setup: Proc, trig: int) -> None:
    """End a session: Delete Session / PDU session release when it had signalling, then its record."""
    if setup.peer >= 0:
        cmd = DELETE if setup.rat == R4G else PDU_RELEASE
        proc = e.new_proc(P_SESSION_DEL, r, trig, setup.visited, setup.mme, t, 1, network=True,
                          rat=setup.rat)
        proc.x = setup.x
        proc.corr = setup.corr
        session_request(e, t, proc, cmd, setup.mme, setup.peer, open_=False)
    session_record(e, setup, t, OUT["success"], 0)


def end_sessions(e: Engine, t: int, r: int, trig: int) -> None:
    found = e.sessions.pop(r, None)
    if found:
        for sid in sorted(found):
            delete_session(e, t, r, found[sid], trig)


def session_record(e: Engine, setup: Proc, t_end: int, outcome: int, code: int) -> None:
    planned = int(e.session_bytes[setup.x]) if e.session_bytes is not None else 0
    e.rec.session(setup, t_end, outcome, code, planned, e.uplink[e.cohort[setup.r]],
                  e.w.agreement.get((setup.home, setup.visited), DataRouting.HOME_ROUTED)
                  == DataRouting.LOCAL_BREAKOUT)


# -- SMS (TS 23.040 §10.1, TS 29.002 §12, §23.3) --------------------------
def sms_node(e: Engine, r: int) -> int:
    """The node an MT SMS goes to: the MSC/VLR (2G/3G; for 4G the VLR of SMS over SGs paired with the MME),
    or the SMSF (5G)."""
    node = e.hss_mme[r]
    if node < 0:
        return -1
    kind = e.w.element_kind[node]
    v = e.w.element_op[node]
    if kind == "vlr":
        return node
    if kind == "amf":
        return e.w.op_elem[v]["smsf"]
    vlrs = e.w.op_serving[v]["vlr"]
    return vlrs[e.w.op_serving[v]["mme"].index(node) % len(vlrs)]


def start_sms_mt(e: Engine, t: int, r: int, trig: int, sender_op: int) -> None:
    """An MT SMS from the home SMSC (or, for a welcome SMS, the visited network's): SRI-for-SM to the HLR."""
    h = e.home[r]
    smsc = e.w.op_elem[h if sender_op < 0 else sender_op]["smsc"]
    proc = e.new_proc(P_SMS_MT, r, trig, e.net[r] if e.net[r] >= 0 else h, smsc, t, 1, network=True,
                      rat=max(e.rat[r], 0))
    proc.x = smsc
    hlr = e.w.op_elem[h]["hlr"]
    path = e.path_to(smsc, hlr, SRI_SM, False)
    txn = e.new_txn(proc, SRI_SM, path, smsc, hlr, t, 0)
    e.push(t + e.path_cum[path][-1] + txn.ipx_fwd, K_HSS, txn)


def sms_mt_step(e: Engine, t: int, proc: Proc, txn: Txn, code: int, ok: bool) -> None:
    r = proc.r
    if txn.cmd == SRI_SM:
        node = sms_node(e, r)
        if not ok or node < 0:
            e.close(proc, t, OUT["rejected"], 0, code, False)
            return
        proc.visited = e.w.element_op[node]
        path = e.path_to(proc.x, node, MT_FSM, True)
        fsm = e.new_txn(proc, MT_FSM, path, proc.x, node, t, 0)
        t_node = t + e.path_cum[path][-1] + fsm.ipx_fwd
        absent = e.state[r] != REGISTERED or e.hss_mme[r] < 0
        rc = ABSENT_SUBSCRIBER_SM if absent else SUCCESS[MT_FSM]
        t_ans = e.answer(fsm, t_node + NODE_PROCESSING_NS, e.path_hops[path], rc, False, 0, 0,
                         schedule=False)
        if absent:
            # The SMSC reports the failed delivery; the HLR sets the message-waiting flag (TS 23.040 §10.2).
            hlr = e.w.op_elem[proc.home]["hlr"]
            rpath = e.path_to(proc.x, hlr, RSDS, False)
            rsds = e.new_txn(proc, RSDS, rpath, proc.x, hlr, t_ans, 0)
            t_rs = e.answer(rsds, t_ans + e.path_cum[rpath][-1] + rsds.ipx_fwd + NODE_PROCESSING_NS,
                       e.path_hops[rpath], SUCCESS[RSDS], False, 0, 0, schedule=False)
            e.mwd.add(r)
            e.close(proc, t_rs, OUT["rejected"], 0, ABSENT_SUBSCRIBER_SM, False)
        else:
            e.close(proc, t_ans, OUT["success"], 0, SUCCESS[MT_FSM], False)
        return
    e.close(proc, t, OUT["success"] if ok else OUT["rejected"], 0, code, False)


def alert(e: Engine, t: int, r: int) -> None:
    """The HLR alerts the home SMSC that the subscriber is back (TS 29.002 §12.5); the SMSC delivers again."""
    h = e.home[r]
    proc = e.new_proc(P_ALERT, r, TRIG["alert"], h, e.w.op_elem[h]["hlr"], t, 0, network=True,
                      rat=max(e.rat[r], 0))
    smsc = e.w.op_elem[h]["smsc"]
    t_ans = e.home_request(t, proc, ASC, smsc, origin=e.w.op_elem[h]["hlr"])
    e.close(proc, t_ans, OUT["success"], 0, SUCCESS[ASC], False)
    if t_ans < e.window:
        e.push(t_ans, K_TIMER, (r, -1, TRIG["alert"]))


def start_sms_mo(e: Engine, t: int, r: int) -> None:
    node = sms_node(e, r)
    if node < 0:
        return
    h = e.home[r]
    proc = e.new_proc(P_SMS_MO, r, TRIG["sms"], e.net[r], node, t, 1, network=True, rat=e.rat[r])
    t_ans = e.home_request(t, proc, MO_FSM, e.w.op_elem[h]["smsc"], from_home=False, origin=node)
    e.close(proc, t_ans, OUT["success"], 0, SUCCESS[MO_FSM], False)
