"""Deterministic trace and span ids for a run's procedures, and consistent ratio sampling.

Ids are W3C Trace Context ids (trace-id 16 bytes, parent-id 8 bytes, never all
zero; W3C Trace Context §3.2.2.3 and §3.2.2.4) derived from the run id and the
procedure id: the same run gives the same ids, so two exports of one run land on
the same traces. Each id half is the SplitMix64 finaliser (a bijection on 64-bit
integers) of the procedure id mixed with a key drawn from ``BLAKE2b(run_id)``;
distinct procedures therefore never share a trace id within a run.

Sampling follows the OpenTelemetry ``TraceIdRatioBased`` rule (OTel trace SDK
specification, "TraceIdRatioBased"): keep a trace when the low 64 bits of its
trace id are below ``ratio * 2**64``. A procedure's decision depends only on the
run id, the procedure id and the ratio, and a lower ratio keeps a subset of a
higher one.
"""

from __future__ import annotations

import hashlib

import numpy as np

_U64 = np.uint64
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_HOP_BITS = _U64(8)
"""Hop spans are keyed by ``txn_id << 8 | hop``: up to 256 hops a transaction."""


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on a uint64 array (wrapping arithmetic, no warnings on arrays)."""
    z = x.astype(np.uint64, copy=True)
    z ^= z >> _U64(30)
    z *= _M1
    z ^= z >> _U64(27)
    z *= _M2
    z ^= z >> _U64(31)
    return z


def _nonzero(x: np.ndarray) -> np.ndarray:
    return np.where(x == 0, _U64(1), x)


def sample_bound(ratio: float) -> int:
    """The TraceIdRatioBased bound: keep a trace when ``trace_id & (2**64 - 1) < bound``."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"the sampling ratio must be in [0, 1], got {ratio}")
    return min(round(ratio * 2**64), 2**64)


class RunIds:
    """The id scheme of one run."""

    def __init__(self, run_id: str) -> None:
        digest = hashlib.blake2b(run_id.encode("utf-8"), digest_size=32, person=b"roamsim-otlp").digest()
        self._key = np.frombuffer(digest, dtype="<u8").astype(np.uint64)

    def trace_ids(self, procedure_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(high, low) 64-bit halves of each procedure's trace id."""
        p = np.asarray(procedure_id).astype(np.uint64)
        high = _mix(p ^ self._key[0])
        low = _mix(p ^ self._key[1])
        low = np.where((high == 0) & (low == 0), _U64(1), low)
        return high, low

    def sampled(self, procedure_id: np.ndarray, ratio: float) -> np.ndarray:
        """Boolean mask of the procedures whose trace is kept at ``ratio``."""
        bound = sample_bound(ratio)
        _, low = self.trace_ids(procedure_id)
        if bound >= 2**64:
            return np.ones(low.shape, dtype=bool)
        return np.asarray(low < _U64(bound))

    def procedure_span_ids(self, procedure_id: np.ndarray) -> np.ndarray:
        """The span id of each procedure's (root) span."""
        return _nonzero(_mix(np.asarray(procedure_id).astype(np.uint64) ^ self._key[2]))

    def hop_span_ids(self, txn_id: np.ndarray, hop: np.ndarray) -> np.ndarray:
        """The span id of each (transaction, request hop) child span."""
        key = (np.asarray(txn_id).astype(np.uint64) << _HOP_BITS) | np.asarray(hop).astype(np.uint64)
        return _nonzero(_mix(key ^ self._key[3]))


def trace_id_int(high: int, low: int) -> int:
    """A 128-bit trace id from its two halves."""
    return (int(high) << 64) | int(low)
