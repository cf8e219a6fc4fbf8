"""Places the small model mislabels or misses, found from the article's own evidence.

Hand-written sentences, each with the labels the small model tends to give (issue 16):
cities tagged ORG or PERSON, names it leaves untagged, and the patterns of local news.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer
from services.geocoder.resolve import resolve_article
from shared.schemas import GAZETTEER_INITIAL_LABEL, Place
from tests.factories import place_candidates


@pytest.fixture(scope="module")
def gazetteer() -> Iterator[Gazetteer]:
    opened = Gazetteer.open(ensure_gazetteer())
    yield opened
    opened.close()


candidates = place_candidates


def places(gazetteer: Gazetteer, text: str, spans: list[tuple[str, str]]) -> list[Place]:
    return resolve_article(candidates(text, spans), gazetteer).places


def mentioned(found: list[Place]) -> dict[str, Place]:
    return {m.text: p for p in found for m in p.mentions}


def test_a_city_tagged_org_is_a_place_when_the_article_names_its_country(
    gazetteer: Gazetteer,
) -> None:
    text = "Edmonton posted the fastest growth of any city in Canada last year."
    found = mentioned(places(gazetteer, text, [("Edmonton", "ORG"), ("Canada", "GPE")]))
    assert found["Edmonton"].country_code == "CA"
    assert found["Edmonton"].admin1 == "Alberta"


def test_a_town_tagged_org_without_support_is_not_a_place(gazetteer: Gazetteer) -> None:
    text = "Continental won approval for its plan on Tuesday, the board said."
    assert places(gazetteer, text, [("Continental", "ORG")]) == []


def test_a_town_heading_an_institution_is_a_place_near_the_article_places(
    gazetteer: Gazetteer,
) -> None:
    text = "He appeared in Bridgeport Superior Court after his arrest in Stamford, Connecticut."
    spans = [("Bridgeport Superior Court", "ORG"), ("Stamford", "GPE"), ("Connecticut", "GPE")]
    found = mentioned(places(gazetteer, text, spans))
    assert found["Bridgeport"].country_code == "US"
    assert found["Bridgeport"].admin1 == "Connecticut"


def test_police_after_an_untagged_name_make_it_a_place(gazetteer: Gazetteer) -> None:
    text = "Dortmund police said two men were arrested near the main station."
    found = mentioned(places(gazetteer, text, [("Dortmund", GAZETTEER_INITIAL_LABEL)]))
    assert found["Dortmund"].country_code == "DE"


def test_a_club_named_after_its_city_is_not_a_place(gazetteer: Gazetteer) -> None:
    text = "Dortmund beat Bayern 2-1 on Saturday."
    found = mentioned(places(gazetteer, text, [("Dortmund", "ORG"), ("Bayern", "ORG")]))
    assert "Dortmund" not in found


def test_a_capital_speaks_for_its_government(gazetteer: Gazetteer) -> None:
    text = "Tbilisi says the talks will resume in Geneva next week."
    found = mentioned(places(gazetteer, text, [("Tbilisi", "PERSON"), ("Geneva", "GPE")]))
    assert found["Tbilisi"].country_code == "GE"


def test_a_street_named_after_a_town_is_not_the_town(gazetteer: Gazetteer) -> None:
    text = "The fire started in a house on Clinton Street in Lancaster, Pennsylvania."
    spans = [("Clinton Street", "FAC"), ("Lancaster", "GPE"), ("Pennsylvania", "GPE")]
    found = mentioned(places(gazetteer, text, spans))
    assert "Clinton" not in found
    assert found["Lancaster"].admin1 == "Pennsylvania"


def test_a_province_after_a_town_and_its_comma_is_a_mention(gazetteer: Gazetteer) -> None:
    text = "She sold her home in Gatineau, Que., and moved to the coast."
    found = mentioned(places(gazetteer, text, [("Gatineau", "GPE"), ("Que", "PERSON")]))
    assert found["Que."].name == "Quebec"
    assert found["Gatineau"].country_code == "CA"


def test_a_legislators_home_town_is_a_place(gazetteer: Gazetteer) -> None:
    text = "Rep. Jerry McNerney, D-Pleasanton, introduced the bill in Sacramento, California."
    spans = [("Jerry McNerney", "PERSON"), ("Sacramento", "GPE"), ("California", "GPE")]
    found = mentioned(places(gazetteer, text, spans))
    assert found["Pleasanton"].admin1 == "California"


def test_counties_listed_before_counties_are_counties(gazetteer: Gazetteer) -> None:
    text = "Outlet malls in Geauga and Medina counties drew shoppers from across Ohio."
    found = mentioned(places(gazetteer, text, [("Geauga", "GPE"), ("Ohio", "GPE")]))
    assert found["Geauga"].feature_code == "ADM2"
    assert found["Medina"].feature_code == "ADM2"
    assert found["Medina"].admin1 == "Ohio"


def test_a_regions_people_name_the_region(gazetteer: Gazetteer) -> None:
    text = "Ohioans will see lower taxes next year, officials in Columbus said."
    found = mentioned(places(gazetteer, text, [("Ohioans", "NORP"), ("Columbus", "GPE")]))
    assert found["Ohioans"].name == "Ohio"
    assert found["Ohioans"].feature_code == "ADM1"


def test_a_demonym_heading_a_ministry_names_its_country(gazetteer: Gazetteer) -> None:
    text = "A Georgian Foreign Ministry statement accused the separatists."
    found = mentioned(places(gazetteer, text, [("Georgian Foreign Ministry", "ORG")]))
    assert found["Georgian"].country_code == "GE"
