"""A compact, safe container for the stories stage's snapshot: named flat arrays and one
table of strings, compressed.

The state is millions of small dicts and lists; written as JSON objects it was 189 MB and
took over a minute to read back with 100,000 stories live. Here each kind of field is one
flat numpy array (a story's terms are a slice of one keys array and one weights array), and
every string (ids, terms, names) is stored once, in a table the arrays index. Reading is
``np.frombuffer`` over the decompressed bytes and one JSON parse of the table: nothing in
a snapshot can run code (no pickle; only the numeric dtypes of :data:`_DTYPES` are read).

Layout: :data:`MAGIC`, a little-endian uint32 format number, then zlib of: a uint64 header
length, the header (JSON: scalars, the string table, each array's name, dtype, length and
offset) and the arrays' bytes, each at a multiple of 8.
"""

from __future__ import annotations

import gc
import itertools
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import pydantic_core

#: The first bytes of a packed snapshot (a JSON snapshot of format 1 began with zlib's).
MAGIC = b"NFSTORY\x00"
#: zlib level: 1 is several times faster to write than the default, for a few % in size.
_LEVEL = 1
#: The only dtypes a snapshot may hold (read as plain numbers, never objects).
_DTYPES = frozenset({"<i4", "<i8", "<f4", "<f8", "<u4", "|b1"})
#: A string field's value for None.
NONE = -1

Array = npt.NDArray[Any]


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off for a bulk build or dump: a restore makes millions
    of dicts and lists, and each collection they trigger walks all of them again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Table(dict[str, int]):
    """Strings to their index in the table, a new one appended on first lookup."""

    def __missing__(self, key: str) -> int:
        index = self[key] = len(self)
        return index


class Writer:
    """Collects a snapshot's scalars, strings and arrays; :meth:`pack` gives the bytes."""

    def __init__(self) -> None:
        self.scalars: dict[str, Any] = {}
        self._strings = _Table()
        self._arrays: dict[str, Array] = {}

    def codes(self, values: Iterable[str]) -> Array:
        """The table indexes of ``values`` (interned in C: a new string costs one call)."""
        return np.fromiter(map(self._strings.__getitem__, values), dtype=np.int32)

    def optional_codes(self, values: Iterable[str | None]) -> Array:
        """As :meth:`codes`, :data:`NONE` for None."""
        get = self._strings.__getitem__
        return np.fromiter((NONE if v is None else get(v) for v in values), dtype=np.int32)

    def array(self, name: str, values: Array | Iterable[Any], dtype: Any = None) -> None:
        """Store one flat array under ``name``."""
        if not isinstance(values, np.ndarray):
            values = np.fromiter(values, dtype=dtype)
        elif dtype is not None:
            values = values.astype(dtype, copy=False)
        if name in self._arrays:
            raise ValueError(f"snapshot array {name!r} written twice")
        self._arrays[name] = np.ascontiguousarray(values)

    def text(self, name: str, values: Iterable[str]) -> None:
        """Store strings as indexes into the table."""
        self.array(name, self.codes(values))

    def str_dicts(self, name: str, dicts: Sequence[Mapping[str, float]]) -> None:
        """Store string-keyed float dicts: their lengths, keys and values, in order."""
        self.array(f"{name}.n", map(len, dicts), np.int32)
        self.array(name + ".k", self.codes(itertools.chain.from_iterable(dicts)))
        values = itertools.chain.from_iterable(d.values() for d in dicts)
        self.array(name + ".v", values, np.float64)

    def int_dicts(self, name: str, dicts: Sequence[Mapping[int, Any]], dtype: Any) -> None:
        """Store int-keyed dicts of numbers (``dtype``): their lengths, keys and values."""
        self.array(f"{name}.n", map(len, dicts), np.int32)
        self.array(name + ".k", itertools.chain.from_iterable(dicts), np.int64)
        self.array(name + ".v", itertools.chain.from_iterable(d.values() for d in dicts), dtype)

    def pack(self, version: int) -> bytes:
        """The snapshot's bytes."""
        entries, offset = [], 0
        for name, values in self._arrays.items():
            entries.append([name, values.dtype.str, len(values), offset])
            offset += -(-values.nbytes // 8) * 8
        header = pydantic_core.to_json(
            {"scalars": self.scalars, "strings": list(self._strings), "arrays": entries}
        )
        compressor = zlib.compressobj(_LEVEL)
        parts = [compressor.compress(struct.pack("<Q", len(header)) + header)]
        pad = -(8 + len(header)) % 8
        parts.append(compressor.compress(b"\0" * pad))
        for values in self._arrays.values():
            parts.append(compressor.compress(values.tobytes()))
            parts.append(compressor.compress(b"\0" * (-values.nbytes % 8)))
        parts.append(compressor.flush())
        return MAGIC + struct.pack("<I", version) + b"".join(parts)


class Reader:
    """A packed snapshot's parts; raises ValueError for bytes that are not one."""

    def __init__(self, blob: bytes, version: int) -> None:
        if not blob.startswith(MAGIC):
            raise ValueError("not a packed snapshot (a JSON snapshot of format 1?)")
        (found,) = struct.unpack_from("<I", blob, len(MAGIC))
        if found != version:
            raise ValueError(f"snapshot format {found}, this code reads {version}")
        try:
            body = zlib.decompress(memoryview(blob)[len(MAGIC) + 4 :])
        except zlib.error as exc:
            raise ValueError(f"corrupt snapshot: {exc}") from exc
        (size,) = struct.unpack_from("<Q", body)
        header = pydantic_core.from_json(body[8 : 8 + size])
        self.scalars: dict[str, Any] = header["scalars"]
        self.strings: list[str] = header["strings"]
        start = 8 + size + (-(8 + size) % 8)
        self._arrays: dict[str, Array] = {}
        for name, dtype, length, offset in header["arrays"]:
            if dtype not in _DTYPES:
                raise ValueError(f"snapshot array {name!r} has dtype {dtype!r}")
            self._arrays[name] = np.frombuffer(
                body, dtype=np.dtype(dtype), count=int(length), offset=start + int(offset)
            )

    def array(self, name: str) -> Array:
        """One stored array (read-only, a view of the snapshot's bytes)."""
        try:
            return self._arrays[name]
        except KeyError:
            raise ValueError(f"snapshot has no array {name!r}") from None

    def numbers(self, name: str) -> list[Any]:
        """One stored array as Python numbers."""
        values: list[Any] = self.array(name).tolist()
        return values

    def spans(self, name: str) -> Iterator[tuple[int, int]]:
        """(start, end) of each part of a flat array, from the part lengths under ``name``."""
        return itertools.pairwise(itertools.accumulate(self.numbers(name), initial=0))

    def text(self, name: str) -> list[str]:
        """Strings stored with :meth:`Writer.text`."""
        return list(map(self.strings.__getitem__, self.numbers(name)))

    def optional_text(self, name: str) -> list[str | None]:
        """Strings stored with :meth:`Writer.optional_codes` (None for :data:`NONE`)."""
        table = self.strings
        return [None if i == NONE else table[i] for i in self.numbers(name)]

    def str_dicts(self, name: str) -> list[dict[str, float]]:
        """The dicts :meth:`Writer.str_dicts` stored, in order."""
        keys = self.text(name + ".k")
        return _split(self.numbers(f"{name}.n"), keys, self.numbers(name + ".v"))

    def int_dicts(self, name: str) -> list[dict[int, Any]]:
        """The dicts :meth:`Writer.int_dicts` stored, in order."""
        keys, values = self.numbers(name + ".k"), self.numbers(name + ".v")
        return _split(self.numbers(f"{name}.n"), keys, values)


def _split(lengths: list[int], keys: list[Any], values: list[Any]) -> list[dict[Any, Any]]:
    if len(keys) != len(values) or sum(lengths) != len(keys):
        raise ValueError("snapshot dicts of inconsistent lengths")
    out, start = [], 0
    for length in lengths:
        end = start + length
        out.append(dict(zip(keys[start:end], values[start:end], strict=True)))
        start = end
    return out
