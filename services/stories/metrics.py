"""Partition agreement: BCubed, pairwise, adjusted Rand index and NMI.

``gold`` and ``predicted`` are two labellings of the same items, in the same order. The
definitions are those of ``/work/shared/data/eval/stories/README.md``: BCubed
item-averaged; pairwise over unordered pairs (precision 1.0 when no pair is placed
together); ARI as Hubert and Arabie (1985), NMI with the arithmetic-mean normaliser,
both as scikit-learn computes them (``adjusted_rand_score``,
``normalized_mutual_info_score``), written out here to need no scikit-learn.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PartitionScores:
    """Agreement of a predicted partition with the gold one."""

    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    ari: float
    nmi: float
    stories_predicted: int
    stories_gold: int


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score_partition(gold: Sequence[Hashable], predicted: Sequence[Hashable]) -> PartitionScores:
    """Every agreement measure of ``predicted`` against ``gold``."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predicted")
    n = len(gold)
    joint = Counter(zip(gold, predicted, strict=True))
    gold_sizes = Counter(gold)
    pred_sizes = Counter(predicted)

    # BCubed: an item in cell (g, p) of size c sees c items sharing both labels, of its
    # predicted story's |p| and its gold story's |g|; each cell counts c times.
    precision = sum(c * c / pred_sizes[p] for (_, p), c in joint.items()) / n if n else 0.0
    recall = sum(c * c / gold_sizes[g] for (g, _), c in joint.items()) / n if n else 0.0

    together = sum(_pairs(c) for c in joint.values())
    predicted_pairs = sum(_pairs(c) for c in pred_sizes.values())
    gold_pairs = sum(_pairs(c) for c in gold_sizes.values())
    pair_precision = together / predicted_pairs if predicted_pairs else 1.0
    pair_recall = together / gold_pairs if gold_pairs else 0.0

    total_pairs = _pairs(n)
    expected = predicted_pairs * gold_pairs / total_pairs if total_pairs else 0.0
    ceiling = (predicted_pairs + gold_pairs) / 2
    # Both partitions trivial (all one story, or all singletons): sklearn says 1.0.
    ari = (together - expected) / (ceiling - expected) if ceiling != expected else 1.0

    return PartitionScores(
        bcubed_precision=precision,
        bcubed_recall=recall,
        bcubed_f1=_f1(precision, recall),
        pairwise_precision=pair_precision,
        pairwise_recall=pair_recall,
        pairwise_f1=_f1(pair_precision, pair_recall),
        ari=ari,
        nmi=_nmi(joint, gold_sizes, pred_sizes, n),
        stories_predicted=len(pred_sizes),
        stories_gold=len(gold_sizes),
    )


def _entropy(sizes: Counter[Hashable], n: int) -> float:
    return -sum(c / n * math.log(c / n) for c in sizes.values())


def _nmi(
    joint: Counter[tuple[Hashable, Hashable]],
    gold_sizes: Counter[Hashable],
    pred_sizes: Counter[Hashable],
    n: int,
) -> float:
    if n == 0:
        return 0.0
    h_gold, h_pred = _entropy(gold_sizes, n), _entropy(pred_sizes, n)
    if h_gold == 0.0 and h_pred == 0.0:
        return 1.0  # one story on both sides: sklearn's convention
    mutual = sum(
        c / n * math.log(c * n / (gold_sizes[g] * pred_sizes[p])) for (g, p), c in joint.items()
    )
    denominator = (h_gold + h_pred) / 2
    return max(0.0, mutual / denominator) if denominator else 0.0
