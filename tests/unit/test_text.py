"""Sentence splitting and word tokens."""

from __future__ import annotations

import pytest

from shared.text import split_sentences, tokenize_words


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


def test_plain_sentences_and_offsets() -> None:
    text = "  The council met on Monday.  It voted to close the bridge!\tWhy now? Nobody knows. "
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == [
        "The council met on Monday.",
        "It voted to close the bridge!",
        "Why now?",
        "Nobody knows.",
    ]
    assert spans == sorted(spans)
    assert all(text[a:b] == text[a:b].strip() for a, b in spans)


def test_newlines_are_hard_boundaries() -> None:
    text = "Headline without a full stop\nFirst paragraph, one sentence.\r\n\r\nLast line"
    assert sentences(text) == [
        "Headline without a full stop",
        "First paragraph, one sentence.",
        "Last line",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Mr. Smith met Dr. Jones and Gen. Lee in St. Louis on Monday.",
        "Lt. Col. Mary Brown said Prof. Green was wrong.",
        "Author J. K. Rowling and George R. R. Martin spoke.",
        "Profits rose 76% to $1.13bn, up from 3.5 times the 2.1m forecast.",
        "The U.S. and U.K. governments agreed at 9 a.m. on Jan. 5 in Washington.",
        "Police said No. 10 had not been told about the 1.5 kg package.",
        "He waited... and waited for the bus.",
        "“Are you there?” she asked, and he said “no!” quietly.",
        "Warner Bros. Discovery and Acme Inc. shares rose.",
    ],
)
def test_no_split_inside_a_sentence(text: str) -> None:
    assert sentences(text) == [text]


def test_sentence_ends_inside_quotes_and_brackets() -> None:
    text = "“We will win,” he said. “It is over.” The crowd cheered. (Nobody left.) Then rain."
    assert sentences(text) == [
        "“We will win,” he said.",
        "“It is over.”",
        "The crowd cheered.",
        "(Nobody left.)",
        "Then rain.",
    ]


def test_straight_and_single_quotes() -> None:
    text = 'She said "it is done." He agreed. ‘I know.’ They left.'
    assert sentences(text) == ['She said "it is done."', "He agreed.", "‘I know.’", "They left."]


def test_acronym_at_end_of_sentence_before_a_common_opener() -> None:
    text = "The talks were held in the U.S. The next round is in Paris."
    assert sentences(text) == ["The talks were held in the U.S.", "The next round is in Paris."]


def test_ellipsis_before_a_capital_ends_a_sentence() -> None:
    assert sentences("We waited… Nothing happened. Then... Silence.") == [
        "We waited…",
        "Nothing happened.",
        "Then...",
        "Silence.",
    ]


def test_abbreviations_that_can_end_a_sentence() -> None:
    text = "He loves modern art. The show opens. They met Martin Luther King Jr. He spoke."
    assert sentences(text) == [
        "He loves modern art.",
        "The show opens.",
        "They met Martin Luther King Jr.",
        "He spoke.",
    ]
    assert sentences("See fig. 3 and art. 5 of the treaty.") == [
        "See fig. 3 and art. 5 of the treaty."
    ]


def test_numbers_and_degrees_can_end_a_sentence() -> None:
    text = (
        "It was worth $6.4m. Mayweather paid. Shares fell 3.4%. China's index rose to 30.26. Bye."
    )
    assert sentences(text) == [
        "It was worth $6.4m.",
        "Mayweather paid.",
        "Shares fell 3.4%.",
        "China's index rose to 30.26.",
        "Bye.",
    ]
    assert sentences("She has a PhD. Prassana has two.") == ["She has a PhD.", "Prassana has two."]


def test_month_abbreviation_before_a_word_ends_a_sentence() -> None:
    assert sentences("The vote is on Jan. 12. It was moved from Dec. Nobody objected.") == [
        "The vote is on Jan. 12.",
        "It was moved from Dec.",
        "Nobody objected.",
    ]


def test_empty_and_blank_text() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\t\n ") == []
    assert split_sentences("x") == [(0, 1)]


def test_offsets_survive_non_ascii_and_non_breaking_spaces() -> None:
    text = "Café owners met in Zürich.\u00a0Prices rose 5%. Élodie left."
    assert sentences(text) == ["Café owners met in Zürich.", "Prices rose 5%.", "Élodie left."]


def test_tokenize_words_keeps_accented_letters() -> None:
    assert tokenize_words("Zürich café_bar Ελλάδα") == ["zürich", "café", "bar", "ελλάδα"]


def test_tokenize_words() -> None:
    assert tokenize_words("The U.S. isn't ready, it’s 3.5% — OK?") == [
        "the",
        "u",
        "s",
        "isn't",
        "ready",
        "it’s",
        "3",
        "5",
        "ok",
    ]


def test_list_numbers_and_stray_full_stops() -> None:
    text = "Here are the rules. 1. Never run. 2. Always walk. . It was 10. Then rain.\n. Next"
    assert sentences(text) == [
        "Here are the rules.",
        "1. Never run.",
        "2. Always walk. .",
        "It was 10.",
        "Then rain.",
        ".",
        "Next",
    ]


def test_sentences_glued_without_a_full_stop_are_split() -> None:
    # Scraped pages glue photo captions to the next sentence with no full stop between.
    text = (
        "Watkins does brilliantly to touch down in the corner It was then Harrison's turn. "
        "People who never divorced retire richer than a colleague The cost of divorce lasts."
    )
    assert sentences(text) == [
        "Watkins does brilliantly to touch down in the corner",
        "It was then Harrison's turn.",
        "People who never divorced retire richer than a colleague",
        "The cost of divorce lasts.",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Officials at The Hague said it was over.",
        "He read The Times every morning.",
        "The Metropolitan Police said he was safe.",
        "She said: 'It was over.' He left.",
        "Vitamin A is good for you.",
    ],
)
def test_capitalised_words_inside_sentences_are_not_glue(text: str) -> None:
    spans = split_sentences(text)
    assert len(spans) == (2 if "He left" in text else 1)
