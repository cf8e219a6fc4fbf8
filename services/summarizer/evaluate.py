"""ROUGE of the extractive summariser, and of the Lead-3 baseline, on a JSONL file.

Each line of the file is ``{"id", "text", "reference"}``. Scores are mean ROUGE F-measures
from the ``rouge-score`` package with stemming, as published work on news reports them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from rouge_score import rouge_scorer

from services.summarizer.rank import summarize
from shared.jsonl import half_of, read_jsonl
from shared.text import split_sentences

__all__ = ["evaluate_summaries"]

_METRICS = ("rouge1", "rouge2", "rougeL")


def evaluate_summaries(
    path: str, *, max_sentences: int = 3, limit: int | None = None, half: int | None = None
) -> dict[str, object]:
    """Score :func:`~services.summarizer.rank.summarize` on the articles in ``path``.

    Returns mean ``rouge1``, ``rouge2`` and ``rougeL`` F-measures, the number of
    ``articles``, ``articles_per_s`` (sentence splitting and ranking only, not ROUGE), and
    ``lead3``: the same ROUGE scores for the first ``max_sentences`` sentences, with
    ``margin_rouge1`` (the summariser's ROUGE-1 less Lead-3's). ``half`` scores one half
    of the file (:func:`half_of`, taken before ``limit``).
    """
    records = list(half_of(list(read_jsonl(path)), half))[:limit]
    texts: list[str] = [record["text"] for record in records]
    # Ranking is timed on its own, before scoring, so that ROUGE's cost does not count.
    started = time.perf_counter()
    summaries = [
        summarize(text, title=record.get("title"), max_sentences=max_sentences)
        for text, record in zip(texts, records, strict=True)
    ]
    ranking_s = time.perf_counter() - started

    scorer = rouge_scorer.RougeScorer(list(_METRICS), use_stemmer=True)
    totals = dict.fromkeys(_METRICS, 0.0)
    lead_totals = dict.fromkeys(_METRICS, 0.0)
    for record, text, summary in zip(records, texts, summaries, strict=True):
        reference: str = record["reference"]
        lead = "\n".join(text[a:b] for a, b in split_sentences(text)[:max_sentences])
        candidate = "\n".join(s.text for s in summary.sentences)
        for name, score in scorer.score(reference, candidate).items():
            totals[name] += score.fmeasure
        for name, score in scorer.score(reference, lead).items():
            lead_totals[name] += score.fmeasure
    articles = len(records)
    divisor = max(articles, 1)
    return {
        **{name: round(totals[name] / divisor, 4) for name in _METRICS},
        "half": half,
        "articles": articles,
        "articles_per_s": round(articles / ranking_s, 1) if ranking_s > 0 else 0.0,
        "lead3": {name: round(lead_totals[name] / divisor, 4) for name in _METRICS},
        "margin_rouge1": round((totals["rouge1"] - lead_totals["rouge1"]) / divisor, 4),
    }


def _main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="ROUGE of the summariser and of Lead-3.")
    parser.add_argument("data", nargs="+", help="JSONL files of {id, text, reference}")
    parser.add_argument("--max-sentences", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--half", type=int, choices=(1, 2), default=None)
    args = parser.parse_args(argv)
    for data in args.data:
        scores = evaluate_summaries(
            data, max_sentences=args.max_sentences, limit=args.limit, half=args.half
        )
        print(json.dumps({"data": data, **scores}))


if __name__ == "__main__":
    _main(sys.argv[1:])
