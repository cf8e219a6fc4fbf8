"""The extractive summariser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.summarizer.evaluate import evaluate_summaries
from services.summarizer.rank import summarize
from shared.schemas import Summary
from shared.text import split_sentences

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "000_94083e9d46d5205f.txt"

# A made-up report: the story is the dam; a byline, page furniture and an aside are noise.
ARTICLE = "\n".join(
    [
        "By Jane Doe",
        "Engineers in Riverton opened the new flood dam on Tuesday after four years of work.",
        "The dam, which cost 40 million pounds, protects 3,000 homes along the River Wend.",
        "Share this",
        "Riverton's mayor, Ana Ruiz, said the dam would keep families in their homes.",
        "The local bakery also won a prize for its bread this week.",
        "Floods in 2019 forced 1,200 Riverton families from their homes and shut the dam site.",
        "Ruiz said the town would now build a second dam upstream on the Wend.",
        "Related Story",
    ]
)


def assert_consistent(text: str, summary: Summary) -> None:
    starts = [s.start for s in summary.sentences]
    assert starts == sorted(starts)
    for sentence in summary.sentences:
        assert text[sentence.start : sentence.end] == sentence.text
    assert summary.text == " ".join(s.text for s in summary.sentences)


def test_picks_three_sentences_in_text_order_with_offsets() -> None:
    summary = summarize(ARTICLE, title="Riverton opens flood dam")
    assert len(summary.sentences) == 3
    assert_consistent(ARTICLE, summary)
    assert summary.sentences[0].text.startswith("Engineers in Riverton opened")


def test_skips_page_residue_bylines_and_fragments() -> None:
    chosen = {s.text for s in summarize(ARTICLE, max_sentences=6).sentences}
    assert len(chosen) == 6
    assert not chosen & {"By Jane Doe", "Share this", "Related Story"}


def test_off_topic_sentence_ranks_last() -> None:
    summary = summarize(ARTICLE, max_sentences=5)
    assert_consistent(ARTICLE, summary)
    chosen = {s.text for s in summary.sentences}
    assert "The local bakery also won a prize for its bread this week." not in chosen


def test_title_steers_the_choice() -> None:
    lane = "Separately, the council approved a new cycle lane on the high street."
    text = (
        "The city council met on Monday evening to discuss its yearly budget for schools.\n"
        "Teachers asked the council for more money to repair old school buildings.\n"
        "Parents told the council that school buildings were cold in the winter.\n"
        "The council said the school budget would grow by a tenth next year.\n"
        f"{lane}\n"
        "The budget for schools will be voted on by the council next month."
    )
    titled = summarize(text, title="A cycle lane for the high street")
    untitled = [s.text for s in summarize(text).sentences]
    assert lane in [s.text for s in titled.sentences]
    assert lane not in untitled
    assert_consistent(text, titled)


def test_redundant_sentences_are_not_both_chosen() -> None:
    repeated = "The mayor of Riverton opened the new flood dam on the river on Tuesday morning."
    text = (
        f"{repeated}\n{repeated}\n"
        "The dam protects three thousand homes from floods that hit the town every winter.\n"
        "Work on the dam took four years and cost forty million pounds in total."
    )
    summary = summarize(text, max_sentences=2)
    assert [s.text for s in summary.sentences].count(repeated) == 1


def test_max_words_limits_the_summary_but_keeps_one_sentence() -> None:
    summary = summarize(ARTICLE, max_sentences=3, max_words=25)
    assert sum(len(s.text.split()) for s in summary.sentences) <= 25
    assert len(summary.sentences) >= 1
    tiny = summarize(ARTICLE, max_sentences=3, max_words=1)
    assert len(tiny.sentences) == 1


def test_scores_are_finite_numbers() -> None:
    for sentence in summarize(ARTICLE).sentences:
        assert sentence.score == sentence.score
        assert sentence.score > 0


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_empty_text_gives_empty_summary(text: str) -> None:
    assert summarize(text) == Summary(sentences=[], text="")


def test_single_sentence_and_short_texts() -> None:
    text = "Only one sentence here about the flood dam."
    summary = summarize(text)
    assert [s.text for s in summary.sentences] == [text]
    assert summary.text == text
    assert [s.text for s in summarize("Short. Texts.").sentences] == ["Short.", "Texts."]
    assert summarize("Hi").text == "Hi"


def test_zero_sentences_requested() -> None:
    assert summarize(ARTICLE, max_sentences=0).sentences == []


def test_precomputed_sentences_are_used() -> None:
    text = "The first clause is here; the second clause is here. A sentence follows it."
    spans = [(0, 24), (26, 52), (53, len(text))]
    summary = summarize(text, sentences=spans, max_sentences=3)
    assert [(s.start, s.end) for s in summary.sentences] == spans
    assert summary.sentences[0].text == "The first clause is here"


def test_sample_article() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    summary = summarize(text)
    assert summary.text
    assert len(summary.sentences) == 3
    assert_consistent(text, summary)
    spans = set(split_sentences(text))
    assert all((s.start, s.end) in spans for s in summary.sentences)
    assert all("Related Story" not in s.text for s in summary.sentences)
    assert summarize(text, max_sentences=30).sentences[-1].text != "Related Story"
    assert "Mosul" in summary.text


@pytest.mark.parametrize("text", ["Related Story", "Share this\nRelated Story\n", "!!!", "\n.\n"])
def test_residue_or_punctuation_only_gives_empty_summary(text: str) -> None:
    assert summarize(text) == Summary(sentences=[], text="")


def test_very_long_text_is_fast_and_bounded() -> None:
    text = "\n".join(f"Sentence {i} says the river rose by {i} centimetres." for i in range(5000))
    summary = summarize(text)
    assert len(summary.sentences) == 3
    assert_consistent(text, summary)


def test_the_lead_wins_over_an_equally_central_sentence_further_down() -> None:
    text = (
        "Storms closed the coast road near Riverton on Sunday night.\n"
        "Fallen trees blocked the road for hours, police said on Monday.\n"
        "A bakery in the harbour handed out bread to stranded drivers.\n"
        "Fishing boats stayed in port for a second day.\n"
        "The school bus ran an hour late on its morning round.\n"
        "Storms and fallen trees closed the coast road near Riverton overnight.\n"
        "The council said the coast road would reopen once the storms had passed."
    )
    assert [s.start for s in summarize(text, max_sentences=1).sentences] == [0]


def test_a_more_central_second_sentence_beats_a_weak_first() -> None:
    text = (
        "Residents spent a long and sleepless night listening to the wind and the rain.\n"
        "Storms closed the coast road near Riverton, and fallen trees blocked it for hours.\n"
        "Police said the coast road would stay closed until the fallen trees were cleared.\n"
        "The council said the storms had passed and the coast road would reopen on Tuesday."
    )
    (chosen,) = summarize(text, max_sentences=1).sentences
    assert chosen.start > 0


def test_evaluate_summaries_scores_a_jsonl_file(tmp_path: Path) -> None:
    lead = ARTICLE.split("\n")[1]
    data = tmp_path / "eval.jsonl"
    records = [
        {"id": "a", "text": ARTICLE, "reference": summarize(ARTICLE).text},
        {"id": "b", "text": ARTICLE, "reference": lead},
    ]
    data.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    result = evaluate_summaries(str(data))
    assert result["articles"] == 2
    assert isinstance(result["articles_per_s"], float) and result["articles_per_s"] > 0
    rouge1 = result["rouge1"]
    assert isinstance(rouge1, float) and 0.5 < rouge1 < 1.0
    lead3 = result["lead3"]
    assert isinstance(lead3, dict) and set(lead3) == {"rouge1", "rouge2", "rougeL"}
    only_first = evaluate_summaries(str(data), limit=1, max_sentences=3)
    assert only_first["articles"] == 1
    assert only_first["rouge1"] == 1.0


def test_evaluate_summaries_scores_each_half_against_lead3(tmp_path: Path) -> None:
    lead = ARTICLE.split("\n")[1]
    data = tmp_path / "eval.jsonl"
    records = [
        {"id": "a", "text": ARTICLE, "reference": summarize(ARTICLE).text},
        {"id": "b", "text": ARTICLE, "reference": summarize(ARTICLE).text},
        {"id": "c", "text": ARTICLE, "reference": lead},
    ]
    data.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    first, second = (evaluate_summaries(str(data), half=half) for half in (1, 2))
    assert (first["articles"], second["articles"]) == (2, 1)
    assert first["rouge1"] == 1.0  # both references are the summariser's own
    lead3 = first["lead3"]
    assert isinstance(lead3, dict)
    assert first["margin_rouge1"] == round(1.0 - lead3["rouge1"], 4)
