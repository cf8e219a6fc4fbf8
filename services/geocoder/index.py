"""The gazetteer index: its SQLite layout, and :class:`Gazetteer`, the read-only view of it."""

from __future__ import annotations

import sqlite3
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from services.geocoder.names import KINDS, NameKind, normalize_name

#: How the version of an index imported from a GeoNames dump starts
#: (see :mod:`services.geocoder.geonames_import`).
IMPORTED_PREFIX: Final = "geonames-dump"
#: Bumped when the index layout or the way it is derived changes.
INDEX_FORMAT: Final = 5
#: The index's tables. ``names.kind`` is the position of the :data:`NameKind` in ``KINDS``.
INDEX_SCHEMA: Final = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE neighbours (
    country_code TEXT NOT NULL, neighbour TEXT NOT NULL,
    PRIMARY KEY (country_code, neighbour)) WITHOUT ROWID;
CREATE TABLE places (
    geonameid INTEGER PRIMARY KEY, name TEXT NOT NULL,
    lat REAL NOT NULL, lon REAL NOT NULL, country_code TEXT,
    admin1 TEXT, admin1_name TEXT, feature_class TEXT NOT NULL,
    feature_code TEXT NOT NULL, population INTEGER NOT NULL);
CREATE TABLE names (
    norm TEXT NOT NULL, geonameid INTEGER NOT NULL, kind INTEGER NOT NULL,
    PRIMARY KEY (norm, geonameid)) WITHOUT ROWID;
CREATE TABLE name_filter (bits BLOB NOT NULL);
"""
#: Bits of the ``name_filter`` bitmap: 2 MB. With some 500,000 distinct names, about 3%
#: of the bits are set, so 97% of the names no place has are answered without a query.
NAME_FILTER_BITS: Final = 1 << 24


def _filter_bit(norm: str) -> int:
    return zlib.crc32(norm.encode("utf-8")) & (NAME_FILTER_BITS - 1)


def write_name_filter(db: sqlite3.Connection) -> None:
    """Fill ``name_filter`` from the ``names`` table: one bit per name, set if some name
    hashes to it. A clear bit proves no place has the name, which is the usual answer to
    the resolver's look-ups of the words inside longer names ("Sheriff's Office")."""
    bits = bytearray(NAME_FILTER_BITS // 8)
    for (norm,) in db.execute("SELECT DISTINCT norm FROM names"):
        bit = _filter_bit(norm)
        bits[bit >> 3] |= 1 << (bit & 7)
    db.execute("DELETE FROM name_filter")
    db.execute("INSERT INTO name_filter VALUES (?)", (bytes(bits),))


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    """One place in the gazetteer, and how the looked-up name matched it."""

    geonameid: int
    name: str
    latitude: float
    longitude: float
    country_code: str | None
    admin1: str | None
    admin1_name: str | None
    feature_class: str
    feature_code: str
    population: int
    name_kind: NameKind = "name"

    @property
    def is_country(self) -> bool:
        """A sovereign country or dependency."""
        return self.feature_code.startswith("PCL")

    @property
    def is_admin(self) -> bool:
        """An administrative region below the country (state, province, county)."""
        return self.feature_code.startswith("ADM")


class GazetteerInfo(NamedTuple):
    """What :func:`build_gazetteer` wrote."""

    path: Path
    version: str
    entries: int
    names: int
    bytes: int


def index_version(path: Path) -> str | None:
    """The data version an index file was built with, or None if it is not an index."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def _read_name_filter(db: sqlite3.Connection) -> bytes | None:
    """The index's name bitmap, or None (an index without one: every look-up queries)."""
    try:
        row = db.execute("SELECT bits FROM name_filter").fetchone()
    except sqlite3.OperationalError:
        return None
    bits = row[0] if row else None
    return bits if isinstance(bits, bytes) and len(bits) == NAME_FILTER_BITS // 8 else None


class Gazetteer:
    """A read-only view of a built index. Cheap to open; lookups are cached."""

    _CACHE_SIZE: Final = 50_000

    def __init__(self, connection: sqlite3.Connection, version: str, path: Path) -> None:
        self._db = connection
        self.version = version
        self.path = path
        self._cache: dict[str, list[GazetteerEntry]] = {}
        self._filter = _read_name_filter(connection)
        found: dict[str, set[str]] = defaultdict(set)
        for country, neighbour in connection.execute("SELECT * FROM neighbours"):
            found[country].add(neighbour)
        self._neighbours = {cc: frozenset(others) for cc, others in found.items()}

    @classmethod
    def open(cls, path: Path | str) -> Gazetteer:
        """Open an index built by :func:`build_gazetteer` or imported from a GeoNames dump."""
        file = Path(path)
        if not file.exists():
            raise FileNotFoundError(f"no gazetteer index at {file}; run `newsflow gazetteer build`")
        db = sqlite3.connect(
            f"{file.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
        )
        # A small page cache: the index is read through the OS page cache anyway.
        db.execute("PRAGMA cache_size = -8000")
        row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return cls(db, str(row[0]) if row else "unknown", file)

    def close(self) -> None:
        """Release the index file."""
        self._db.close()

    def knows(self, name: str) -> bool:
        """Whether some place has this name: the entity stage's ``is_place``."""
        return bool(self.lookup(name))

    def lookup(self, name: str) -> list[GazetteerEntry]:
        """Every entry whose name, alternate name or alias matches ``name``, most populous first."""
        return self.lookup_normalized(normalize_name(name))

    def lookup_normalized(self, norm: str) -> list[GazetteerEntry]:
        """:meth:`lookup` for a name already passed through :func:`normalize_name`."""
        cached = self._cache.get(norm)
        if cached is not None:
            return cached
        if self._filter is not None:
            bit = _filter_bit(norm)
            if not self._filter[bit >> 3] & (1 << (bit & 7)):
                return []  # no place has this name: not cached, the check is cheaper
        rows = self._db.execute(
            "SELECT p.geonameid, p.name, p.lat, p.lon, p.country_code, p.admin1, p.admin1_name,"
            " p.feature_class, p.feature_code, p.population, n.kind"
            " FROM names n JOIN places p ON p.geonameid = n.geonameid"
            " WHERE n.norm = ? ORDER BY p.population DESC",
            (norm,),
        ).fetchall()
        entries = [
            GazetteerEntry(
                geonameid=row[0],
                name=row[1],
                latitude=row[2],
                longitude=row[3],
                country_code=row[4],
                admin1=row[5],
                admin1_name=row[6],
                feature_class=row[7],
                feature_code=row[8],
                population=row[9],
                name_kind=KINDS[row[10]],
            )
            for row in rows
        ]
        if len(self._cache) >= self._CACHE_SIZE:
            self._cache.clear()
        self._cache[norm] = entries
        return entries

    def neighbours(self, country_code: str) -> frozenset[str]:
        """ISO codes of the countries that border this one (GeoNames' country table)."""
        return self._neighbours.get(country_code, frozenset())

    def get(self, geonameid: int) -> GazetteerEntry | None:
        """The entry with this id, if any."""
        row = self._db.execute(
            "SELECT geonameid, name, lat, lon, country_code, admin1, admin1_name,"
            " feature_class, feature_code, population FROM places WHERE geonameid = ?",
            (geonameid,),
        ).fetchone()
        return None if row is None else GazetteerEntry(*row)

    def country(self, country_code: str) -> GazetteerEntry | None:
        """The country entry for an ISO code."""
        row = self._db.execute(
            "SELECT geonameid FROM places WHERE country_code = ? AND feature_code = 'PCLI'",
            (country_code,),
        ).fetchone()
        return None if row is None else self.get(int(row[0]))

    def admin1(self, country_code: str, admin1: str) -> GazetteerEntry | None:
        """The first-level region entry for a country and admin1 code."""
        row = self._db.execute(
            "SELECT geonameid FROM places WHERE country_code = ? AND admin1 = ?"
            " AND feature_code = 'ADM1'",
            (country_code, admin1),
        ).fetchone()
        return None if row is None else self.get(int(row[0]))
