"""CoNLL-2003 reading and the NER evaluation (on fixtures written for these tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.entities.conll import GoldEntity, parse_conll, read_conll
from services.entities.evaluate import ONTONOTES_TO_CONLL, evaluate_ner, score_spans

# Two small documents in the CoNLL-2003 column format. The first uses IOB1 tags (an
# entity starts with I- unless it follows one of the same type), the second IOB2.
FIXTURE = """-DOCSTART- -X- -X- O

HARTFIELD NNP B-NP I-ORG
WIN VBP B-VP O
AGAIN RB B-ADVP O
. . O O

LONDON NNP B-NP I-LOC
1996-08-30 CD I-NP O

Hartfield NNP B-NP I-ORG
beat VBD B-VP O
Ashby NNP B-NP I-ORG
Rovers NNP I-NP I-ORG
2-1 CD I-NP O
on IN B-PP O
Saturday NNP B-NP O
, , O O
said VBD B-VP O
coach NN B-NP O
John NNP I-NP I-PER
Smith NNP I-NP I-PER
's POS B-NP O
assistant NN I-NP O
( ( O O
Anna NNP B-NP I-PER
Berg NNP I-NP I-PER
) ) O O
. . O O

-DOCSTART- -X- -X- O

German JJ B-NP B-MISC
officials NNS I-NP O
met VBD B-VP O
Paul NNP B-NP B-PER
Martin NNP I-NP I-PER
Karl NNP I-NP B-PER
Weber NNP I-NP I-PER
in IN B-PP O
Berlin NNP B-NP B-LOC
. . O O
"""


def write_fixture(tmp_path: Path) -> Path:
    path = tmp_path / "mini.conll"
    path.write_text(FIXTURE, encoding="utf-8")
    return path


def test_documents_are_split_and_rebuilt_as_text(tmp_path: Path) -> None:
    docs = read_conll(write_fixture(tmp_path))
    assert len(docs) == 2
    first, second = docs
    assert first.text.splitlines() == [
        "HARTFIELD WIN AGAIN.",
        "LONDON 1996-08-30",
        "Hartfield beat Ashby Rovers 2-1 on Saturday, said coach John Smith's assistant "
        "(Anna Berg).",
    ]
    assert second.text == "German officials met Paul Martin Karl Weber in Berlin."
    assert len(first.tokens) == 4 + 2 + 19
    # Every token's span holds the token, whatever spacing was chosen around it.
    tokens = [line.split()[0] for line in FIXTURE.splitlines() if line and "DOCSTART" not in line]
    rebuilt = [first.text[a:b] for a, b in first.tokens]
    rebuilt += [second.text[a:b] for a, b in second.tokens]
    assert rebuilt == tokens


def test_gold_entities_from_iob1_and_iob2(tmp_path: Path) -> None:
    first, second = read_conll(write_fixture(tmp_path))
    assert [(first.text[e.start : e.end], e.label) for e in first.entities] == [
        ("HARTFIELD", "ORG"),
        ("LONDON", "LOC"),
        ("Hartfield", "ORG"),
        ("Ashby Rovers", "ORG"),
        ("John Smith", "PER"),
        ("Anna Berg", "PER"),
    ]
    # IOB2: B- starts a new entity even right after one of the same type.
    assert [(second.text[e.start : e.end], e.label) for e in second.entities] == [
        ("German", "MISC"),
        ("Paul Martin", "PER"),
        ("Karl Weber", "PER"),
        ("Berlin", "LOC"),
    ]
    assert all(isinstance(e, GoldEntity) for e in second.entities)


def test_parse_handles_a_file_without_docstart_or_final_blank_line() -> None:
    lines = ["Rain NN B-NP O", "in IN B-PP O", "Oslo NNP B-NP B-LOC"]
    [doc] = list(parse_conll(lines))
    assert doc.text == "Rain in Oslo"
    assert [(doc.text[e.start : e.end], e.label) for e in doc.entities] == [("Oslo", "LOC")]


def test_label_mapping() -> None:
    assert ONTONOTES_TO_CONLL["PERSON"] == "PER"
    assert ONTONOTES_TO_CONLL["GPE"] == ONTONOTES_TO_CONLL["LOC"] == "LOC"
    assert ONTONOTES_TO_CONLL["NORP"] == "MISC"
    assert ONTONOTES_TO_CONLL["WORK_OF_ART"] == "MISC"
    for dropped in ("DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"):
        assert dropped not in ONTONOTES_TO_CONLL


def test_scores_are_exact_span_micro_averages() -> None:
    gold = {(0, 0, 5, "PER"), (0, 10, 15, "LOC"), (1, 0, 4, "ORG"), (1, 8, 12, "MISC")}
    predicted = {
        (0, 0, 5, "PER"),  # hit
        (0, 10, 14, "LOC"),  # one character short: a miss
        (1, 0, 4, "LOC"),  # wrong label: a miss
        (1, 8, 12, "MISC"),  # hit
        (1, 20, 25, "PER"),  # spurious
    }
    scores = score_spans(gold, predicted)
    assert scores["precision"] == pytest.approx(2 / 5)
    assert scores["recall"] == pytest.approx(2 / 4)
    assert scores["f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9, abs=1e-4)
    per_label = scores["per_label"]
    assert isinstance(per_label, dict)
    assert per_label["PER"]["recall"] == 1.0
    assert per_label["ORG"]["f1"] == 0.0
    assert score_spans(gold, set())["f1"] == 0.0


def test_evaluate_ner_runs_the_stage_and_the_bare_model(tmp_path: Path) -> None:
    result = evaluate_ner(str(write_fixture(tmp_path)))
    assert result["documents"] == 2
    assert result["gold"] == 10
    for key in ("f1", "precision", "recall", "bare_f1"):
        value = result[key]
        assert isinstance(value, float)
        assert 0.0 <= value <= 1.0
    for key in ("tokens_per_s", "bare_tokens_per_s", "speed_ratio"):
        value = result[key]
        assert isinstance(value, float)
        assert value > 0
    per_label = result["per_label"]
    assert isinstance(per_label, dict)
    assert set(per_label) == {"PER", "LOC", "ORG", "MISC"}
    # The stage finds at least the clear cases of this easy fixture.
    f1 = result["f1"]
    assert isinstance(f1, float)
    assert f1 >= 0.5
    # ... and more of them than the bare model (the headline and the dateline).
    bare_f1 = result["bare_f1"]
    assert isinstance(bare_f1, float)
    assert f1 > bare_f1
    assert evaluate_ner(str(write_fixture(tmp_path)), limit=1)["documents"] == 1


def test_read_handles_a_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.conll"
    path.write_bytes(
        "\ufeff-DOCSTART- -X- -X- O\r\n\r\nRain NN B-NP O\r\nin IN B-PP O\r\n"
        "Oslo NNP B-NP B-LOC\r\n".encode()
    )
    [doc] = read_conll(path)
    assert doc.text == "Rain in Oslo"
    assert [(doc.text[e.start : e.end], e.label) for e in doc.entities] == [("Oslo", "LOC")]
