"""What a GeoNames import keeps: the rules that stream the main file and the alternate
names into the :class:`~.geonames_writer.ImportWriter` (the list is in
:mod:`.geonames_import`'s docstring).

The feature codes these rules keep or leave out are word lists in ``shared/lexicon``:
``geo_gone_places``, ``geo_seat_codes``, ``geo_landmark_codes`` and
``geo_not_name_languages``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from services.geocoder.geonames_files import Country, read_rows
from services.geocoder.geonames_writer import KEPT, LANDMARK, ImportWriter
from services.geocoder.names import REGION_AFFIX, NameKind, keep_alternate
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
class TownBox:
    """What :func:`~.geometry.midpoint` needs of a division's towns, for divisions with no
    row: the extreme latitudes, and the extreme longitudes east and west of Greenwich apart
    (for regions across the antimeridian), with the towns' total population."""

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


def import_main_file(
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
) -> tuple[str, dict[str, TownBox], dict[str, TownBox], set[str]]:
    """Stream the main file. Returns its latest modification date, the bounding boxes of
    each ADM1 and ADM2 code's towns, and the ids of what it held (as "CC", "CC.A1", ...)."""
    country_ids = {c.geonameid: c for c in countries.values()}
    admin1_ids = {gid for gid, _ in admin1_codes.values()}
    admin2_ids = {gid for gid, _ in admin2_codes.values()}
    boxes1: dict[str, TownBox] = defaultdict(TownBox)
    boxes2: dict[str, TownBox] = defaultdict(TownBox)
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


def import_alternate_names(writer: ImportWriter, path: Path) -> None:
    """Stream ``alternateNamesV2.txt`` (or the older ``alternateNames.txt``): names of the
    places already kept, and the English Wikipedia links that make a landmark notable."""
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
