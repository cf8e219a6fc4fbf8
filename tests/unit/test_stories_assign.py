"""Online story assignment on small made-up streams (no model: enrichments by hand)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections import OrderedDict
from datetime import date, timedelta

import pytest

from services.stories.assign import Assignment, FocusRelation, StoryAssigner, score_story
from services.stories.features import (
    DocumentFrequencies,
    jaccard_estimate,
    minhash,
    story_features,
    text_year,
)
from services.stories.index import MemoryCopyIndex, MemoryStoryIndex, StoryState
from services.stories.snapshot import pack_state, unpack_state
from services.stories.tuning import DEFAULT_TUNING
from shared.schemas import Entity, Mention, Place
from shared.text import tokenize_words
from tests.story_fixtures import place

DAY = date(2026, 3, 2)

# Places of the made-up streams (ids, names and coordinates are invented).
RIVERTON = ("Riverton", 9001, 51.50, -1.20, "GB", "ENG")
HOLLOWAY = ("Holloway", 9002, 55.90, -3.20, "GB", "SCT")  # about 500 km from Riverton
PORT_AVEL = ("Port Avel", 9003, 43.30, 5.40, "FR", "93")


def person(name: str, salience: float = 0.6, label: str = "PERSON") -> Entity:
    return Entity(
        name=name,
        label=label,
        mentions=[Mention(text=name, start=0, end=len(name))],
        count=2,
        salience=salience,
    )


def push(
    assigner: StoryAssigner,
    article_id: str,
    text: str,
    *,
    day: date | None = DAY,
    title: str | None = None,
    entities: list[Entity] | None = None,
    places: list[Place] | None = None,
) -> Assignment:
    return assigner.assign(
        article_id,
        text,
        title=title,
        published=day,
        entities=entities or [],
        places=places or [],
    )


# Unrelated news first, so that rarity means something (a word in every article is common).
BACKGROUND = [
    "The central bank held interest rates at four percent, citing slowing inflation and "
    "weak retail sales; economists expect a cut before the summer.",
    "A new exhibition of Dutch landscape paintings opens at the national gallery, with loans "
    "from private collections in Amsterdam and Leiden.",
    "The league champions lost their opening match two goals to one after a late penalty, "
    "and their coach blamed a crowded fixture list.",
]


def fresh() -> StoryAssigner:
    assigner = StoryAssigner.in_memory()
    for number, text in enumerate(BACKGROUND):
        push(assigner, f"bg-{number}", text, day=DAY - timedelta(days=1))
    return assigner


FIRE = (
    "A fire destroyed a timber warehouse on Dock Street in Riverton early on Monday. "
    "Fire crews from three stations fought the blaze for six hours; chief fire officer "
    "Marta Kell said the warehouse roof collapsed and two firefighters were treated for "
    "smoke. Dock Street was closed and residents were told to keep windows shut."
)
BUDGET = (
    "Riverton council approved its budget for the coming year on Monday, with more money "
    "for school buses and library opening hours. Council leader Tom Aske said the budget "
    "kept council tax rises below inflation; opposition councillors voted against it."
)


def test_two_events_in_one_city_on_one_day_stay_apart() -> None:
    assigner = fresh()
    fire = push(assigner, "fire", FIRE, entities=[person("Marta Kell")], places=[place(RIVERTON)])
    budget = push(
        assigner,
        "budget",
        BUDGET,
        entities=[person("Tom Aske"), person("Riverton Council", 0.5, "ORG")],
        places=[place(RIVERTON)],
    )
    assert fire.is_new and budget.is_new
    assert fire.id != budget.id


FLOOD_DAYS = [
    "The River Wend burst its banks in Riverton on Monday and mayor Ana Ruiz ordered the "
    "evacuation of 3,000 homes near the river. Rescue boats took families from flooded "
    "streets as the water rose through the night.",
    "Flood water in Riverton was still rising on Wednesday; mayor Ana Ruiz said evacuated "
    "families from homes by the River Wend would not return before the weekend, and rescue "
    "crews checked flooded streets house by house.",
    "The River Wend fell back within its banks on Friday and Ana Ruiz, Riverton's mayor, "
    "let the first evacuated families go home, warning that flooded houses by the river "
    "would need weeks to dry out.",
]


def test_one_event_over_several_days_joins() -> None:
    assigner = fresh()
    assignments = [
        push(
            assigner,
            f"flood-{n}",
            text,
            day=DAY + timedelta(days=2 * n),
            entities=[person("Ana Ruiz"), person("River Wend", 0.5, "LOC")],
            places=[place(RIVERTON)],
        )
        for n, text in enumerate(FLOOD_DAYS)
    ]
    assert [a.is_new for a in assignments] == [True, False, False]
    assert len({a.id for a in assignments}) == 1
    assert [a.size for a in assignments] == [1, 2, 3]
    assert all(a.duplicate_of is None for a in assignments)


WIRE = (
    "Engineers in Riverton opened the new flood barrier on the River Wend on Tuesday after "
    "four years of work. The barrier, which cost 40 million pounds, protects 3,000 homes "
    "along the river, and its gates close in eleven minutes when the water rises. Mayor "
    "Ana Ruiz said families who were flooded out twice in five years could finally stay in "
    "their homes. A second barrier upstream is planned for 2029, if the government pays. "
    "The Environment Agency said the barrier was tested against a flood higher than any "
    "recorded on the Wend since 1947, and that its pumps can move forty tonnes of water a "
    "second. Shopkeepers on Bridge Street, flooded in 2019 and 2023, welcomed the opening "
    "but asked for help with insurance, which many say they can no longer buy."
)


def test_a_wire_copy_with_another_byline_is_a_duplicate_of_the_first() -> None:
    assigner = fresh()
    ruiz, at = [person("Ana Ruiz")], [place(RIVERTON)]
    first = push(assigner, "ap", "By Jane Doe, Associated Press\n" + WIRE, entities=ruiz, places=at)
    bylined = "By John Roe, Riverton Echo\n" + WIRE + "\nShare this"
    copy = push(assigner, "paper", bylined, entities=ruiz, places=at)
    edited = WIRE.replace("Tuesday", "Tuesday morning")
    copy_of_copy = push(assigner, "site", edited, entities=ruiz, places=at)
    assert first.duplicate_of is None and first.is_new
    assert copy.duplicate_of == "ap" and copy.id == first.id and not copy.is_new
    # A copy of a copy names the text's first article, not the copy it matched.
    assert copy_of_copy.duplicate_of == "ap"
    assert copy.score >= DEFAULT_TUNING.duplicate_jaccard


def test_a_story_goes_quiet_after_the_window() -> None:
    assigner = fresh()
    ruiz, at = [person("Ana Ruiz")], [place(RIVERTON)]
    first = push(assigner, "flood-0", FLOOD_DAYS[0], entities=ruiz, places=at)
    later = DAY + timedelta(days=DEFAULT_TUNING.window_days + 5)
    again = push(assigner, "flood-late", FLOOD_DAYS[2], day=later, entities=ruiz, places=at)
    assert again.is_new and again.id != first.id
    # The quiet story has left the index: memory follows the window, not the stream.
    assert assigner.stories.get(first.id) is None


def test_the_index_forgets_quiet_stories_and_keeps_a_capacity() -> None:
    index = MemoryStoryIndex(window_days=10.0, capacity=2, posting_limit=4)
    for number, day in enumerate([0.0, 1.0, 30.0]):
        story = StoryState(f"s{number}", f"a{number}", 1, day, day, terms={"fire": 1.0})
        index.put(story, ["t:fire"])
        index.expire(day)
    # Day 30: s0 and s1 were quiet for more than ten days.
    assert [s.id for s in index.candidates({"t:fire": 1.0}, limit=5)] == ["s2"]
    for number in range(3, 6):
        index.put(StoryState(f"s{number}", f"a{number}", 1, None, None), ["t:fire"])
    index.expire(None)
    assert len(index) == 2  # undated stories: the capacity decides


def test_a_posting_list_keeps_its_latest_stories_and_a_snapshot_keeps_them_too() -> None:
    index = MemoryStoryIndex(window_days=10.0, capacity=100, posting_limit=3)
    for number in range(5):
        index.put(StoryState(f"s{number}", f"a{number}", 1, None, None), ["t:fire"])
    # s1 is updated again: it is the latest now, and s2 the oldest one kept.
    index.put(StoryState("s1", "a1", 2, None, None), ["t:fire"])
    latest = {s.id for s in index.candidates({"t:fire": 1.0}, limit=10)}
    assert latest == {"s3", "s4", "s1"}
    assigner = StoryAssigner.in_memory(DEFAULT_TUNING)
    assigner.stories = index
    again = StoryAssigner.in_memory(DEFAULT_TUNING)
    again.stories = MemoryStoryIndex(window_days=10.0, capacity=100, posting_limit=3)
    unpack_state(pack_state(0, assigner, {}, OrderedDict()), again)
    assert {s.id for s in again.stories.candidates({"t:fire": 1.0}, limit=10)} == latest


QUAKE = (
    "A magnitude 6.1 earthquake struck near {town} before dawn on {weekday}, bringing down "
    "houses in the old town and cutting power to thousands. Rescue teams searched the "
    "rubble through the day; the regional governor, {governor}, said at least {dead} people "
    "were killed and a field hospital was set up in the football stadium."
)


def test_look_alike_events_in_two_countries_stay_apart() -> None:
    assigner = fresh()
    one = push(
        assigner,
        "quake-riverton",
        QUAKE.format(town="Riverton", weekday="Monday", governor="Lena Ostrova", dead=12),
        entities=[person("Lena Ostrova")],
        places=[place(RIVERTON)],
    )
    other = push(
        assigner,
        "quake-port-avel",
        QUAKE.format(town="Port Avel", weekday="Thursday", governor="Henri Vasseur", dead=30),
        day=DAY + timedelta(days=3),
        entities=[person("Henri Vasseur")],
        places=[place(PORT_AVEL)],
    )
    assert other.is_new and other.id != one.id


def test_focus_relations() -> None:
    assigner = fresh()
    push(assigner, "fire", FIRE, entities=[person("Marta Kell")], places=[place(RIVERTON)])
    story = next(iter(assigner.stories.candidates({"e:n:marta kell": 1.0}, 1)))

    def relation(where: tuple[str, int, float, float, str, str]) -> FocusRelation:
        features = story_features(
            "x",
            FIRE,
            title=None,
            published=DAY,
            entities=[],
            places=[place(where)],
            frequencies=DocumentFrequencies(1 << 10),
        )
        return score_story(features, story).focus

    assert relation(RIVERTON) is FocusRelation.SAME
    assert relation(HOLLOWAY) is FocusRelation.OTHER_TOWN
    assert relation(PORT_AVEL) is FocusRelation.OTHER_COUNTRY


def test_minhash_estimates_jaccard_and_is_stable() -> None:
    words = [f"w{n}" for n in range(200)]
    same = minhash(words)
    assert same is not None
    assert jaccard_estimate(same, minhash(list(words))) == 1.0  # type: ignore[arg-type]
    half = minhash(words[:100] + [f"v{n}" for n in range(100)])
    assert half is not None
    # True shingle Jaccard: 97 shared of 197 + 100 ... about a third; the estimate is near.
    assert 0.15 < jaccard_estimate(same, half) < 0.5
    assert minhash(["too", "few"]) is None


def test_story_state_round_trips_through_json() -> None:
    assigner = fresh()
    push(
        assigner, "flood-0", FLOOD_DAYS[0], entities=[person("Ana Ruiz")], places=[place(RIVERTON)]
    )
    push(
        assigner,
        "flood-1",
        FLOOD_DAYS[1],
        day=DAY + timedelta(days=2),
        entities=[person("Ana Ruiz")],
        places=[place(RIVERTON)],
    )
    story = next(iter(assigner.stories.candidates({"e:n:ana ruiz": 1.0}, 1)))
    assert story.size == 2 and story.years == {DAY.year: 2}
    again = StoryState.from_json(json.loads(json.dumps(story.to_json())))
    assert dataclasses.asdict(again) == dataclasses.asdict(story)
    # A snapshot written before stories kept years still loads, with none.
    older = story.to_json()
    del older["years"]
    assert StoryState.from_json(older).years == {}


def test_look_alike_incidents_in_two_towns_of_one_country_stay_apart() -> None:
    # Same words, same week, same country: the town and the people tell them apart.
    assigner = fresh()
    one = push(
        assigner,
        "quake-riverton",
        QUAKE.format(town="Riverton", weekday="Monday", governor="Lena Ostrova", dead=12),
        entities=[person("Lena Ostrova")],
        places=[place(RIVERTON)],
    )
    other = push(
        assigner,
        "quake-holloway",
        QUAKE.format(town="Holloway", weekday="Wednesday", governor="Iain Baird", dead=4),
        day=DAY + timedelta(days=2),
        entities=[person("Iain Baird")],
        places=[place(HOLLOWAY)],
    )
    assert other.is_new and other.id != one.id


def test_a_follow_up_joins_on_its_people_whatever_their_label() -> None:
    # The entity model calls the river a LOC in one article and an ORG in the next: the
    # name is the key, so the follow-up still shares someone with the story.
    assigner = fresh()
    first = push(
        assigner,
        "flood-0",
        FLOOD_DAYS[0],
        entities=[person("Ana Ruiz"), person("River Wend", 0.5, "LOC")],
        places=[place(RIVERTON)],
    )
    story = assigner.stories.get(first.id)
    assert story is not None
    features = story_features(
        "flood-1",
        FLOOD_DAYS[1],
        title=None,
        published=DAY + timedelta(days=2),
        entities=[person("River Wend", 0.5, "ORG")],
        places=[place(RIVERTON)],
        frequencies=DocumentFrequencies(1 << 10),
    )
    assert score_story(features, story).entities > 0.5


FLOOD_LATER = (
    "Engineers said on Friday that the River Wend flood defences in Riverton held for most "
    "of the town; mayor Ana Ruiz asked the government for money to repair them."
)


def test_closeness_in_time_counts_only_with_someone_shared() -> None:
    assigner = fresh()
    ruiz, at = [person("Ana Ruiz")], [place(RIVERTON)]
    first = push(assigner, "flood-0", FLOOD_DAYS[0], entities=ruiz, places=at)
    story = assigner.stories.get(first.id)
    assert story is not None

    def score(day: date, entities: list[Entity]) -> float:
        features = story_features(
            "flood-later",
            FLOOD_LATER,
            title=None,
            published=day,
            entities=entities,
            places=at,
            frequencies=DocumentFrequencies(1 << 10),
        )
        return score_story(features, story).total

    same_day, week_on = score(DAY, ruiz), score(DAY + timedelta(days=7), ruiz)
    # The bonus: all of it on the same day, none a week on (and the gap penalty then).
    assert same_day - week_on >= DEFAULT_TUNING.time_close_bonus
    # Nobody in common: the same day earns nothing over a week on but the gap penalty.
    stranger = [person("Piet Vos")]
    gap_penalty = DEFAULT_TUNING.time_penalty_per_doubling * math.log2(
        7 / DEFAULT_TUNING.time_free_days
    )
    assert score(DAY, stranger) - score(DAY + timedelta(days=7), stranger) == pytest.approx(
        gap_penalty
    )


OLD_STRIKE = (
    "Dock workers in Port Avel walked out on Monday over pay, the union leader Henri "
    "Vasseur said, closing the container terminal; ships queued outside the harbour."
)
# Undated and naming another year twice: an anniversary piece, not news of the day.
ANNIVERSARY = (
    "Ten years after the 2016 dock strike in Port Avel, Henri Vasseur, who led the union "
    "in 2016, said the walk-out over pay that closed the container terminal changed the "
    "harbour; ships queued outside for a week."
)


def test_an_undated_text_about_another_year_is_kept_from_a_dated_story() -> None:
    assigner = fresh()
    strike = push(
        assigner,
        "strike",
        OLD_STRIKE,
        day=date(2026, 3, 2),
        entities=[person("Henri Vasseur")],
        places=[place(PORT_AVEL)],
    )
    story = assigner.stories.get(strike.id)
    assert story is not None and story.years == {2026: 1}
    features = story_features(
        "anniversary",
        ANNIVERSARY,
        title=None,
        published=None,
        entities=[person("Henri Vasseur")],
        places=[place(PORT_AVEL)],
        frequencies=DocumentFrequencies(1 << 10),
    )
    assert features.year == 2016
    undated_now = dataclasses.replace(features, year=None)
    penalty = score_story(undated_now, story).total - score_story(features, story).total
    assert penalty == pytest.approx(DEFAULT_TUNING.year_penalty)


def test_text_year_needs_repeated_mentions_and_ignores_counts() -> None:
    def year(text: str, mentions: int = 2) -> int | None:
        return text_year(tokenize_words(text), mentions)

    assert year("In 2012 the vote; 2,000 people; 2012 again, and 1998.") == 2012
    assert year("About 2000 troops, 1998 once.") is None
    assert year("2001 and 2003, then 2001 and 2003.") == 2003  # a tie: the latest
    assert year("Room 4821, 0042 and 1700 are not years.", 1) is None


def test_a_headline_outweighs_the_body_words() -> None:
    features = story_features(
        "titled",
        "The committee met again. The committee discussed the harbour plan.",
        title="Harbour plan approved",
        published=DAY,
        entities=[],
        places=[],
        frequencies=DocumentFrequencies(),
    )
    # "harbour" is in the title once and the body once, "committee" in the body twice:
    # the headline word weighs more, as a headline names the event.
    assert features.terms["harbour"] > features.terms["committee"]


def test_the_copy_index_forgets_evicted_articles_whether_alone_in_a_band_or_not() -> None:
    index = MemoryCopyIndex(bands=16, window_days=10.0, capacity=2)
    words = [f"w{n}" for n in range(200)]
    signature = minhash(words)
    other = minhash([f"v{n}" for n in range(200)])
    assert signature is not None and other is not None
    index.add("a", "a", "s1", None, signature)
    index.add("b", "a", "s1", None, signature.copy())  # the same bands: lists of two
    found = index.nearest(signature, 0.8)
    assert found is not None and found.original == "a" and found.jaccard == 1.0
    index.add("c", "c", "s2", None, other)  # beyond the capacity: "a" goes
    assert len(index) == 2 and "a" not in index._copies
    assert all(isinstance(entry, str) for entry in index._buckets.values())
    index.add("d", "d", "s3", None, minhash([f"u{n}" for n in range(200)]))  # type: ignore[arg-type]
    # "b" has gone too: its bands' entries with it, and nothing finds it any more.
    assert index.nearest(signature, 0.8) is None
    assert set(index._buckets.values()) == {"c", "d"}
