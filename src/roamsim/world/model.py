"""The compiled world: operators, network elements, signalling paths across the IPX, policies.

Everything is indexed by small integers so the engine works on lists and
arrays, never on scenario objects. Element names are made here and only here.

Paths between operators have four hops each way through the operators' border
agents and the IPX: S6a (GSMA IR.88; TS 29.272 §4) V-MME → V-DEA → IPX proxy →
H-DEA → HSS; MAP (GSMA IR.21) VLR/SGSN/SMSC → STP → IPX → STP → HLR/MSC; 5G SBI
(TS 23.501 §4.2.4, TS 29.573) AMF/SMF → vSEPP → IPX → hSEPP → AUSF/UDM/SMF. GTP
(S8) crosses the IPX as plain IP: one hop, V-SGW → H-PGW. Inside one operator a
path is one direct hop. Hop delays: element–border agent and agent–element take
``ipx.intra_plmn``; each agent adds ``ipx.hop_delay``. The IPX sits at the
visited network's side: the link between it and the subscriber's home network
carries the inter-country one-way latency (with log-normal jitter, drawn per
message), in both directions and whichever side started the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roamsim.catalogue.diameter import REJECT_CODES
from roamsim.scenario.reference import country_latency_ns
from roamsim.scenario.schema import DataRouting, Scenario

HOPS = 4
"""Hops of a path between operators through their border agents and the IPX, each way."""
MAX_HOPS = HOPS
IPX_HOP_FROM_VISITED = 2
"""On a path from the visited side, the hop (IPX → home border agent) that carries the inter-country latency."""
IPX_HOP_FROM_HOME = 1
"""On a path from the home side, the hop (home border agent → IPX) that carries it."""
DEA_INDEX = 3
"""Position of the home border agent (DEA, STP, SEPP) on a path from the visited side (where steering answers)."""
NO_LONG_HAUL = -1
"""``path_ipx_hop`` of a path inside one operator: no hop carries inter-country latency."""

HOME_KINDS = ("hss", "hlr", "ausf", "udm")
"""Home subscriber servers: one FIFO queue per operator serves them all (a converged HSS/HLR/UDM)."""
SINGLE_KINDS = ("hss", "dea", "hlr", "stp", "smsc", "ausf", "udm", "sepp", "smf", "sgw", "pgw", "smsf")
NUMBERED_KINDS = ("mme", "vlr", "sgsn", "amf")
ELEMENT_KINDS = (*SINGLE_KINDS, *NUMBERED_KINDS, "ipx")
BORDER = {"diameter": "dea", "MAP": "stp", "SBI": "sepp"}
"""Border agent of each protocol that goes through one (GTP has none)."""
RAT_ORDER = ("2G", "3G", "4G", "5G")


@dataclass(frozen=True)
class SteeringPolicy:
    """Reject-based steering for one home operator in one country (GSMA IR.73)."""

    preferred: frozenset[int]
    code: int
    experimental: bool
    max_rejects: int
    window_ns: int | None
    country_id: int
    """Index of the policy's country in :attr:`World.countries`."""
    name: str = "unable-to-comply"
    """The scenario's reject name (mapped per protocol by :mod:`roamsim.catalogue.commands`)."""
    sor_5g: bool = True
    """5G control-plane steering instead of rejects for 5G registrations."""


@dataclass
class World:
    """Operators, elements, paths and policies of a scenario, as integer-indexed tables."""

    op_ids: list[str]
    op_plmn: list[str]
    op_country: list[str]
    op_share: list[float]
    op_sim_preferred: list[list[int]]
    op_hss: list[int]
    op_dea: list[int]
    op_mmes: list[list[int]]
    op_elem: list[dict[str, int]]
    """Per operator: kind → element index of its single elements (``hlr``, ``stp``, ``sepp``, ...)."""
    op_serving: list[dict[str, list[int]]]
    """Per operator: numbered kind (``mme``, ``vlr``, ``sgsn``, ``amf``) → element indices."""
    op_rats: list[frozenset[int]]
    """RATs (indices into :data:`RAT_ORDER`) each operator runs."""
    agreement_rats: dict[tuple[int, int], frozenset[int]]
    """(home, visited) → RATs the agreement covers."""
    element_names: list[str]
    element_kind: list[str]
    element_op: list[int]
    ipx: int
    countries: list[str]
    country_ops: dict[str, list[int]]
    agreement: dict[tuple[int, int], DataRouting]
    steering: dict[tuple[int, str], SteeringPolicy]
    latency_ns: dict[tuple[int, int], int]
    hop_fixed_ns: tuple[int, ...]
    cum_fixed_ns: tuple[int, ...]
    jitter_sigma: float
    _paths: dict[tuple[int, int, str | None, bool], int] = field(default_factory=dict)
    path_elements: list[tuple[int, ...]] = field(default_factory=list)
    path_latency_ns: list[int] = field(default_factory=list)
    path_ipx_hop: list[int] = field(default_factory=list)
    path_cum_ns: list[tuple[int, ...]] = field(default_factory=list)
    """Per path: cumulative fixed delay from the origin to each element of the path."""
    path_hops: list[int] = field(default_factory=list)
    """Per path: its number of hops."""

    def path(self, origin: int, responder: int, border: str | None = "dea", from_home: bool | None = None) -> int:
        """The path id from ``origin`` to ``responder``, made on first use.

        ``border`` is the border agent kind between operators (``dea``, ``stp``,
        ``sepp``), or None for a direct IP hop (GTP). ``from_home``: whether the
        origin is on the subscriber's home side (default: it is a home
        subscriber server, HSS/HLR/UDM/AUSF).
        """
        if from_home is None:
            from_home = self.element_kind[origin] in HOME_KINDS
        key = (origin, responder, border, from_home)
        pid = self._paths.get(key)
        if pid is not None:
            return pid
        o_op, r_op = self.element_op[origin], self.element_op[responder]
        intra = self.hop_fixed_ns[0]
        if o_op == r_op:
            elems: tuple[int, ...] = (origin, responder)
            fixed: tuple[int, ...] = (intra,)
            long_haul, latency = NO_LONG_HAUL, 0
        elif border is None:
            elems, fixed = (origin, responder), (2 * intra,)
            long_haul, latency = 0, self.latency_ns[(min(o_op, r_op), max(o_op, r_op))]
        else:
            elems = (origin, self.op_elem[o_op][border], self.ipx, self.op_elem[r_op][border], responder)
            fixed = self.hop_fixed_ns
            long_haul = IPX_HOP_FROM_HOME if from_home else IPX_HOP_FROM_VISITED
            latency = self.latency_ns[(min(o_op, r_op), max(o_op, r_op))]
        cum = [0]
        for d in fixed:
            cum.append(cum[-1] + d)
        pid = len(self.path_elements)
        self._paths[key] = pid
        self.path_elements.append(elems)
        self.path_latency_ns.append(latency)
        self.path_ipx_hop.append(long_haul)
        self.path_cum_ns.append(tuple(cum))
        self.path_hops.append(len(elems) - 1)
        return pid


    def rat_for(self, device_max: int, home: int, visited: int) -> int:
        """The RAT a device whose best RAT is ``device_max`` uses on ``visited`` (index into :data:`RAT_ORDER`),
        or -1 when none: the best RAT the device, both operators and their agreement support (without an
        agreement, the best the device and the visited network share: the home network then refuses it)."""
        common = self.op_rats[visited]
        agreed = self.agreement_rats.get((home, visited))
        if agreed is not None and agreed & common & self.op_rats[home]:
            common = agreed & common & self.op_rats[home]
        for rat in range(device_max, -1, -1):
            if rat in common:
                return rat
        return -1


def compile_world(s: Scenario) -> World:
    """Compile a validated scenario into a :class:`World`."""
    idx = {op.id: i for i, op in enumerate(s.operators)}
    names: list[str] = []
    kinds: list[str] = []
    owner: list[int] = []

    def add(name: str, kind: str, op: int) -> int:
        names.append(name)
        kinds.append(kind)
        owner.append(op)
        return len(names) - 1

    op_elem: list[dict[str, int]] = []
    op_serving: list[dict[str, list[int]]] = []
    for i, op in enumerate(s.operators):
        op_elem.append({k: add(f"{op.id}.{k}", k, i) for k in SINGLE_KINDS})
        counts = {"mme": op.mmes, "vlr": op.vlrs, "sgsn": op.sgsns, "amf": op.amfs}
        op_serving.append({k: [add(f"{op.id}.{k}{n + 1}", k, i) for n in range(counts[k])] for k in NUMBERED_KINDS})
    ipx = add("ipx", "ipx", -1)
    op_hss = [e["hss"] for e in op_elem]
    op_dea = [e["dea"] for e in op_elem]
    op_mmes = [e["mme"] for e in op_serving]

    countries = sorted({op.country for op in s.operators})
    country_ops = {c: [i for i, op in enumerate(s.operators) if op.country == c] for c in countries}
    agreement = {(idx[a.home], idx[v]): a.data for a in s.agreements for v in a.visited}
    agreement_rats: dict[tuple[int, int], frozenset[int]] = {}
    for ag in s.agreements:
        for v in ag.visited:
            key = (idx[ag.home], idx[v])
            agreement_rats[key] = agreement_rats.get(key, frozenset()) | {RAT_ORDER.index(r.value) for r in ag.rats}
    steering = {}
    for st in s.steering:
        code, exp = REJECT_CODES[st.reject_with]
        steering[(idx[st.home], st.country)] = SteeringPolicy(
            frozenset(idx[p] for p in st.preferred), code, exp, st.max_rejects, st.window, countries.index(st.country),
            st.reject_with, st.sor_5g,
        )

    pair_override: dict[frozenset[str], int] = {frozenset(o.between): o.one_way for o in s.ipx.overrides}
    latency: dict[tuple[int, int], int] = {}
    for a, opa in enumerate(s.operators):
        for b in range(a, len(s.operators)):
            opb = s.operators[b]
            ns = pair_override.get(frozenset((opa.id, opb.id)))
            if ns is None:
                ns = pair_override.get(frozenset((opa.country, opb.country)))
            if ns is None:
                ns = country_latency_ns(opa.country, opb.country)
            latency[(a, b)] = ns

    intra, hd = s.ipx.intra_plmn, s.ipx.hop_delay
    hop_fixed = (intra, hd, hd, hd + intra)
    cum = [0]
    for d in hop_fixed:
        cum.append(cum[-1] + d)
    return World(
        op_ids=[op.id for op in s.operators],
        op_plmn=[op.plmn for op in s.operators],
        op_country=[op.country for op in s.operators],
        op_share=[op.share for op in s.operators],
        op_sim_preferred=[[idx[p] for p in op.sim_preferred] for op in s.operators],
        op_hss=op_hss,
        op_dea=op_dea,
        op_mmes=op_mmes,
        op_elem=op_elem,
        op_serving=op_serving,
        op_rats=[frozenset(RAT_ORDER.index(r.value) for r in op.rats) for op in s.operators],
        agreement_rats=agreement_rats,
        element_names=names,
        element_kind=kinds,
        element_op=owner,
        ipx=ipx,
        countries=countries,
        country_ops=country_ops,
        agreement=agreement,
        steering=steering,
        latency_ns=latency,
        hop_fixed_ns=hop_fixed,
        cum_fixed_ns=tuple(cum),
        jitter_sigma=s.ipx.jitter,
    )
