"""Toponym resolution on small hand-written articles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.geocoder.gazetteer import (
    Gazetteer,
    ensure_gazetteer,
)
from services.geocoder.geometry import haversine_km
from services.geocoder.resolve import resolve_places
from shared.schemas import Place, PlaceCandidate
from tests.factories import place_candidates


@pytest.fixture(scope="module")
def gazetteer() -> Iterator[Gazetteer]:
    # The per-user index, as the services use it; built there first if missing (~15 s).
    opened = Gazetteer.open(ensure_gazetteer())
    yield opened
    opened.close()


candidates = place_candidates


def by_name(places: list[Place], mention: str) -> Place:
    for place in places:
        if any(m.text == mention for m in place.mentions):
            return place
    raise AssertionError(f"no place mentioned as {mention!r} in {[p.name for p in places]}")


def km(place: Place, lat: float, lon: float) -> float:
    return haversine_km(place.latitude, place.longitude, lat, lon)


MOSUL = (
    "Iraqi troops pushed toward Mosul on Monday. "
    "Commanders said Mosul would be encircled within weeks. "
    "Aid groups in Erbil prepared for families fleeing Mosul."
)


def test_mosul(gazetteer: Gazetteer) -> None:
    places = resolve_places(
        candidates(
            MOSUL,
            [
                ("Iraqi", "NORP"),
                ("Mosul", "GPE"),
                ("Mosul", "GPE"),
                ("Erbil", "GPE"),
                ("Mosul", "GPE"),
            ],
        ),
        gazetteer,
    )
    mosul = by_name(places, "Mosul")
    assert km(mosul, 36.34, 43.13) < 50
    assert mosul.country_code == "IQ"
    assert mosul.admin1 == "Nineveh"
    assert mosul.feature_class == "P"
    assert len(mosul.mentions) == 3  # repeated mentions merge into one place
    assert mosul.focus
    assert [p.focus for p in places].count(True) == 1
    for place in places:
        assert 0.0 <= place.confidence <= 1.0
        for mention in place.mentions:
            assert MOSUL[mention.start : mention.end] == mention.text


def test_demonym_supports_its_country_but_is_not_the_focus(gazetteer: Gazetteer) -> None:
    places = resolve_places(candidates(MOSUL, [("Iraqi", "NORP"), ("Mosul", "GPE")]), gazetteer)
    iraq = by_name(places, "Iraqi")
    assert (iraq.country_code, iraq.feature_code) == ("IQ", "PCLI")
    assert not iraq.focus
    assert iraq.confidence < by_name(places, "Mosul").confidence


def test_city_state_pattern_beats_population(gazetteer: Gazetteer) -> None:
    text = "A warehouse fire in Alexandria, Louisiana, was put out by volunteers."
    for spans in (
        [("Alexandria", "GPE"), ("Louisiana", "GPE")],
        [("Alexandria, Louisiana", "GPE")],
    ):
        places = resolve_places(candidates(text, spans), gazetteer)
        alexandria = by_name(places, "Alexandria")
        assert alexandria.country_code == "US"
        assert alexandria.admin1 == "Louisiana"
        assert km(alexandria, 31.31, -92.45) < 50


def test_a_country_then_a_country_is_a_list_not_a_town_and_its_country(
    gazetteer: Gazetteer,
) -> None:
    # "US", not "U.S.": the fixture's sentence splitter ends a sentence at each dot.
    text = (
        "US prosecutors in New York and Washington asked about his deals in Russia, US "
        "officials said. The United States may charge him."
    )
    spans = [
        ("US", "GPE"),
        ("New York", "GPE"),
        ("Washington", "GPE"),
        ("Russia", "GPE"),
        ("US", "GPE"),
        ("United States", "GPE"),
    ]
    russia = by_name(resolve_places(candidates(text, spans), gazetteer), "Russia")
    assert (russia.country_code, russia.feature_code) == ("RU", "PCLI")


def test_a_town_named_after_a_country_keeps_its_region(gazetteer: Gazetteer) -> None:
    text = "The mill in Lebanon, Pa., closed on Friday."
    lebanon = by_name(resolve_places(candidates(text, [("Lebanon", "GPE")]), gazetteer), "Lebanon")
    assert (lebanon.country_code, lebanon.admin1) == ("US", "Pennsylvania")


def test_ap_state_abbreviation(gazetteer: Gazetteer) -> None:
    text = "The council of Gainesville, Ga., approved the budget."
    places = resolve_places(candidates(text, [("Gainesville", "GPE")]), gazetteer)
    gainesville = by_name(places, "Gainesville")
    assert (gainesville.country_code, gainesville.admin1) == ("US", "Georgia")


def test_paris_alone_is_in_france(gazetteer: Gazetteer) -> None:
    text = "The summit opens in Paris next week."
    places = resolve_places(candidates(text, [("Paris", "GPE")]), gazetteer)
    paris = by_name(places, "Paris")
    assert paris.country_code == "FR"
    assert km(paris, 48.86, 2.35) < 20
    assert paris.focus


def test_context_country_decides(gazetteer: Gazetteer) -> None:
    text = (
        "Flooding hit Atlanta and several towns across Georgia. "
        "Officials in Georgia asked residents to stay home."
    )
    places = resolve_places(
        candidates(text, [("Atlanta", "GPE"), ("Georgia", "GPE"), ("Georgia", "GPE")]),
        gazetteer,
    )
    assert by_name(places, "Georgia").country_code == "US"

    text = "Protesters gathered in Tbilisi, the capital of Georgia, on Friday."
    places = resolve_places(candidates(text, [("Tbilisi", "GPE"), ("Georgia", "GPE")]), gazetteer)
    assert by_name(places, "Georgia").country_code == "GE"


def test_nearby_places_pull_each_other(gazetteer: Gazetteer) -> None:
    text = "Paris and Henry County will share a new rescue squad, officials in Paris said."
    places = resolve_places(
        candidates(text, [("Paris", "GPE"), ("Henry County", "GPE"), ("Paris", "GPE")]),
        gazetteer,
    )
    paris = by_name(places, "Paris")
    county = by_name(places, "Henry County")
    assert paris.country_code == county.country_code == "US"
    assert paris.admin1 == county.admin1
    assert km(paris, county.latitude, county.longitude) < 50


def test_person_is_not_a_place(gazetteer: Gazetteer) -> None:
    text = "The offensive will be long and difficult, Obama said on Tuesday in Washington."
    places = resolve_places(
        candidates(text, [("Obama", "PERSON"), ("Washington", "GPE")]), gazetteer
    )
    assert all(m.text != "Obama" for p in places for m in p.mentions)
    washington = by_name(places, "Washington")
    assert km(washington, 38.90, -77.04) < 30  # the capital, not the state


def test_obama_said_alone(gazetteer: Gazetteer) -> None:
    text = "Obama said the talks would go on."
    assert resolve_places(candidates(text, [("Obama", "PERSON")]), gazetteer) == []


def test_person_label_after_locative_can_be_a_place(gazetteer: Gazetteer) -> None:
    text = (
        "Iraqi commanders met at the air base of Qayyarah on Tuesday. "
        "They then flew back to Baghdad."
    )
    places = resolve_places(
        candidates(text, [("Iraqi", "NORP"), ("Qayyarah", "PERSON"), ("Baghdad", "GPE")]),
        gazetteer,
    )
    qayyarah = by_name(places, "Qayyarah")
    assert qayyarah.country_code == "IQ"
    assert km(qayyarah, 35.80, 43.29) < 50


def test_place_inside_an_organisation_name(gazetteer: Gazetteer) -> None:
    text = "The University of Georgia raised fees. Students in Athens protested."
    places = resolve_places(
        candidates(text, [("The University of Georgia", "ORG"), ("Athens", "GPE")]),
        gazetteer,
    )
    georgia = by_name(places, "Georgia")
    assert georgia.country_code == "US"
    mention = georgia.mentions[0]
    assert text[mention.start : mention.end] == "Georgia"
    assert by_name(places, "Athens").admin1 == "Georgia"


def test_words_that_are_not_places(gazetteer: Gazetteer) -> None:
    text = "Islamic State fighters fled. Christians celebrated."
    spans = [("Islamic State", "ORG"), ("Christians", "NORP")]
    assert resolve_places(candidates(text, spans), gazetteer) == []


def test_no_candidates(gazetteer: Gazetteer) -> None:
    assert resolve_places([], gazetteer) == []


def test_places_are_in_text_order(gazetteer: Gazetteer) -> None:
    text = "From Berlin the delegation flew to Madrid and then to Rome."
    places = resolve_places(
        candidates(text, [("Berlin", "GPE"), ("Madrid", "GPE"), ("Rome", "GPE")]),
        gazetteer,
    )
    assert [p.country_code for p in places] == ["DE", "ES", "IT"]
    assert [p.mentions[0].start for p in places] == sorted(p.mentions[0].start for p in places)


def test_neighbouring_country_supports_a_town(gazetteer: Gazetteer) -> None:
    text = "Aid convoys left Israel for Gaza on Sunday, and more trucks will follow to Gaza."
    places = resolve_places(
        candidates(text, [("Israel", "GPE"), ("Gaza", "GPE"), ("Gaza", "GPE")]), gazetteer
    )
    gaza = by_name(places, "Gaza")
    assert gaza.country_code == "PS"
    assert km(gaza, 31.5, 34.47) < 30


def test_name_only_the_gazetteer_recognised(gazetteer: Gazetteer) -> None:
    # The entity stage labels capitalised names after a place cue that only the
    # gazetteer knew "GAZETTEER".
    text = "Iraqi troops massed near Mosul. Families fled from Hamdaniya overnight."
    places = resolve_places(
        candidates(text, [("Iraqi", "NORP"), ("Mosul", "GPE"), ("Hamdaniya", "GAZETTEER")]),
        gazetteer,
    )
    hamdaniya = by_name(places, "Hamdaniya")
    assert hamdaniya.country_code == "IQ"
    assert km(hamdaniya, 36.27, 43.38) < 30


def test_dateline(gazetteer: Gazetteer) -> None:
    text = "COLUMBUS, Ohio (AP) — Lawmakers in Ohio passed the budget on Friday."
    places = resolve_places(candidates(text, [("Ohio", "GPE"), ("Friday", "DATE")]), gazetteer)
    columbus = by_name(places, "COLUMBUS")
    assert (columbus.country_code, columbus.admin1) == ("US", "Ohio")
    assert text[columbus.mentions[0].start : columbus.mentions[0].end] == "COLUMBUS"


def test_evaluate_geo_on_a_small_set(tmp_path: Path, gazetteer: Gazetteer) -> None:
    from services.geocoder.evaluate import evaluate_geo

    text = "Aid groups in Erbil said families keep arriving from Mosul."
    erbil, mosul = text.index("Erbil"), text.index("Mosul")
    rows = [
        {
            "id": "1",
            "text": text,
            "toponyms": [
                {
                    "start": erbil,
                    "end": erbil + 5,
                    "name": "Erbil",
                    "lat": 36.19,
                    "lon": 44.01,
                    "geonameid": "95446",
                    "country_code": "IQ",
                },
                {
                    "start": mosul,
                    "end": mosul + 5,
                    "name": "Mosul",
                    "lat": 36.34,
                    "lon": 43.13,
                    "geonameid": "99072",
                    "country_code": "IQ",
                },
                # A street with no point still counts for recognition.
                {
                    "start": 0,
                    "end": 3,
                    "name": "Aid",
                    "lat": None,
                    "lon": None,
                    "geonameid": None,
                    "country_code": None,
                },
            ],
        }
    ]
    path = tmp_path / "geo.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    result = evaluate_geo(str(path), gazetteer_path=gazetteer.path)
    assert result["articles"] == 1
    assert result["gold_toponyms"] == 3
    assert result["gold_toponyms_with_point"] == 2
    assert result["recognition_precision"] == 1.0
    assert result["recognition_recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert result["accuracy_161km"] == 1.0
    assert result["end_to_end_accuracy_161km"] == 1.0


def test_british_county_and_town(gazetteer: Gazetteer) -> None:
    text = "Police in Kent arrested a man in Maidstone on Friday."
    places = resolve_places(candidates(text, [("Kent", "GPE"), ("Maidstone", "GPE")]), gazetteer)
    kent = by_name(places, "Kent")
    assert (kent.country_code, kent.feature_code) == ("GB", "ADM2")
    maidstone = by_name(places, "Maidstone")
    assert maidstone.country_code == "GB"
    assert maidstone.focus  # the town, over the county it is in


def test_odd_candidates_do_not_break_resolution(gazetteer: Gazetteer) -> None:
    odd = [
        PlaceCandidate(text="’s", start=0, end=2, label="GPE", sentence="’s", sentence_start=0),
        PlaceCandidate(text="  ", start=5, end=7, label="LOC", sentence="", sentence_start=5),
        # The sentence does not hold the span: no context, but no crash either.
        PlaceCandidate(
            text="Mosul", start=500, end=505, label="GPE", sentence="Elsewhere.", sentence_start=0
        ),
        PlaceCandidate(
            text="Москва", start=600, end=606, label="GPE", sentence="Москва", sentence_start=600
        ),
        PlaceCandidate(
            text="A" * 3000,
            start=700,
            end=3700,
            label="ORG",
            sentence="A" * 3000,
            sentence_start=700,
        ),
        PlaceCandidate(
            text="Iraq", start=4000, end=4004, label="DATE", sentence="Iraq", sentence_start=4000
        ),
    ]
    places = resolve_places(odd, gazetteer)
    assert [p.name for p in places] == ["Mosul"]
    assert places[0].focus


def test_an_untagged_town_before_its_mayor_or_police_is_a_place(gazetteer: Gazetteer) -> None:
    text = "Gainesville Mayor John Smith said Athens police closed the road."
    spans = [("John Smith", "PERSON")]
    places = resolve_places(candidates(text, spans), gazetteer)
    gainesville = by_name(places, "Gainesville")
    assert gainesville.country_code == "US"
    assert by_name(places, "Athens").mentions[0].start == text.index("Athens")


def test_no_scan_outside_sentences_with_candidates(gazetteer: Gazetteer) -> None:
    text = "Gainesville Mayor spoke."
    assert resolve_places(candidates(text, []), gazetteer) == []


def test_an_untagged_region_listed_with_a_tagged_one_is_a_place(gazetteer: Gazetteer) -> None:
    text = "Exports from Gauteng and Mpumalanga rose."
    places = resolve_places(candidates(text, [("Gauteng", "GPE")]), gazetteer)
    mpumalanga = by_name(places, "Mpumalanga")
    assert (mpumalanga.country_code, mpumalanga.feature_code) == ("ZA", "ADM1")
    # Listed once, though it could be reached from two places.
    text = "Pretoria, Mpumalanga and Durban saw more trucks."
    spans = [("Pretoria", "GPE"), ("Durban", "GPE")]
    places = resolve_places(candidates(text, spans), gazetteer)
    assert len(by_name(places, "Mpumalanga").mentions) == 1
