"""The index's name bitmap: a clear bit answers a look-up without a query."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from services.geocoder.index import Gazetteer
from services.geocoder.writer import IndexBuilder, IndexPlace


def _index(tmp_path: Path) -> Path:
    builder = IndexBuilder()
    builder.add(IndexPlace(1, "Mosul", 36.34, 43.13, "IQ", "15", "P", "PPLA", 1_700_000))
    builder.name("Mosul", 1, "name")
    builder.name("Mossoul", 1, "alt")
    out = tmp_path / "index.sqlite"
    builder.write(out, "test")
    return out


def test_known_names_are_found_and_unknown_ones_answered_from_the_bitmap(tmp_path: Path) -> None:
    gazetteer = Gazetteer.open(_index(tmp_path))
    try:
        assert [e.name for e in gazetteer.lookup("MOSSOUL")] == ["Mosul"]
        assert gazetteer.lookup("Sheriff's Office") == []
        # Names no place has are not cached: the bitmap answers them again.
        assert "sheriffs office" not in gazetteer._cache
        assert gazetteer._filter is not None
        assert sum(bin(byte).count("1") for byte in gazetteer._filter) == 2
    finally:
        gazetteer.close()


def test_an_index_without_the_bitmap_still_answers(tmp_path: Path) -> None:
    path = _index(tmp_path)
    db = sqlite3.connect(path)
    db.execute("DROP TABLE name_filter")
    db.commit()
    db.close()
    gazetteer = Gazetteer.open(path)
    try:
        assert gazetteer._filter is None
        assert [e.name for e in gazetteer.lookup("Mosul")] == ["Mosul"]
        assert gazetteer.lookup("Nowhere At All") == []
    finally:
        gazetteer.close()
