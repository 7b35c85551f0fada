"""The compiled world: operators, network elements, S6a paths across the IPX, policies.

Everything is indexed by small integers so the engine works on lists and
arrays, never on scenario objects. Element names are made here and only here.

S6a path (GSMA IR.88; TS 29.272 §4): V-MME → V-DEA → IPX proxy → H-DEA → HSS,
four hops each way. Hop delays: MME–DEA and DEA–HSS take ``ipx.intra_plmn``;
each Diameter agent adds ``ipx.hop_delay``. The IPX proxy sits at the visited
network's side: the link between it and the home DEA carries the inter-country
one-way latency (with log-normal jitter, drawn per message), in both
directions and whichever side started the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roamsim.catalogue.diameter import REJECT_CODES
from roamsim.scenario.reference import country_latency_ns
from roamsim.scenario.schema import DataRouting, Rat, Scenario

HOPS = 4
"""Hops of an S6a path, each way."""
IPX_HOP_FROM_VISITED = 2
"""On an MME-originated path, the hop (IPX proxy → home DEA) that carries the inter-country latency."""
IPX_HOP_FROM_HOME = 1
"""On an HSS-originated path, the hop (home DEA → IPX proxy) that carries it."""
DEA_INDEX = 3
"""Position of the home DEA on an MME-originated path (where steering answers)."""

ELEMENT_KINDS = ("hss", "dea", "mme", "ipx")


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
    _paths: dict[tuple[int, int], int] = field(default_factory=dict)
    path_elements: list[tuple[int, ...]] = field(default_factory=list)
    path_latency_ns: list[int] = field(default_factory=list)
    path_ipx_hop: list[int] = field(default_factory=list)

    def path(self, origin: int, responder: int) -> int:
        """The path id between an MME and an HSS (either direction), made on first use."""
        key = (origin, responder)
        pid = self._paths.get(key)
        if pid is not None:
            return pid
        o_op, r_op = self.element_op[origin], self.element_op[responder]
        elems = (origin, self.op_dea[o_op], self.ipx, self.op_dea[r_op], responder)
        pid = len(self.path_elements)
        self._paths[key] = pid
        self.path_elements.append(elems)
        self.path_latency_ns.append(self.latency_ns[(min(o_op, r_op), max(o_op, r_op))])
        from_home = self.element_kind[origin] == "hss"
        self.path_ipx_hop.append(IPX_HOP_FROM_HOME if from_home else IPX_HOP_FROM_VISITED)
        return pid


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

    op_hss, op_dea, op_mmes = [], [], []
    for i, op in enumerate(s.operators):
        op_hss.append(add(f"{op.id}.hss", "hss", i))
        op_dea.append(add(f"{op.id}.dea", "dea", i))
        op_mmes.append([add(f"{op.id}.mme{k + 1}", "mme", i) for k in range(op.mmes)])
    ipx = add("ipx", "ipx", -1)

    countries = sorted({op.country for op in s.operators})
    country_ops = {
        c: [i for i, op in enumerate(s.operators) if op.country == c and Rat.G4 in op.rats] for c in countries
    }
    agreement = {
        (idx[a.home], idx[v]): a.data for a in s.agreements if Rat.G4 in a.rats for v in a.visited
    }
    steering = {}
    for st in s.steering:
        code, exp = REJECT_CODES[st.reject_with]
        steering[(idx[st.home], st.country)] = SteeringPolicy(
            frozenset(idx[p] for p in st.preferred), code, exp, st.max_rejects, st.window, countries.index(st.country)
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
