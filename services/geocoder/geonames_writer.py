"""The GeoNames import's writer: streams places and names into a temporary SQLite file,
keeps one byte of flags per GeoNames id, then finishes the file as the gazetteer index.

Names are staged as they come (a place's names may be read before or after it, from
another file) and joined to the kept places once, in :meth:`ImportWriter.finish`.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

from services.geocoder.index import INDEX_FORMAT, INDEX_SCHEMA, write_name_filter
from services.geocoder.names import NameKind, name_keys

#: Rows of places, and of names, buffered before each write.
_BATCH: Final = 20_000
# Flags per GeoNames id, one byte each.
#: A place the import keeps.
KEPT: Final = 1
#: A natural feature, kept only if it turns out notable.
LANDMARK: Final = 2
#: A natural feature with an English Wikipedia article.
NOTABLE: Final = 4


class ImportWriter:
    """Streams places and names into a temporary SQLite file, then finishes the index."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.flags = bytearray(1 << 20)
        self._places: list[tuple[Any, ...]] = []
        self._names: list[tuple[str, int, int]] = []
        db.executescript(INDEX_SCHEMA)
        db.executescript(
            """
            PRAGMA cache_size = -65536;
            CREATE TEMP TABLE stage_names (norm TEXT, geonameid INTEGER, kind INTEGER);
            CREATE TEMP TABLE landmarks (geonameid INTEGER PRIMARY KEY);
            CREATE TEMP TABLE notable (geonameid INTEGER PRIMARY KEY);
            """
        )

    def flag(self, geonameid: int, value: int) -> None:
        if geonameid < 0:
            return
        if geonameid >= len(self.flags):
            self.flags.extend(bytes(max(geonameid + 1 - len(self.flags), len(self.flags))))
        self.flags[geonameid] |= value

    def flagged(self, geonameid: int) -> int:
        return self.flags[geonameid] if 0 <= geonameid < len(self.flags) else 0

    def place(self, row: tuple[Any, ...], flag: int = KEPT) -> None:
        """A row of ``places`` (its ten columns), flagged ``flag``."""
        self._places.append(row)
        self.flag(int(row[0]), flag)
        if len(self._places) >= _BATCH:
            self.flush()

    def name(self, text: str, geonameid: int, kind: NameKind) -> None:
        for norm, code in name_keys(text, kind):
            self._names.append((norm, geonameid, code))
        if len(self._names) >= _BATCH:
            self.flush()

    def landmark(self, geonameid: int) -> None:
        """A natural feature, dropped in :meth:`finish` unless marked :meth:`notable`."""
        self.db.execute("INSERT OR IGNORE INTO landmarks VALUES (?)", (geonameid,))

    def notable(self, geonameid: int) -> None:
        """A natural feature with an English Wikipedia article: kept."""
        self.flag(geonameid, NOTABLE)
        self.db.execute("INSERT OR IGNORE INTO notable VALUES (?)", (geonameid,))

    def flush(self) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO places VALUES (?,?,?,?,?,?,?,?,?,?)", self._places
        )
        self.db.executemany("INSERT INTO stage_names VALUES (?,?,?)", self._names)
        self._places.clear()
        self._names.clear()

    def name_regions(self, codes1: dict[str, tuple[int, str]]) -> None:
        """Fill ``admin1_name``: the code file's name, else the ADM1 row's own name."""
        db = self.db
        db.execute("CREATE TEMP TABLE admin1_names (cc TEXT, code TEXT, name TEXT)")
        db.executemany(
            "INSERT INTO admin1_names VALUES (?,?,?)",
            [(*key.split(".", 1), name) for key, (_gid, name) in codes1.items()],
        )
        db.execute(
            "INSERT INTO admin1_names SELECT country_code, admin1, name FROM places"
            " WHERE feature_code = 'ADM1' AND NOT EXISTS (SELECT 1 FROM admin1_names a"
            " WHERE a.cc = places.country_code AND a.code = places.admin1)"
        )
        db.execute("CREATE INDEX temp.admin1_names_key ON admin1_names (cc, code)")
        db.execute(
            "UPDATE places SET admin1_name = (SELECT name FROM admin1_names a"
            " WHERE a.cc = places.country_code AND a.code = places.admin1)"
            " WHERE admin1 IS NOT NULL"
        )
        db.execute("DROP TABLE admin1_names")

    def finish(self, version: str, neighbours: set[tuple[str, str]], meta: dict[str, str]) -> None:
        """Drop landmarks that are not notable, keep the names of kept places, write the
        neighbours and the ``meta`` table, and compact the file."""
        self.flush()
        db = self.db
        db.execute(
            "DELETE FROM places WHERE geonameid IN (SELECT geonameid FROM landmarks)"
            " AND geonameid NOT IN (SELECT geonameid FROM notable)"
        )
        db.execute(
            "INSERT INTO names SELECT norm, geonameid, MIN(kind) FROM stage_names"
            " WHERE geonameid IN (SELECT geonameid FROM places)"
            " GROUP BY norm, geonameid ORDER BY norm, geonameid"
        )
        db.executemany("INSERT INTO neighbours VALUES (?,?)", sorted(neighbours))
        write_name_filter(db)
        db.executemany(
            "INSERT INTO meta VALUES (?,?)",
            [("version", version), ("format", str(INDEX_FORMAT)), *sorted(meta.items())],
        )
        db.executescript("DROP TABLE stage_names; DROP TABLE landmarks; DROP TABLE notable;")
        db.commit()
        db.execute("VACUUM")
