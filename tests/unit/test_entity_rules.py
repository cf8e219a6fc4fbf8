"""The entity stage's rules one at a time, on spans written by hand (no model): what each
changes, and what it must leave alone. Texts are made up for these tests."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from newsflow.arguments import build_parser
from newsflow.commands.errors import CliError
from newsflow.commands.tools import cmd_eval
from services.entities import audit
from services.entities.casing import restore_case
from services.entities.extract import RULES, STEP_NAMES, apply_rules
from services.entities.layout import datelines, table_spans
from services.entities.names import initialled_names
from services.entities.relabel import (
    fix_place_people,
    honoured_people,
    listed_names,
    short_forms,
)
from services.entities.repairs import leading_nationalities
from services.entities.spans import Span, model_spans
from services.entities.teams import sports_teams
from shared.jsonl import half_of


def spans_of(text: str, *found: tuple[str, str]) -> list[Span]:
    """Spans at the first occurrence of each surface (after the previous one)."""
    out: list[Span] = []
    at = 0
    for surface, label in found:
        start = text.index(surface, at)
        out.append(Span(start, start + len(surface), label))
        at = start + len(surface)
    return out


def surfaces(text: str, spans: list[Span]) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.label) for s in spans]


def test_halves_are_contiguous_disjoint_and_cover_the_file() -> None:
    # One function for the NER and summary evaluations (shared/jsonl.py).
    items = list(range(7))
    first, second = list(half_of(items, 1)), list(half_of(items, 2))
    assert first == [0, 1, 2, 3] and second == [4, 5, 6]
    assert list(half_of(items, None)) == items
    with pytest.raises(ValueError, match="half must be 1 or 2"):
        half_of(items, 3)


def test_every_rule_has_a_unique_step_name() -> None:
    names = [name for name, _ in RULES]
    assert len(set(STEP_NAMES)) == len(STEP_NAMES) == len(names) + 2
    assert set(names) <= set(STEP_NAMES)


def test_a_skipped_rule_changes_nothing_and_the_trace_sees_the_others() -> None:
    text = "BONN 1996-08-30\nTalks resumed in Bonn."
    ents = [(0, 4, "PERSON"), (33, 37, "GPE")]
    seen: list[str] = []
    kept = apply_rules(text, text, ents, None, trace=lambda name, *_: seen.append(name))
    assert seen == [*(name for name, _ in RULES), "aliases"]
    assert {m.text: e.label for e in kept.entities for m in e.mentions}["BONN"] == "GPE"
    skipped = apply_rules(text, text, ents, None, skip=frozenset({"datelines"}))
    labels = {m.text: e.label for e in skipped.entities for m in e.mentions}
    assert labels["BONN"] == "PERSON"


def _eval_args(tmp_path: Path, *argv: str) -> argparse.Namespace:
    data = tmp_path / "data.txt"
    data.write_text("", encoding="utf-8")
    return build_parser().parse_args(["eval", *argv, "--data", str(data)])


def test_eval_refuses_half_and_skip_where_they_mean_nothing(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="--half: eval geo scores the whole file"):
        cmd_eval(_eval_args(tmp_path, "geo", "--half", "1"))
    with pytest.raises(CliError, match="--skip: only eval ner"):
        cmd_eval(_eval_args(tmp_path, "summary", "--skip", "tables"))
    with pytest.raises(CliError, match="--skip: no step nope; the steps: residue, casing"):
        cmd_eval(_eval_args(tmp_path, "ner", "--skip", "tables,nope"))
    with pytest.raises(SystemExit):
        _eval_args(tmp_path, "ner", "--half", "3")


def test_an_unclosed_bracket_splits_a_span_and_its_pieces_do_not_vote() -> None:
    text = "Frankie Fredericks (Namibia) won. Alan John (A.J.P.) Taylor wrote."
    ents = [(0, 27, "ORG"), (34, 59, "PERSON")]
    spans = model_spans(text, ents)
    assert surfaces(text, spans) == [
        ("Frankie Fredericks", "ORG"),
        ("Namibia", "ORG"),
        ("Alan John (A.J.P.) Taylor", "PERSON"),
    ]
    assert [s.from_model for s in spans] == [False, False, True]


def test_a_lower_case_word_no_name_holds_splits_other_names() -> None:
    text = "Real Madrid against Real Union, the Bank of America and Banco di Roma."
    ents = [(0, 30, "ORG"), (36, 51, "ORG"), (56, 69, "ORG")]
    assert surfaces(text, model_spans(text, ents)) == [
        ("Real Madrid", "ORG"),
        ("Real Union", "ORG"),
        ("Bank of America", "ORG"),
        ("Banco di Roma", "ORG"),
    ]


def test_a_place_is_cut_from_a_facility_at_a_comma_but_not_from_a_title() -> None:
    text = 'They met at Wembley Stadium, London to see "Crouching Tiger, Hidden Dragon".'
    ents = [(12, 35, "FAC"), (44, 74, "WORK_OF_ART")]
    assert surfaces(text, model_spans(text, ents)) == [
        ("Wembley Stadium", "FAC"),
        ("London", "FAC"),
        ("Crouching Tiger, Hidden Dragon", "WORK_OF_ART"),
    ]


def test_the_datelines_place_named_again_is_no_person() -> None:
    text = "TAVILDARA 1996-08-30\nRebels said Tavildara fell. Ivan Petrov agreed."
    spans = [*datelines(text), *spans_of(text, ("Tavildara", "PERSON"), ("Ivan Petrov", "PERSON"))]
    fix_place_people(text, spans, None)
    assert surfaces(text, spans) == [
        ("TAVILDARA", "GPE"),
        ("Tavildara", "GPE"),
        ("Ivan Petrov", "PERSON"),
    ]


def test_a_locked_dateline_keeps_its_label_whatever_a_person_is_called() -> None:
    text = "WARSAW 1996-08-30\nPrices rose.\n-- Warsaw Newsroom"
    [place] = datelines(text)
    spans = [place, *spans_of(text, ("Warsaw Newsroom", "PERSON"))]
    short_forms(text, spans, None)
    assert place.label == "GPE" and place.locked


def test_a_persons_side_is_his_team_not_him() -> None:
    text = "Ferguson's side lost. Surrey captain Chris Lewis batted. Surrey's fans sang."
    spans = spans_of(
        text,
        ("Ferguson", "PERSON"),
        ("Surrey", "PERSON"),
        ("Chris Lewis", "PERSON"),
        ("Surrey", "PERSON"),
    )
    found = surfaces(text, sports_teams(text, spans, frozenset(), None))
    assert found == [
        ("Ferguson", "PERSON"),
        ("Surrey", "ORG"),
        ("Chris Lewis", "PERSON"),
        ("Surrey", "ORG"),
    ]


def test_state_abbreviations_and_compass_points_are_no_initials() -> None:
    text = "S.C. House members met. W.Va. 61 is shut. A fire in S.E. Paris. D. Gough bowled."
    assert [m.group() for m in initialled_names(text)] == ["D. Gough"]


def test_a_dateline_is_read_as_written_not_as_the_model_saw_it() -> None:
    # The re-casing takes the dateline for a shouted line ("cape town": the body writes
    # "town" and never "Cape"); the dateline must still be found, in the text as written.
    text = "CAPE TOWN 1996-08-31\nThe town council met on Friday."
    view = restore_case(text)
    assert view.startswith("cape town")
    extraction = apply_rules(text, view, [], None)
    found = {m.text: e.label for e in extraction.entities for m in e.mentions}
    assert found == {"CAPE TOWN": "GPE"}


def test_a_datelines_dash_is_not_part_of_its_place() -> None:
    text = "LOUISVILLE, KY--(Marketwire) - Shares rose."
    assert [text[s.start : s.end] for s in datelines(text)] == ["LOUISVILLE", "KY"]


def test_the_audit_counts_what_each_rule_changes_in_the_final_mentions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = ["BONN 1996-08-30\nTalks resumed.", "Rain fell on Oslo."]
    model = [[(0, 4, "PERSON")], [(13, 17, "GPE")]]
    monkeypatch.setattr(audit, "load_nlp", lambda: None)
    monkeypatch.setattr(audit, "model_entities", lambda _nlp, _views: model)
    changes = audit.audit_rules(texts)
    assert list(changes) == [name for name, _ in RULES]
    [change] = changes["datelines"]
    assert (change.article, change.surface, change.without, change.with_rule) == (
        0,
        "BONN",
        "PERSON",
        "GPE",
    )
    assert changes["tables"] == []
    report = audit.describe(changes, samples=5)
    assert "datelines: 1 mentions changed in 1 articles" in report
    assert "'BONN' PERSON->GPE" in report


def test_a_datelines_agency_is_no_alias_of_its_place() -> None:
    text = "Kathmandu, Nepal (CNN)Rescuers in Nepal dug. Islamic State (IS) fighters fled."
    found = [("Kathmandu", "GPE"), ("Nepal", "GPE"), ("CNN", "ORG"), ("Nepal", "GPE")]
    found += [("Islamic State", "ORG"), ("IS", "ORG")]
    ents = [(s.start, s.end, s.label) for s in spans_of(text, *found)]
    extraction = apply_rules(text, text, ents, None)
    groups = sorted(sorted(m.text for m in e.mentions) for e in extraction.entities)
    assert ["CNN"] in groups and ["Nepal", "Nepal"] in groups
    assert ["IS", "Islamic State"] in groups


def test_a_name_after_a_club_word_is_a_club_and_a_national_side_stays_a_place() -> None:
    text = "He joined serie A club Atalanta, then Mexican outfit Red Sharks and club France."
    found = [("Atalanta", "GPE"), ("Red Sharks", "PERSON"), ("France", "GPE")]
    spans = sports_teams(text, spans_of(text, *found), frozenset({"france"}), None)
    assert surfaces(text, spans) == [("Atalanta", "ORG"), ("Red Sharks", "ORG"), ("France", "GPE")]


def test_to_stands_inside_a_name_and_at_splits_two() -> None:
    text = "National Right to Life met Arsenal at London Colney."
    ents = [(0, 22, "ORG"), (27, 51, "ORG")]
    assert surfaces(text, model_spans(text, ents)) == [
        ("National Right to Life", "ORG"),
        ("Arsenal", "ORG"),
        ("London Colney", "ORG"),
    ]


def test_names_listed_together_take_the_lists_majority_label() -> None:
    text = "Given, Breen, Staunton and Houghton played. Sioux Falls, Oconee and Ian S. Jett met."
    found = [("Given", "PERSON"), ("Breen", "PERSON"), ("Staunton", "GPE"), ("Houghton", "PERSON")]
    found += [("Sioux Falls", "GPE"), ("Oconee", "GPE"), ("Ian S. Jett", "PERSON")]
    spans = spans_of(text, *found)
    listed_names(text, spans)
    assert [s.label for s in spans] == ["PERSON"] * 4 + ["GPE", "GPE", "PERSON"]


def test_a_list_without_a_majority_keeps_its_labels() -> None:
    text = "Delta, Iraq and Smith, then Oslo."
    spans = spans_of(text, ("Delta", "ORG"), ("Iraq", "GPE"), ("Smith", "PERSON"), ("Oslo", "GPE"))
    listed_names(text, spans)
    assert [s.label for s in spans] == ["ORG", "GPE", "PERSON", "GPE"]


def test_a_shouted_acronym_stays_in_capitals() -> None:
    text = "POLISH NBP REFRAINS FROM REPO.\nThe bank said so."
    assert restore_case(text).startswith("polish NBP refrains from repo.")


def test_a_nationality_in_front_of_a_person_is_a_group_of_its_own() -> None:
    text = "Colombian Camilo Villegas won. British Airways flew."
    spans = spans_of(text, ("Colombian Camilo Villegas", "PERSON"), ("British Airways", "ORG"))
    assert surfaces(text, leading_nationalities(text, spans)) == [
        ("Colombian", "NORP"),
        ("Camilo Villegas", "PERSON"),
        ("British Airways", "ORG"),
    ]


def test_a_month_in_front_of_a_name_and_a_reporting_period_after_it_are_cut() -> None:
    text = "The August National Association index rose. Computer Systems Inc Q2 loss. May Corp."
    text += " June E. Nylen Foundation"
    ents = [(4, 31, "ORG"), (44, 67, "ORG"), (74, 83, "ORG"), (84, 108, "ORG")]
    assert surfaces(text, model_spans(text, ents)) == [
        ("National Association", "ORG"),
        ("Computer Systems Inc", "ORG"),
        ("May Corp", "ORG"),  # the full stop ends the sentence
        ("June E. Nylen Foundation", "ORG"),
    ]


def test_a_quoted_titles_own_the_stays_and_other_thes_go() -> None:
    text = 'His film "The Crying Game" and the Smith of The Lib Dems.'
    ents = [(10, 25, "WORK_OF_ART"), (31, 40, "PERSON"), (44, 56, "WORK_OF_ART")]
    assert surfaces(text, model_spans(text, ents)) == [
        ("The Crying Game", "WORK_OF_ART"),
        ("Smith", "PERSON"),
        ("Lib Dems", "WORK_OF_ART"),
    ]


def test_a_person_across_a_score_gives_no_surname_to_a_results_table() -> None:
    text = "Results:\nNorwich 1 Wolverhampton 0\nOldham 3 Ipswich 3\nPort Vale 2 Oxford 0\n"
    spans = spans_of(text, ("Oldham 3 Ipswich", "PERSON"))
    found = dict(surfaces(text, table_spans(text, spans, frozenset())))
    assert found["Ipswich"] == "ORG" and found["Oldham"] == "ORG"


def test_a_name_after_an_honorific_is_a_person() -> None:
    text = "Mr Camus spoke. Lord Janner left. Mr. Toshitsune Inc said. Mississippi flooded."
    found = [("Camus", "NORP"), ("Lord Janner", "ORG"), ("Mr. Toshitsune", "ORG")]
    spans = spans_of(text, *found, ("Mississippi", "GPE"))
    honoured_people(text, spans)
    assert surfaces(text, spans) == [
        ("Camus", "PERSON"),
        ("Janner", "PERSON"),
        ("Toshitsune", "PERSON"),
        ("Mississippi", "GPE"),
    ]
