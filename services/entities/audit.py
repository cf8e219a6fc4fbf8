"""What each rule of the entity stage does to news without gold labels: an audit by reading.

For every rule of :data:`~services.entities.extract.RULES`, the stage's final mentions
with all rules are compared with its mentions when that rule alone is left out: how many
mentions the rule changes (added, dropped, relabelled or re-cut), in how many articles,
and a sample of the changes in context to read. A rule that fires only on one corpus's
layouts, or whose sampled changes are wrong on modern news, is one to narrow or drop.
The model runs once per file; only the rules run again.

Run ``python -m services.entities.audit FILE.jsonl [...] [--gazetteer] [--samples N]``
(JSONL records with a ``text`` field, such as the summary and geo evaluation sets).
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.entities.extract import (
    RULES,
    apply_rules,
    load_nlp,
    model_entities,
    prepare_text,
)
from shared.jsonl import read_jsonl

#: A mention: its offsets, and its label ("" where the run has none there).
Mentions = dict[tuple[int, int], str]


@dataclass(frozen=True, slots=True)
class Change:
    """One mention that a rule changes: its article, surface, label without and with it."""

    article: int
    surface: str
    without: str
    with_rule: str
    context: str


def _mentions(
    text: str,
    view: str,
    ents: list[tuple[int, int, str]],
    is_place: Callable[[str], bool] | None,
    skip: frozenset[str],
) -> Mentions:
    extraction = apply_rules(text, view, ents, is_place, skip=skip)
    return {(m.start, m.end): e.label for e in extraction.entities for m in e.mentions}


def audit_rules(
    texts: Sequence[str], *, is_place: Callable[[str], bool] | None = None
) -> dict[str, list[Change]]:
    """Every rule's changes to the final mentions of ``texts`` (see the module's head)."""
    nlp = load_nlp()
    views = [prepare_text(text) for text in texts]
    ents = model_entities(nlp, views)
    rows = list(zip(texts, views, ents, strict=True))
    everything = [_mentions(t, v, e, is_place, frozenset()) for t, v, e in rows]
    out: dict[str, list[Change]] = {}
    for name, _ in RULES:
        changes: list[Change] = []
        for index, (text, view, found) in enumerate(rows):
            without = _mentions(text, view, found, is_place, frozenset({name}))
            with_rule = everything[index]
            for start, end in sorted(set(without) | set(with_rule)):
                before, after = without.get((start, end), ""), with_rule.get((start, end), "")
                if before != after:
                    context = text[max(0, start - 50) : end + 30].replace("\n", " | ")
                    changes.append(Change(index, text[start:end], before, after, context))
        out[name] = changes
    return out


def describe(changes: dict[str, list[Change]], samples: int, seed: int = 0) -> str:
    """The audit as text: per rule, its counts and ``samples`` changes picked at random."""
    lines = []
    for name, found in changes.items():
        articles = len({c.article for c in found})
        lines.append(f"{name}: {len(found)} mentions changed in {articles} articles")
        # A reproducible sample to read, not a secret.
        picked = random.Random(seed).sample(found, min(samples, len(found)))  # noqa: S311
        for c in sorted(picked, key=lambda c: (c.article, c.context)):
            without, with_rule = c.without or "-", c.with_rule or "-"
            lines.append(f"  [{c.article}] {c.surface!r} {without}->{with_rule}  ...{c.context}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the audit of each JSONL file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", nargs="+", help="JSONL files of records with a text field")
    parser.add_argument("--samples", type=int, default=10, help="changes shown per rule")
    parser.add_argument("--limit", type=int, default=None, help="read the first N records")
    parser.add_argument(
        "--gazetteer", action="store_true", help="give the rules the geocoder's gazetteer"
    )
    args = parser.parse_args(argv)
    is_place: Callable[[str], bool] | None = None
    if args.gazetteer:
        # Imported here: the audit without a gazetteer needs no index on disk.
        from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer

        is_place = Gazetteer.open(ensure_gazetteer()).knows

    for path in args.data:
        texts = [str(record["text"]) for record in read_jsonl(path, args.limit)]
        print(f"== {path} ({len(texts)} articles)")
        print(describe(audit_rules(texts, is_place=is_place), args.samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
