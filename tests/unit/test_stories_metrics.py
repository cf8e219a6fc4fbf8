"""Partition agreement measures on tiny partitions computed by hand."""

from __future__ import annotations

import pytest

from services.stories.metrics import score_partition


def test_one_story_split_and_one_merged() -> None:
    # Gold: {1, 2} {3, 4}. Predicted: {1, 2, 3} {4}.
    scores = score_partition(["a", "a", "b", "b"], ["x", "x", "x", "y"])
    # BCubed precision: items 1, 2: 2/3 of their story is theirs; 3: 1/3; 4: 1.
    # (2/3 + 2/3 + 1/3 + 1) / 4 = 2/3.
    assert scores.bcubed_precision == pytest.approx(2 / 3)
    # BCubed recall: items 1, 2: all of gold a is with them; 3, 4: half of gold b.
    # (1 + 1 + 1/2 + 1/2) / 4 = 3/4.
    assert scores.bcubed_recall == pytest.approx(3 / 4)
    # F1 = 2 (2/3)(3/4) / (2/3 + 3/4) = 1 / (17/12) = 12/17.
    assert scores.bcubed_f1 == pytest.approx(12 / 17)
    # Pairs placed together: (1,2) (1,3) (2,3); belonging together: (1,2) (3,4); both: (1,2).
    assert scores.pairwise_precision == pytest.approx(1 / 3)
    assert scores.pairwise_recall == pytest.approx(1 / 2)
    assert scores.pairwise_f1 == pytest.approx(2 / 5)
    # ARI: 1 pair agrees; chance expects 3 x 2 / 6 = 1; the ceiling (3 + 2) / 2 = 2.5:
    # (1 - 1) / (2.5 - 1) = 0.
    assert scores.ari == pytest.approx(0.0)
    # NMI: H(gold) = ln 2 = 0.6931, H(pred) = -(3/4 ln 3/4 + 1/4 ln 1/4) = 0.5623;
    # I = 1/2 ln(4/3) + 1/4 ln(2/3) + 1/4 ln 2 = 0.1438 - 0.1014 + 0.1733 = 0.2158;
    # NMI = 0.2158 / ((0.6931 + 0.5623) / 2) = 0.3438.
    assert scores.nmi == pytest.approx(0.3438, abs=1e-3)
    assert (scores.stories_gold, scores.stories_predicted) == (2, 2)


def test_perfect_and_trivial_partitions() -> None:
    perfect = score_partition(["a", "a", "b"], ["p", "p", "q"])
    assert perfect.bcubed_f1 == perfect.pairwise_f1 == perfect.ari == pytest.approx(1.0)
    assert perfect.nmi == pytest.approx(1.0)
    # Every article alone, gold one story of four: precision 1 everywhere, recall 1/4;
    # no pair placed together, so pairwise precision is 1.0 by definition and recall 0.
    alone = score_partition(["a"] * 4, ["p", "q", "r", "s"])
    assert alone.bcubed_precision == pytest.approx(1.0)
    assert alone.bcubed_recall == pytest.approx(1 / 4)
    assert alone.pairwise_precision == 1.0
    assert alone.pairwise_recall == 0.0
    assert alone.pairwise_f1 == 0.0


def test_ari_of_a_swap() -> None:
    # Gold {1,2,3} {4,5,6}; predicted {1,2,4} {3,5,6}: pairs together in both: (1,2) (5,6).
    # Predicted and gold pairs: 3 + 3 = 6 each; chance expects 6 x 6 / 15 = 2.4;
    # ARI = (2 - 2.4) / (6 - 2.4) = -1/9.
    scores = score_partition(list("aaabbb"), list("xxyxyy"))
    assert scores.ari == pytest.approx(-1 / 9)


def test_labellings_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="gold labels"):
        score_partition(["a"], [])
