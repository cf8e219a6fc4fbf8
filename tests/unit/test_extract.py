"""The entity stage's work: residue masking, case restoration, entities and candidates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from spacy.language import Language

from services.entities.extract import (
    GAZETTEER_LABEL,
    Extraction,
    extract_entities,
    load_nlp,
    mask_residue,
    restore_case,
)
from services.entities.tuning import TUNING, EntityTuning
from shared.lexicon import alternation
from shared.schemas import Entity

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "000_94083e9d46d5205f.txt"
# A stand-in for the geocoder's gazetteer: just the places of the fixtures.
PLACES = frozenset(
    {"mosul", "qayyarah", "qaraqosh", "nineveh", "hamdaniya", "arbil", "iraq", "syria", "obama"}
)


def is_place(name: str) -> bool:
    return name.lower() in PLACES


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_nlp()


@pytest.fixture(scope="module")
def sample(nlp: Language) -> tuple[str, Extraction]:
    text = SAMPLE.read_text(encoding="utf-8")
    return text, extract_entities(nlp, [text], is_place=is_place)[0]


def by_mention(extraction: Extraction, surface: str) -> list[Entity]:
    return [e for e in extraction.entities if any(m.text == surface for m in e.mentions)]


def test_load_nlp_keeps_only_ner(nlp: Language) -> None:
    assert nlp.pipe_names == ["ner"]


# ---------------------------------------------------------------- mask_residue


def test_mask_residue_blanks_residue_lines_and_keeps_offsets() -> None:
    text = (
        "Troops entered Mosul on Monday.\n"
        "By John Smith, Reuters\n"
        "Advertisement\n"
        "The army said it would press on.\n"
        "Share this article\n"
        "Follow us on Twitter\n"
        "© 2016 Agence France-Presse. All rights reserved.\n"
        "Read more: the battle for Mosul\n"
        "Related Stories"
    )
    masked = mask_residue(text)
    assert len(masked) == len(text)
    assert [i for i, c in enumerate(text) if c == "\n"] == [
        i for i, c in enumerate(masked) if c == "\n"
    ]
    kept = [line for line in masked.splitlines() if line.strip()]
    assert kept == ["Troops entered Mosul on Monday.", "The army said it would press on."]


def test_mask_residue_keeps_real_sentences() -> None:
    text = (
        "By Tuesday, the forces had reached the river.\n"
        "Related talks will resume in Geneva next week.\n"
        "Share prices fell sharply in Tokyo.\n"
        "Read the full report at the ministry."
    )
    assert mask_residue(text) == text


def test_mask_residue_handles_crlf_and_empty_text() -> None:
    assert mask_residue("") == ""
    text = "Real news here.\r\nRelated Story\r\n"
    masked = mask_residue(text)
    assert masked == "Real news here.\r\n" + " " * len("Related Story") + "\r\n"


# ---------------------------------------------------------------- restore_case


def test_restore_case_uses_the_articles_own_spelling() -> None:
    text = "LEICESTERSHIRE TAKE OVER AT TOP\nThe county Leicestershire took over at the top."
    restored = restore_case(text)
    assert len(restored) == len(text)
    assert restored.splitlines()[0] == "Leicestershire take over at top"
    assert restored.splitlines()[1] == text.splitlines()[1]


def test_restore_case_leaves_normal_text_alone() -> None:
    text = "The UN and NATO met in Brussels.\nOfficials said little."
    assert restore_case(text) == text


# ---------------------------------------------------------------- word lists and tuning


def test_word_list_alternations_keep_file_order_and_spell_abbreviations() -> None:
    verbs = alternation("entities_match_verbs")
    # "drew with" is tried before "drew", its words across any run of blanks.
    assert verbs.index(r"drew[ \t]+with") < verbs.index("|drew|")
    assert r"|vs\.?|" in verbs
    roles = re.compile(r"(?:" + alternation("entities_team_roles", gap=r"[ \t]") + r")$")
    assert all(roles.match(w) for w in ("team mate", "team\tmate", "team-mate", "all-rounder"))
    assert not roles.match("team  mate")
    titles = re.compile(r"(?:" + alternation("person_titles") + r")$", re.IGNORECASE)
    assert all(titles.match(t) for t in ("Gen", "Gen.", "Lt.", "Prime", "Mr"))
    assert not titles.match("Genx")


def test_tuning_is_frozen_and_the_stage_runs_with_the_defaults() -> None:
    assert EntityTuning() == TUNING
    with pytest.raises(AttributeError):
        TUNING.layout_weight = 3  # type: ignore[misc]


# ---------------------------------------------------------------- the user's sample


def test_sample_offsets_are_exact(sample: tuple[str, Extraction]) -> None:
    text, extraction = sample
    assert extraction.entities
    for entity in extraction.entities:
        assert entity.count == len(entity.mentions)
        assert 0.0 <= entity.salience <= 1.0
        for mention in entity.mentions:
            assert text[mention.start : mention.end] == mention.text
    for candidate in extraction.candidates:
        assert text[candidate.start : candidate.end] == candidate.text
        start = candidate.sentence_start
        assert text[start : start + len(candidate.sentence)] == candidate.sentence
        assert start <= candidate.start
        assert candidate.end <= start + len(candidate.sentence)


@pytest.mark.parametrize(
    "name", ["al-Baghdadi", "al-Abadi", "Volesky", "Abu Saif", "Tawfiq", "Obama"]
)
def test_sample_people_are_people(sample: tuple[str, Extraction], name: str) -> None:
    _, extraction = sample
    people = [e for e in extraction.entities if name in e.name]
    assert people, name
    assert all(e.label == "PERSON" for e in people)


def test_sample_people_lose_their_titles(sample: tuple[str, Extraction]) -> None:
    _, extraction = sample
    names = {e.name for e in extraction.entities if e.label == "PERSON"}
    assert {"Gary Volesky", "Riyadh Tawfiq", "Haider al-Abadi"} <= names
    assert not any(n.startswith(("Major", "Lieutenant", "Prime", "General")) for n in names)


@pytest.mark.parametrize("place", ["Qayyarah", "Nineveh", "Qaraqosh", "Mosul"])
def test_sample_places_are_never_people(sample: tuple[str, Extraction], place: str) -> None:
    _, extraction = sample
    entities = by_mention(extraction, place)
    assert entities, place
    assert all(e.label in {"GPE", "LOC"} for e in entities)
    candidates = [c for c in extraction.candidates if c.text == place]
    assert candidates
    assert all(c.label != "PERSON" for c in candidates)


def test_sample_residue_is_not_an_entity(sample: tuple[str, Extraction]) -> None:
    text, extraction = sample
    residue_start = text.rindex("Related Story")
    for entity in extraction.entities:
        assert "Related" not in entity.name
        assert all(m.start < residue_start for m in entity.mentions)
    assert all(c.start < residue_start for c in extraction.candidates)


def test_sample_merges_aliases(sample: tuple[str, Extraction]) -> None:
    _, extraction = sample
    [volesky] = by_mention(extraction, "Volesky")
    assert volesky.name == "Gary Volesky"
    assert [m.text for m in volesky.mentions] == ["Gary Volesky", "Volesky"]
    assert volesky.count == 2

    [baghdadi] = by_mention(extraction, "Baghdadi")
    assert baghdadi.name == "Abu Bakr al-Baghdadi"
    assert baghdadi.label == "PERSON"

    [state] = by_mention(extraction, "Islamic State")
    assert state.label == "ORG"
    surfaces = {m.text for m in state.mentions}
    assert "IS" in surfaces
    assert "Daesh" in surfaces  # "Daesh (IS)"
    assert state.count >= 8


def test_sample_drops_dates_and_numbers(sample: tuple[str, Extraction]) -> None:
    _, extraction = sample
    labels = {e.label for e in extraction.entities}
    assert not labels & {"DATE", "TIME", "CARDINAL", "QUANTITY", "PERCENT", "MONEY"}
    names = {e.name for e in extraction.entities}
    assert "yesterday" not in names
    assert "Tuesday" not in names


def test_sample_salience_ranks_the_subject_first(sample: tuple[str, Extraction]) -> None:
    _, extraction = sample
    assert extraction.entities[0].name == "Mosul"
    saliences = [e.salience for e in extraction.entities]
    assert saliences == sorted(saliences, reverse=True)
    [obama] = by_mention(extraction, "Obama")
    assert obama.salience < extraction.entities[0].salience


def test_sample_candidates_cover_places_whatever_their_label(
    sample: tuple[str, Extraction],
) -> None:
    _, extraction = sample
    texts = {c.text for c in extraction.candidates}
    assert {"Mosul", "Qaraqosh", "Qayyarah", "Nineveh", "Hamdaniya", "Arbil"} <= texts
    first_mosul = min(
        (c for c in extraction.candidates if c.text == "Mosul"), key=lambda c: c.start
    )
    assert first_mosul.sentence_start == 0
    assert first_mosul.sentence.startswith("Militant leaders are fleeing Mosul")
    assert first_mosul.sentence.endswith("northern city.")


# ---------------------------------------------------------------- small fixtures


def test_titles_are_stripped_with_exact_offsets(nlp: Language) -> None:
    text = (
        "President Barack Obama met Prime Minister Theresa May in London on Friday. "
        "Dr. Angela Merkel joined them later, and Obama thanked her."
    )
    [extraction] = extract_entities(nlp, [text])
    people = {e.name: e for e in extraction.entities if e.label == "PERSON"}
    assert "Barack Obama" in people
    assert people["Barack Obama"].count == 2
    assert "Angela Merkel" in people
    for entity in extraction.entities:
        for mention in entity.mentions:
            assert text[mention.start : mention.end] == mention.text
            assert not mention.text.startswith(("President", "Prime", "Dr"))


def test_a_person_next_to_a_place_word_stays_a_person(nlp: Language) -> None:
    text = "The talks went on for hours. Obama said the deal was close."
    [extraction] = extract_entities(nlp, [text], is_place=is_place)
    [obama] = by_mention(extraction, "Obama")
    assert obama.label == "PERSON"


def test_gazetteer_place_after_a_preposition_is_a_candidate(nlp: Language) -> None:
    text = "Fighting was reported near qaraqosh and in Hamdaniya overnight."
    [extraction] = extract_entities(nlp, [text], is_place=is_place)
    found = {c.text: c.label for c in extraction.candidates}
    assert "Hamdaniya" in found
    assert "qaraqosh" not in found  # lower-case words are never offered
    assert all(
        label != GAZETTEER_LABEL or text_ in PLACES or text_.lower() in PLACES
        for text_, label in found.items()
    )


def test_batches_keep_texts_apart(nlp: Language) -> None:
    texts = ["Angela Merkel spoke in Berlin.", "", "Rain fell all day.", "NATO met in Brussels."]
    extractions = extract_entities(nlp, texts, batch_size=2)
    assert len(extractions) == 4
    assert extractions[1].entities == [] and extractions[1].candidates == []
    assert extractions[2].entities == []
    assert any(e.name == "Brussels" for e in extractions[3].entities)
    assert not any(e.name == "Brussels" for e in extractions[0].entities)


# ---------------------------------------------------------------- layout and document rules


def labels_of(extraction: Extraction) -> dict[str, str]:
    return {m.text: e.label for e in extraction.entities for m in e.mentions}


def test_datelines_are_places_and_topics_are_not(nlp: Language) -> None:
    text = (
        "SOCCER - HARTFIELD SIGN NEW COACH.\n"
        "MOSUL, Iraq (AFP) - Troops advanced on Monday.\n"
        "BONN 1996-08-30\n"
        "The talks resumed."
    )
    [extraction] = extract_entities(nlp, [text])
    found = labels_of(extraction)
    assert found["MOSUL"] == "GPE"
    assert found["Iraq"] == "GPE"
    assert found["BONN"] == "GPE"
    assert "SOCCER" not in found


def test_results_tables_name_teams_countries_and_players(nlp: Language) -> None:
    text = (
        "Results of matches played on Saturday:\n"
        "Greystone 2 Blackmoor 1\n"
        "Hartfield 0 Ashby Rovers 3\n"
        "Romania 3 Lithuania 0\n"
        "Standings:\n"
        "Greystone 4 3 1 0 10 6 10\n"
        "Ashby Rovers 4 2 1 1 7 5 7\n"
        "Scorers: A. Jones 45, P. Smith 88\n"
    )
    [extraction] = extract_entities(nlp, [text])
    found = labels_of(extraction)
    for team in ("Greystone", "Blackmoor", "Hartfield", "Ashby Rovers"):
        assert found.get(team) == "ORG", (team, found.get(team))
    assert found["Romania"] == "GPE"
    assert found["Lithuania"] == "GPE"
    assert found["A. Jones"] == "PERSON"
    assert found["P. Smith"] == "PERSON"
    assert "Scorers" not in found
    [greystone] = by_mention(extraction, "Greystone")
    assert greystone.count == 2


def test_a_lone_line_with_numbers_is_not_a_table(nlp: Language) -> None:
    text = "Ericsson won the order on Friday.\n-- Stockholm newsroom +46-8-700 1017"
    [extraction] = extract_entities(nlp, [text])
    assert labels_of(extraction).get("Stockholm") != "ORG"


def test_clubs_in_match_reports_are_organisations(nlp: Language) -> None:
    text = (
        "Surrey beat Warwickshire by an innings at the Oval on Saturday.\n"
        "Surrey captain Chris Lewis said the side had played well."
    )
    [extraction] = extract_entities(nlp, [text])
    found = labels_of(extraction)
    assert found["Surrey"] == "ORG"
    assert found["Warwickshire"] == "ORG"
    assert found["Chris Lewis"] == "PERSON"


def test_national_sides_stay_places(nlp: Language) -> None:
    text = (
        "Romania beat Lithuania 3-0 in a World Cup qualifier on Saturday.\n"
        "Romania beat Lithuania 2-1 (halftime 1-1) in their European under-21 soccer match."
    )
    [extraction] = extract_entities(nlp, [text])
    found = labels_of(extraction)
    assert found["Romania"] == "GPE"
    assert found["Lithuania"] == "GPE"
    assert not any(any(c.isdigit() for c in surface) for surface in found)


def test_acronyms_defined_in_brackets_join_their_names(nlp: Language) -> None:
    text = (
        "Police detained members of the Northern Alliance for Progress (NAP) on Friday.\n"
        "NAP leaders said the arrests were illegal, and the NAP would appeal."
    )
    [extraction] = extract_entities(nlp, [text])
    [nap] = by_mention(extraction, "NAP")
    assert nap.name == "Northern Alliance for Progress"
    assert nap.label == "ORG"
    assert nap.count == 4


def test_surnames_join_people_named_in_full(nlp: Language) -> None:
    text = (
        "Russian security chief Alexander Lebed signed the deal in Khasavyurt.\n"
        '"The war is over," Lebed told reporters.'
    )
    [extraction] = extract_entities(nlp, [text])
    [lebed] = by_mention(extraction, "Lebed")
    assert lebed.name == "Alexander Lebed"
    assert lebed.label == "PERSON"
    assert lebed.count == 2


def test_common_words_in_front_of_names_are_cut(nlp: Language) -> None:
    text = (
        "Prices fell sharply, said broker Shakil Rizvi.\n"
        'Broker Khurshid Alam said: "The market sentiment will remain weak."'
    )
    [extraction] = extract_entities(nlp, [text])
    names = {e.name for e in extraction.entities if e.label == "PERSON"}
    assert "Khurshid Alam" in names
    assert not any(n.startswith("Broker") for n in names)


def test_the_and_trailing_common_words_are_not_part_of_names(nlp: Language) -> None:
    text = (
        "Officials arrived in the West Bank on Friday, Russia's Interfax news agency said.\n"
        "The West Bank talks will continue."
    )
    [extraction] = extract_entities(nlp, [text])
    names = {e.name for e in extraction.entities}
    assert "West Bank" in names
    assert not any(n.lower().startswith("the ") for n in names)
    assert not any(n.endswith(("agency", "news")) for n in names)


def test_headlines_in_capitals_are_recased_for_the_model(nlp: Language) -> None:
    text = (
        "BASKETBALL - HARTFIELD BEAT NORLAND IN FINAL.\n"
        "Hartfield beat Norland 92-81 in the final of the tournament on Saturday."
    )
    assert restore_case(text).splitlines()[0] == ("basketball - Hartfield beat Norland in final.")
    [extraction] = extract_entities(nlp, [text])
    # Mentions keep the original capitals; the headline's names are found.
    assert "HARTFIELD" in labels_of(extraction)


def test_people_who_beat_people_stay_people(nlp: Language) -> None:
    text = "Barack Obama beat John McCain in 2008.\nObama beat McCain in every big state."
    [extraction] = extract_entities(nlp, [text], is_place=is_place)
    found = labels_of(extraction)
    assert found["Obama"] == "PERSON"
    assert found["McCain"] == "PERSON"


def test_a_dateline_stays_a_place_when_a_club_has_its_name(nlp: Language) -> None:
    text = (
        "SOCCER - LEAGUE STANDINGS.\n"
        "HARTFIELD 1996-08-30\n"
        "Standings after Friday's matches:\n"
        "Hartfield 4 3 1 0 10 6 10\n"
        "Ashby 4 2 1 1 7 5 7\n"
        "Norland 4 0 1 3 2 9 1\n"
    )
    [extraction] = extract_entities(nlp, [text])
    dateline = [e for e in extraction.entities if e.mentions[0].text == "HARTFIELD"]
    club = [e for e in extraction.entities if e.mentions[0].text == "Hartfield"]
    assert [e.label for e in dateline] == ["GPE"]
    assert [e.label for e in club] == ["ORG"]
    assert labels_of(extraction)["Norland"] == "ORG"


def test_coordinated_names_are_separate_entities(nlp: Language) -> None:
    text = (
        "Analysts said the bank could bid for Mercantile, Commerce or Roosevelt.\n"
        "Laurent Cabannes and Laurent Benezech both scored for Harlequins."
    )
    [extraction] = extract_entities(nlp, [text])
    for entity in extraction.entities:
        for mention in entity.mentions:
            assert "," not in mention.text
            if entity.label == "PERSON":
                assert " and " not in mention.text


def test_a_sentence_final_stop_is_not_part_of_a_name(nlp: Language) -> None:
    text = (
        "The shares were sold to Lear Corp.\n"
        "Troops arrived in the U.S.\n"
        "Lear Corp. said it was pleased."
    )
    [extraction] = extract_entities(nlp, [text])
    surfaces = {m.text for e in extraction.entities for m in e.mentions}
    assert "Lear Corp" in surfaces  # the first line's stop ends the sentence
    assert "U.S." in surfaces  # a dotted abbreviation keeps its stops


def test_a_byline_above_a_dateline_is_a_person(nlp: Language) -> None:
    text = "Floods hit the north.\nMaggie Hartwell\nNEW DELHI 1996-08-30\nRivers rose again."
    [extraction] = extract_entities(nlp, [text])
    found = labels_of(extraction)
    assert found["Maggie Hartwell"] == "PERSON"
    assert found["NEW DELHI"] == "GPE"


ODD_TEXTS = [
    "STRASSE UND GROSSE İSTANBUL ÇAĞRI WEISSBIER\nDie Straße in İstanbul.",
    "MÜNCHEN 1996-08-30\r\nBayern München beat Köln 2-1.\r\n",
    "(((((((( ]]]] ---- ,,,, ....\n\n\n",
    "A 1 B 2 C 3 D 4 E 5 F 6 G 7 H 8 I 9 J 10 K 11 " * 40,
    "Mr. Dr. Prof. Sir\nThe the THE",
    "🙂 Emoji Lagos 🙂 Nigeria’s capital was Lagos (NLG) until 1991.",
    "U.S. Open (USO) U.S. OPEN\nBy Staff\nRelated Stories\nShare this",
]


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_odd_input_keeps_exact_offsets(nlp: Language, text: str) -> None:
    [extraction] = extract_entities(nlp, [text], is_place=is_place)
    for entity in extraction.entities:
        assert entity.count == len(entity.mentions) >= 1
        assert entity.name.strip() == entity.name and entity.name
        for mention in entity.mentions:
            assert text[mention.start : mention.end] == mention.text
            assert mention.text.strip() == mention.text
    for candidate in extraction.candidates:
        assert text[candidate.start : candidate.end] == candidate.text
        start = candidate.sentence_start
        assert text[start : start + len(candidate.sentence)] == candidate.sentence
    assert len(mask_residue(text)) == len(text)
    assert len(restore_case(text)) == len(text)


def test_gazetteer_candidates_skip_dates(nlp: Language) -> None:
    def everything_is_a_place(name: str) -> bool:
        return True

    text = "The town fell in August 2014 and was retaken in June, officials said in Hamdaniya."
    [extraction] = extract_entities(nlp, [text], is_place=everything_is_a_place)
    offered = {c.text for c in extraction.candidates}
    assert "Hamdaniya" in offered
    assert not offered & {"August", "June"}


def test_a_person_named_in_full_stays_a_person_after_a_place_word(nlp: Language) -> None:
    text = (
        "Barack Obama spoke on Monday.\n"
        "Critics of the Obama administration said a statement from Obama was late."
    )
    [extraction] = extract_entities(nlp, [text], is_place=is_place)
    [obama] = by_mention(extraction, "Barack Obama")
    assert obama.label == "PERSON"
    assert all(e.label == "PERSON" for e in by_mention(extraction, "Obama"))


def test_teams_listed_with_a_team_are_teams(nlp: Language) -> None:
    text = (
        "Title rivals Essex, Derbyshire and Surrey all won on Saturday.\n"
        "Surrey beat Kent by an innings at the Oval."
    )
    [extraction] = extract_entities(nlp, [text])
    found = labels_of(extraction)
    assert found.get("Surrey") == "ORG"
    assert found.get("Derbyshire") == "ORG"


def test_names_after_town_of_are_places(nlp: Language) -> None:
    text = (
        "Rebels took the town of Varkhana on Friday.\n"
        "Fighting spread to the village of Ust-Brenko, officials said."
    )
    [extraction] = extract_entities(nlp, [text])
    found = labels_of(extraction)
    assert found["Varkhana"] == "GPE"
    assert found["Ust-Brenko"] == "GPE"


def test_players_listed_with_their_country_or_goal_are_people(nlp: Language) -> None:
    text = (
        "Women's singles, third round 1 - Greta Lindqvist (Sweden) beat Ana Moravcova "
        "(Slovakia) 6-4 6-2\n"
        "R. Irani not out 45\n"
        "President George W. Bush arrived in Texas.\n"
        "Officials in Hong Kong (China) said trade grew.\n"
        "Scorers: Freedonia - Marek Dvoran (13th), Tollo (41st min, pen)"
    )
    [extraction] = extract_entities(nlp, [text])
    found = labels_of(extraction)
    assert found["Greta Lindqvist"] == "PERSON"
    assert found["Ana Moravcova"] == "PERSON"
    assert found["Sweden"] == "GPE"
    assert found["R. Irani"] == "PERSON"
    assert "Irani" not in found
    assert found["George W. Bush"] == "PERSON"
    assert "W. Bush" not in found
    assert found["Hong Kong"] == "GPE"
    assert found["Marek Dvoran"] == "PERSON"
    assert found["Tollo"] == "PERSON"


def test_titles_the_model_keeps_are_cut(nlp: Language) -> None:
    text = "King Abdullah visited Amman.\nLater Ayatollah Ali Khamenei said the talks failed."
    [extraction] = extract_entities(nlp, [text])
    people = {m.text: m for e in extraction.entities if e.label == "PERSON" for m in e.mentions}
    assert set(people) == {"Abdullah", "Ali Khamenei"}
    assert people["Abdullah"].start == len("King ")
    assert text[people["Ali Khamenei"].start :].startswith("Ali Khamenei said")


def test_a_long_running_worker_does_not_grow_the_vocabulary(nlp: Language) -> None:
    # New words would otherwise stay in the model's string store for good.
    before = len(nlp.vocab.strings)
    texts = [
        f"Zorblat Quenivar{n} met Ambassador Trelkovy{n} in Vashmere{n} on Tuesday."
        for n in range(50)
    ]
    extractions = extract_entities(nlp, texts)
    assert len(nlp.vocab.strings) == before
    # The results are plain values that outlive the zone.
    names = {e.name for x in extractions for e in x.entities}
    assert len({n for n in names if "Trelkovy" in n}) >= 10


def test_the_entity_stage_carries_the_text_for_the_drafts(nlp: Language) -> None:
    from services.entities.app import entities_stage
    from services.summarizer.app import summarizer_stage
    from shared.pipeline import PIPELINE
    from shared.schemas import Article
    from shared.settings import load_settings
    from tests.factories import meta

    text = "Heavy rain flooded Lyon on Tuesday. Rivers rose."
    english = Article(meta=meta("en1"), text=text)
    german = Article(meta=meta("de1").model_copy(update={"language": "de"}), text=text)
    # The stories stage reads the drafts, which take the text from the entity stage: on
    # every path, an article the model read, one it cannot read and one it failed on.
    assert PIPELINE.drafted
    for settings in (load_settings(), load_settings(event_text=True)):
        spec = entities_stage(settings, nlp, None)
        read, skipped = spec.work([english, german])
        assert read.info.status == "ok" and skipped.info.status == "skipped"
        assert read.text == text and skipped.text == text
        assert spec.failed is not None and spec.failed(english, "boom").text == text
    # The summarizer, which runs ahead of NER, no longer carries it.
    (summary,) = summarizer_stage(load_settings()).work([english])
    assert summary.summary is not None and summary.text is None
