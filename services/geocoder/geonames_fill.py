"""What a GeoNames import adds beyond the dump's rows: the divisions and countries its main
file has no row for (a ``cities500.txt`` import), and the packaged index's curated layer
(country names and demonyms, region aliases, state abbreviations, continents, curated
regions such as "Middle East"), attached to the imported ids.
"""

from __future__ import annotations

from typing import Any

from services.geocoder.geometry import midpoint
from services.geocoder.geonames_files import Country
from services.geocoder.geonames_select import TownBox
from services.geocoder.geonames_writer import ImportWriter
from services.geocoder.names import CODE_LIKE, REGION_AFFIX, NameKind
from services.geocoder.sources import (
    continents,
    countryinfo_by_iso,
    countryinfo_names,
    curated_country_names,
    curated_regions,
    derived_id,
)


def fill_divisions(
    writer: ImportWriter,
    *,
    codes: dict[str, tuple[int, str]],
    boxes: dict[str, TownBox],
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


def fill_countries(
    writer: ImportWriter,
    countries: dict[str, Country],
    seen: set[str],
    boxes1: dict[str, TownBox],
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


def add_curated(
    writer: ImportWriter, countries: dict[str, Country], aliases: dict[str, Any]
) -> None:
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
    demonyms: dict[str, list[str]] = aliases.get("continent_demonyms", {})
    for continent in continents():
        # The dump's continents have the same ids: "European officials" is Europe's.
        for demonym in demonyms.get(continent.name, ()):
            writer.name(demonym, continent.geonameid, "demonym")
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
