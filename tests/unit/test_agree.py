"""One truth per mention: entity labels made to agree with the resolved places.

Sentences of our own, written where the small model mislabels places: cities that are
also clubs or given names, places opening a sentence, possessives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from services.geocoder.agree import (
    ArticleShape,
    agree_entities,
    place_label,
    salience,
    title_end,
)
from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer
from services.geocoder.resolve import MentionVerdict, resolve_article
from shared.schemas import GAZETTEER_INITIAL_LABEL, Entity, Mention
from tests.factories import place_candidates


@pytest.fixture(scope="module")
def gazetteer() -> Iterator[Gazetteer]:
    opened = Gazetteer.open(ensure_gazetteer())
    yield opened
    opened.close()


def mention(text: str, name: str, occurrence: int = 0) -> Mention:
    starts = [m.start() for m in re.finditer(re.escape(name), text)]
    start = starts[occurrence]
    return Mention(text=name, start=start, end=start + len(name))


def entity(text: str, name: str, label: str, *occurrences: int, salience: float = 0.5) -> Entity:
    mentions = [mention(text, name, i) for i in occurrences or (0,)]
    return Entity(name=name, label=label, mentions=mentions, count=len(mentions), salience=salience)


candidates = place_candidates


def shape(text: str) -> ArticleShape:
    return ArticleShape(length=len(text), title_end=0)


def labels(entities: list[Entity] | None) -> dict[str, str]:
    assert entities is not None
    return {m.text: e.label for e in entities for m in e.mentions}


# ---------------------------------------------------------------- the rules, on verdicts


def test_feature_classes_map_to_labels() -> None:
    assert place_label("P") == "GPE"
    assert place_label("A") == "GPE"
    assert place_label("S") == "FAC"
    assert place_label("H") == "LOC"
    assert place_label("L") == "LOC"


def test_a_city_the_model_called_a_person_becomes_gpe() -> None:
    text = "Aid trucks entered Rafah on Monday."
    rafah = entity(text, "Rafah", "PERSON")
    verdict = MentionVerdict(
        start=19, end=24, text="Rafah", reason="place", feature_class="P", geonameid=7
    )
    agreed = agree_entities([rafah], [verdict], shape(text))
    assert agreed is not None
    [only] = agreed
    assert (only.name, only.label, only.count) == ("Rafah", "GPE", 1)
    assert only.salience == rafah.salience  # the same entity, relabelled


def test_a_possessive_mention_is_the_place_less_its_s() -> None:
    text = "Dortmund's mayor opened the station."
    dortmund = Entity(
        name="Dortmund",
        label="ORG",
        mentions=[Mention(text="Dortmund's", start=0, end=10)],
        count=1,
        salience=0.9,
    )
    verdict = MentionVerdict(
        start=0, end=8, text="Dortmund", reason="place", feature_class="P", geonameid=1
    )
    assert labels(agree_entities([dortmund], [verdict], shape(text))) == {"Dortmund's": "GPE"}


def test_a_club_named_after_its_city_is_no_gpe() -> None:
    text = "Dortmund beat Bayern 2-1 on Saturday."
    dortmund = entity(text, "Dortmund", "GPE")
    verdict = MentionVerdict(start=0, end=8, text="Dortmund", reason="club")
    assert labels(agree_entities([dortmund], [verdict], shape(text))) == {"Dortmund": "ORG"}


def test_doubt_and_demonyms_change_nothing() -> None:
    text = "Iraqi troops reached Hamdaniya."
    iraqi = entity(text, "Iraqi", "NORP")
    hamdaniya = entity(text, "Hamdaniya", "GPE")
    verdicts = [
        MentionVerdict(
            start=0,
            end=5,
            text="Iraqi",
            reason="place",
            feature_class="A",
            geonameid=2,
            demonym=True,
        ),
        MentionVerdict(start=21, end=30, text="Hamdaniya", reason="doubt"),
    ]
    assert agree_entities([iraqi, hamdaniya], verdicts, shape(text)) is None


def test_a_place_named_inside_a_longer_name_leaves_that_entity_alone() -> None:
    text = "She studied at the University of Georgia."
    university = entity(text, "University of Georgia", "ORG")
    start = text.index("Georgia")
    verdict = MentionVerdict(
        start=start,
        end=start + 7,
        text="Georgia",
        reason="place",
        feature_class="A",
        geonameid=3,
    )
    assert agree_entities([university], [verdict], shape(text)) is None


def test_one_name_a_person_here_and_a_place_there_is_split() -> None:
    text = "Washington said the talks would go on. Officials in Washington agreed."
    washington = entity(text, "Washington", "GPE", 0, 1)
    first, second = washington.mentions
    verdicts = [
        MentionVerdict(start=first.start, end=first.end, text="Washington", reason="person"),
        MentionVerdict(
            start=second.start,
            end=second.end,
            text="Washington",
            reason="place",
            feature_class="P",
            geonameid=4,
        ),
    ]
    agreed = agree_entities([washington], verdicts, shape(text))
    assert agreed is not None
    assert sorted((e.label, e.count) for e in agreed) == [("GPE", 1), ("PERSON", 1)]
    assert {(m.start, e.label) for e in agreed for m in e.mentions} == {
        (first.start, "PERSON"),
        (second.start, "GPE"),
    }


def test_a_place_mention_no_entity_has_becomes_an_entity_with_salience() -> None:
    text = "TOULON - The navy showed its frigates. The ships left Toulon on Friday."
    navy = entity(text, "Toulon", "GPE", salience=0.6)
    verdicts = [
        MentionVerdict(
            start=0, end=6, text="TOULON", reason="place", feature_class="P", geonameid=5
        ),
        MentionVerdict(
            start=navy.mentions[0].start,
            end=navy.mentions[0].end,
            text="Toulon",
            reason="place",
            feature_class="P",
            geonameid=5,
        ),
    ]
    agreed = agree_entities([navy], verdicts, shape(text))
    assert agreed is not None
    [toulon] = agreed  # the dateline joins the entity that already names the place
    assert toulon.count == 2 and toulon.label == "GPE"
    assert toulon.mentions[0].text == "TOULON"
    # Recomputed as the entity stage does: the most mentions, at the very start.
    assert toulon.salience == salience(2, 2, 0, False, shape(text))
    new = agree_entities(
        [],
        [
            MentionVerdict(
                start=0, end=6, text="TOULON", reason="place", feature_class="P", geonameid=5
            )
        ],
        shape(text),
    )
    assert new is not None and [(e.name, e.label, e.count) for e in new] == [("TOULON", "GPE", 1)]


def test_salience_follows_the_entity_stage_weights() -> None:
    article = ArticleShape(length=1000, title_end=40)
    assert salience(4, 4, 0, True, article) == 1.0
    assert salience(1, 4, 500, False, article) == pytest.approx(0.5 * 0.25 + 0.3 * 0.5)
    assert title_end([(0, "Floods hit Dhaka"), (18, "More rain fell.")]) == 16
    assert title_end([(5, "No title here.")]) == 0
    assert title_end([(0, "x" * 500)]) == 0


# ---------------------------------------------------------------- with the resolver


def agreed_labels(
    gazetteer: Gazetteer, text: str, spans: list[tuple[str, str]], entities: list[Entity]
) -> dict[str, str]:
    resolution = resolve_article(candidates(text, spans), gazetteer)
    found = agree_entities(entities, resolution.verdicts, shape(text))
    return labels(found if found is not None else entities)


def test_a_sentence_opening_city_tagged_person_is_a_place(gazetteer: Gazetteer) -> None:
    text = "Rafah was quiet on Monday. Aid trucks crossed from Egypt, officials in Gaza said."
    spans = [("Rafah", "PERSON"), ("Egypt", "GPE"), ("Gaza", "GPE")]
    ents = [entity(text, n, lab) for n, lab in spans]
    assert agreed_labels(gazetteer, text, spans, ents) == {
        "Rafah": "GPE",
        "Egypt": "GPE",
        "Gaza": "GPE",
    }


def test_a_city_the_model_called_an_organisation_is_a_place(gazetteer: Gazetteer) -> None:
    text = "President Emmanuel Macron visited Toulon on Friday, his first trip to southern France."
    spans = [("Emmanuel Macron", "PERSON"), ("Toulon", "ORG"), ("France", "GPE")]
    ents = [entity(text, n, lab) for n, lab in spans]
    found = agreed_labels(gazetteer, text, spans, ents)
    assert found["Toulon"] == "GPE"
    assert found["Emmanuel Macron"] == "PERSON"


def test_a_club_stays_an_organisation(gazetteer: Gazetteer) -> None:
    text = "Dortmund beat Bayern 2-1 in Munich on Saturday."
    spans = [("Dortmund", "GPE"), ("Bayern", "ORG"), ("Munich", "GPE")]
    ents = [entity(text, n, lab) for n, lab in spans]
    found = agreed_labels(gazetteer, text, spans, ents)
    assert found["Dortmund"] == "ORG"
    assert found["Munich"] == "GPE"


def test_a_given_name_stays_a_person(gazetteer: Gazetteer) -> None:
    text = "Georgia Stevens won the race in Atlanta. Stevens said Georgia had trained for years."
    spans = [("Georgia Stevens", "PERSON"), ("Atlanta", "GPE"), ("Georgia", "GPE")]
    ents = [
        entity(text, "Georgia Stevens", "PERSON"),
        entity(text, "Atlanta", "GPE"),
        Entity(
            name="Georgia",
            label="GPE",
            mentions=[mention(text, "Georgia", 1)],
            count=1,
            salience=0.3,
        ),
    ]
    found = agreed_labels(gazetteer, text, spans, ents)
    assert found["Georgia"] == "PERSON"  # a word of a person's name, beside a speech verb
    assert found["Atlanta"] == "GPE"


def test_police_after_an_untagged_city_makes_it_a_new_place_entity(
    gazetteer: Gazetteer,
) -> None:
    text = "Dortmund police said two men were arrested near the station in western Germany."
    spans = [("Dortmund", GAZETTEER_INITIAL_LABEL), ("Germany", "GPE")]
    ents = [entity(text, "Germany", "GPE")]
    resolution = resolve_article(candidates(text, spans), gazetteer)
    found = agree_entities(ents, resolution.verdicts, shape(text))
    assert found is not None
    dortmund = next(e for e in found if e.name == "Dortmund")
    assert dortmund.label == "GPE"
    assert [m.start for m in dortmund.mentions] == [0]
    assert 0.0 < dortmund.salience <= 1.0


def test_a_possessive_city_opening_a_sentence_is_a_place(gazetteer: Gazetteer) -> None:
    text = "Edmonton's economy grew last year, Alberta officials said."
    spans = [("Edmonton", "ORG"), ("Alberta", "GPE")]
    ents = [entity(text, "Edmonton", "ORG"), entity(text, "Alberta", "GPE")]
    assert agreed_labels(gazetteer, text, spans, ents)["Edmonton"] == "GPE"
