"""Parquet columns of a run as NumPy arrays, each file read once for both kpis.json and report.html.

:class:`RunColumns` reads the columns both readers need (``kpis.py`` and the
report's scan) and keeps them: pass one instance to
:func:`roamsim.sinks.kpis.compute_kpis` and :func:`roamsim.report.write_report`
and every file is read and decompressed once. Of messages.parquet it keeps the
request rows only, decoded (:class:`RequestRows`): both count requests, the
total comes from the footer.

Enumerations are dictionary-encoded strings whose dictionary may differ between
row groups; :class:`Vocabulary` maps every chunk onto one growing list of names,
so codes stay comparable across row groups without a fixed list of values, and
:func:`index_in` maps them onto a fixed list (the schema's or the world's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NONE = "(none)"
"""Name given to a null enumeration value."""
T = TypeVar("T")
BLOCK = 1 << 20
"""Rows per block when a column-sized int64 temporary is avoided."""
REQUEST_BATCH = 1 << 17
"""Rows of messages.parquet decoded at a time."""


class Vocabulary:
    """Strings of one enumeration column → small stable integer codes."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}
        self._chunks = _Remapper(self.remap)

    def code(self, name: str) -> int:
        """The code of ``name``, added when new."""
        found = self._index.get(name)
        if found is None:
            found = self._index[name] = len(self.names)
            self.names.append(name)
        return found

    def remap(self, dictionary: list[str | None]) -> list[int]:
        """Codes of a chunk's dictionary entries, then the code for null."""
        return [self.code(NONE if n is None else str(n)) for n in dictionary] + [self.code(NONE)]

    def encode(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """An enumeration column (dictionary-encoded or plain strings) → int64 codes."""
        return self._chunks.column(column)

    def encode_into(self, chunk: pa.Array, out: np.ndarray) -> None:
        """Write the codes of one chunk into ``out``."""
        self._chunks.into(chunk, out)


def index_in(column: pa.ChunkedArray | pa.Array, names: Sequence[str]) -> np.ndarray:
    """An enumeration column → int64 indices into ``names`` (-1: null or not in ``names``)."""
    position = {n: i for i, n in enumerate(names)}
    return _Remapper(lambda found: [position.get(str(n), -1) if n is not None else -1 for n in found]
                     + [-1]).column(column)


class _Remapper:
    """Dictionary chunks → codes through ``remap_of(dictionary)`` (whose last entry is for nulls); the
    lookup is reused while chunks repeat a dictionary, and skipped when codes equal the indices."""

    def __init__(self, remap_of: Callable[[list[str | None]], list[int]]) -> None:
        self.remap_of = remap_of
        self._dictionary: pa.Array | None = None
        self.remap = np.zeros(0, dtype=np.int64)
        """Code of each entry of the current dictionary, then of null."""
        self._identity = False

    def indices(self, chunk: pa.Array, rows: np.ndarray | None = None) -> np.ndarray:
        """The dictionary indices of ``chunk`` (of its ``rows``, a mask, when given; null → ``len(dictionary)``),
        after which :attr:`remap` is the chunk's."""
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        if self._dictionary is None or not chunk.dictionary.equals(self._dictionary):
            self._dictionary = chunk.dictionary
            names = chunk.dictionary.to_pylist()
            self.remap = np.asarray(self.remap_of(names), dtype=np.int64)
            self._identity = bool(np.array_equal(self.remap[:-1], np.arange(len(names))))
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(self._dictionary))
        idx = np.asarray(indices.to_numpy(zero_copy_only=False))
        # np.compress is several times faster than boolean indexing.
        return np.compress(rows, idx) if rows is not None else idx

    def into(self, chunk: pa.Array, out: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Write the codes of ``chunk`` (of its ``rows`` only, a mask, when given) into ``out``; return the
        dictionary indices."""
        idx = self.indices(chunk, rows)
        if self._identity and not chunk.null_count:
            out[:] = idx  # codes equal the dictionary's indices: a widening copy, no lookup
        else:
            np.take(self.remap, idx, out=out)
        return idx

    def column(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        out = np.empty(sum(len(c) for c in chunks), dtype=np.int64)
        at = 0
        for chunk in chunks:
            self.into(chunk, out[at:at + len(chunk)])
            at += len(chunk)
        return out


class _Links:
    """Unordered pairs of elements (lower code, upper code) → link ids in order of first appearance,
    assigned per chunk through a lookup table over (origin index, destination index) of its dictionaries."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[int, int], int] = {}
        self._table = np.zeros(0, dtype=np.int32)
        self._remaps = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    def into(self, origin: np.ndarray, o_codes: np.ndarray, destination: np.ndarray, d_codes: np.ndarray,
             out: np.ndarray) -> None:
        """Link of each row (``origin``/``destination``: dictionary indices; ``*_codes``: their element codes)."""
        width = d_codes.size
        if not (np.array_equal(o_codes, self._remaps[0]) and np.array_equal(d_codes, self._remaps[1])):
            self._remaps = (o_codes, d_codes)
            self._table = np.full(o_codes.size * width, -1, dtype=np.int32)
        raw = origin.astype(np.int32)
        raw *= width
        raw += destination
        np.take(self._table, raw, out=out)
        unknown = out < 0
        if unknown.any():  # pairs not met before with these dictionaries (the first chunks, mostly)
            for key in np.unique(raw[unknown]).tolist():
                a, b = int(o_codes[key // width]), int(d_codes[key % width])
                self._table[key] = self.pairs.setdefault((min(a, b), max(a, b)), len(self.pairs))
            np.take(self._table, raw, out=out)


def numbers(column: pa.ChunkedArray | pa.Array, fill: int = -1) -> np.ndarray:
    """A numeric or boolean column as a NumPy array, nulls replaced by ``fill``."""
    if column.null_count:
        column = pc.fill_null(column, pa.scalar(fill).cast(column.type))
    return np.asarray(column.to_numpy(zero_copy_only=False))


@dataclass(frozen=True)
class ReadFile:
    """The kept columns of one Parquet file."""

    table: pa.Table
    row_group_rows: tuple[int, ...]
    """Rows of each row group."""
    _arrays: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, init=False, repr=False,
                                                       compare=False)

    def array(self, column: str, fill: int = -1) -> np.ndarray:
        """A numeric or boolean column as a NumPy array, nulls replaced by ``fill``: converted once for all
        readers, so read-only."""
        found = self._arrays.get((column, fill))
        if found is None:
            found = self._arrays[(column, fill)] = numbers(self.table[column], fill)
            found.flags.writeable = False
        return found


@dataclass(frozen=True)
class RequestRows:
    """The request rows of messages.parquet: time, destination, interface and link (codes).

    Origins and destinations share one vocabulary (``elements``), built chunk by chunk, origin
    before destination, as a row-group-by-row-group reader meets them.
    """

    rows: int
    """All rows of the file (requests and answers)."""
    time: np.ndarray
    elements: list[str]
    destination: np.ndarray
    interfaces: list[str]
    interface: np.ndarray
    links: list[tuple[int, int]]
    """The links requests cross: (lower, upper) element codes, an unordered pair."""
    link: np.ndarray
    """The link of each request (an index into ``links``)."""

    def time_bins(self, t0_ns: int, step_ns: int, nbins: int) -> np.ndarray:
        """Interval of each request, ``clip((time − t0) // step, 0, nbins − 1)``, as int32 when it fits."""
        out = np.empty(self.time.size, dtype=np.int32 if nbins < 2**31 else np.int64)
        for at in range(0, self.time.size, BLOCK):
            np.clip((self.time[at:at + BLOCK] - t0_ns) // step_ns, 0, nbins - 1, out=out[at:at + BLOCK],
                    casting="unsafe")
        return out


class RunColumns:
    """The columns of a run's Parquet files that kpis.json and report.html read, each file read once.

    :meth:`table` reads a file on first use (only the columns of :attr:`COLUMNS` it has) and keeps
    it; :meth:`prefetch` reads (and decodes) the files in a background thread meanwhile (pyarrow
    and NumPy work with the GIL released), so the readers compute on one file while the next is
    read. Drop the instance to free the memory.
    """

    COLUMNS: ClassVar[dict[str, tuple[str, ...]]] = {
        "procedures": ("procedure_id", "type", "trigger", "outcome", "home_plmn", "visited_plmn", "rat", "imsi",
                       "start_time", "end_time", "attempt", "steered", "mme", "emm_cause"),
        "transactions": ("protocol", "interface", "command", "result_code", "experimental", "timed_out",
                         "request_time", "answer_time", "procedure_id"),
    }
    REQUEST_COLUMNS: ClassVar[tuple[str, ...]] = ("time", "is_request", "origin", "destination", "interface")

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir)
        self._files: dict[str, Future[ReadFile]] = {}
        self._requests: Future[RequestRows] | None = None

    def prefetch(self) -> None:
        """Start reading every file in the background: messages.parquet (the largest) on one thread,
        procedures.parquet then transactions.parquet (the order the readers need them) on another."""
        missing = [stem for stem in self.COLUMNS if stem not in self._files]
        if missing:
            files = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roamsim-columns")
            for stem in missing:
                self._files[stem] = files.submit(self._read, stem)
            files.shutdown(wait=False)
        if self._requests is None:
            messages = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roamsim-requests")
            self._requests = messages.submit(self._read_requests)
            messages.shutdown(wait=False)

    def file(self, stem: str) -> ReadFile:
        """``<stem>.parquet``'s kept columns (read now unless prefetched)."""
        if stem not in self._files:
            self._files[stem] = _done(self._read(stem))
        return self._files[stem].result()

    def table(self, stem: str) -> pa.Table:
        """``<stem>.parquet``'s kept columns."""
        return self.file(stem).table

    def requests(self) -> RequestRows:
        """The request rows of messages.parquet (read now unless prefetched)."""
        if self._requests is None:
            self._requests = _done(self._read_requests())
        return self._requests.result()

    def _read(self, stem: str) -> ReadFile:
        path = self.path / f"{stem}.parquet"
        pf = pq.ParquetFile(path, memory_map=True)
        present = [c for c in self.COLUMNS[stem] if c in pf.schema_arrow.names]
        table = pq.read_table(path, columns=present, memory_map=True)
        meta = pf.metadata
        return ReadFile(table, tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups)))

    def _read_requests(self) -> RequestRows:
        """Decode messages.parquet batch by batch (memory: one batch, plus the request columns)."""
        pf = pq.ParquetFile(self.path / "messages.parquet", memory_map=True)
        rows = pf.metadata.num_rows
        # Sized for every row; the pages past the last request are never touched, so never backed.
        time = np.empty(rows, dtype=np.int64)
        destination, interface, link = (np.empty(rows, dtype=np.int32) for _ in range(3))
        elements, interfaces = Vocabulary(), Vocabulary()
        by_origin, by_destination, by_interface = (_Remapper(elements.remap), _Remapper(elements.remap),
                                                   _Remapper(interfaces.remap))
        links = _Links()
        at = 0
        for batch in pf.iter_batches(batch_size=REQUEST_BATCH, columns=list(self.REQUEST_COLUMNS)):
            keep = np.asarray(pc.fill_null(batch["is_request"], False).to_numpy(zero_copy_only=False), dtype=bool)
            end = at + int(keep.sum())
            np.compress(keep, numbers(batch["time"]), out=time[at:end])
            o = by_origin.indices(batch["origin"], keep)
            d = by_destination.into(batch["destination"], destination[at:end], keep)
            links.into(o, by_origin.remap, d, by_destination.remap, link[at:end])
            by_interface.into(batch["interface"], interface[at:end], keep)
            at = end
        return RequestRows(rows, time[:at], elements.names, destination[:at], interfaces.names, interface[:at],
                           list(links.pairs), link[:at])


def _done(value: T) -> Future[T]:
    future: Future[T] = Future()
    future.set_result(value)
    return future
