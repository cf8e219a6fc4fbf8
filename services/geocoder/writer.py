"""Collects the places and names of a gazetteer build, then writes them as the index."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import NamedTuple

from services.geocoder.index import INDEX_FORMAT, INDEX_SCHEMA, GazetteerInfo, write_name_filter
from services.geocoder.names import NameKind, name_keys


class IndexPlace(NamedTuple):
    """A row of the index's ``places`` table, as the build collects it."""

    geonameid: int
    name: str
    lat: float
    lon: float
    country_code: str | None
    admin1: str | None
    feature_class: str
    feature_code: str
    population: int


class IndexBuilder:
    """Collects entries and their names, then writes them to SQLite."""

    def __init__(self) -> None:
        self.places: dict[int, IndexPlace] = {}
        self.admin1_names: dict[tuple[str, str], str] = {}
        self.names: dict[tuple[str, int], int] = {}
        self.neighbours: set[tuple[str, str]] = set()

    def add(self, place: IndexPlace) -> None:
        self.places[place.geonameid] = place

    def name(self, text: str, geonameid: int, kind: NameKind) -> None:
        for norm, code in name_keys(text, kind):
            self._name_norm(norm, geonameid, code)

    def _name_norm(self, norm: str, geonameid: int, code: int) -> None:
        key = (norm, geonameid)
        old = self.names.get(key)
        if old is None or code < old:
            self.names[key] = code

    def write(self, out_path: Path, version: str) -> GazetteerInfo:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp)
        try:
            db.executescript(INDEX_SCHEMA)
            db.executemany(
                "INSERT INTO places VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    (
                        p.geonameid,
                        p.name,
                        round(p.lat, 5),
                        round(p.lon, 5),
                        p.country_code,
                        p.admin1,
                        self.admin1_names.get((p.country_code or "", p.admin1 or "")),
                        p.feature_class,
                        p.feature_code,
                        p.population,
                    )
                    for p in self.places.values()
                ),
            )
            db.executemany(
                "INSERT INTO names VALUES (?,?,?)",
                (
                    (norm, gid, code)
                    for (norm, gid), code in sorted(self.names.items())
                    if gid in self.places
                ),
            )
            db.executemany("INSERT INTO neighbours VALUES (?,?)", sorted(self.neighbours))
            write_name_filter(db)
            db.executemany(
                "INSERT INTO meta VALUES (?,?)",
                [("version", version), ("format", str(INDEX_FORMAT))],
            )
            db.commit()
            db.execute("VACUUM")
        finally:
            db.close()
        os.replace(tmp, out_path)
        return GazetteerInfo(
            path=out_path,
            version=version,
            entries=len(self.places),
            names=len(self.names),
            bytes=out_path.stat().st_size,
        )
