"""Parquet columns as NumPy arrays, one row group at a time (bounded memory on large runs).

Enumerations are dictionary-encoded strings whose dictionary may differ between
row groups; :class:`Vocabulary` maps every chunk onto one growing list of names,
so codes stay comparable across row groups without a fixed list of values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NONE = "(none)"
"""Name given to a null enumeration value."""


class Vocabulary:
    """Strings of one enumeration column → small stable integer codes."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}

    def code(self, name: str) -> int:
        """The code of ``name``, added when new."""
        found = self._index.get(name)
        if found is None:
            found = self._index[name] = len(self.names)
            self.names.append(name)
        return found

    def encode(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """An enumeration column (dictionary-encoded or plain strings) → int64 codes."""
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        parts = [self._encode_chunk(c) for c in chunks]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def _encode_chunk(self, chunk: pa.Array) -> np.ndarray:
        if not pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_encode()
        names = chunk.dictionary.to_pylist()
        remap = np.asarray([self.code(NONE if n is None else str(n)) for n in names] + [self.code(NONE)],
                           dtype=np.int64)
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(names))
        return remap[np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int64)]


def numbers(column: pa.ChunkedArray | pa.Array, fill: int = -1) -> np.ndarray:
    """A numeric or boolean column as a NumPy array, nulls replaced by ``fill``."""
    if column.null_count:
        column = pc.fill_null(column, pa.scalar(fill).cast(column.type))
    return np.asarray(column.to_numpy(zero_copy_only=False))


def row_groups(path: Path, columns: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The named columns of ``path``, one row group at a time (only columns the file has)."""
    pf = pq.ParquetFile(path)
    present = [c for c in columns if c in pf.schema_arrow.names]
    for rg in range(pf.num_row_groups):
        table = pf.read_row_group(rg, columns=present)
        yield {name: table[name] for name in present}
