"""The news texts a benchmark runs on, and the accepted articles made of them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from services.entities.conll import parse_conll
from services.ingest.admit import check_limits, to_article
from shared.schemas import Article, ArticleIn
from shared.settings import Settings

REPO = Path(__file__).resolve().parent.parent.parent
#: The evaluation sets beside the repository (the handbook's data), read at run time.
EVAL_DIR = REPO.parent / "shared" / "data" / "eval"
#: The repository's own sample articles, when the evaluation sets are not there.
SAMPLES_DIR = REPO / "data" / "samples"


@dataclass(frozen=True)
class BenchText:
    """One news text to benchmark on, with its headline when the data set has one."""

    text: str
    title: str | None = None


def _valid(text: object, title: object) -> BenchText | None:
    if not isinstance(text, str) or not text.strip():
        return None
    headline = title if isinstance(title, str) and title.strip() else None
    try:
        # The same rules ingest applies (no HTML pages, no NUL...): a text the pipeline
        # would reject measures nothing.
        ArticleIn(text=text, title=headline)
    except ValidationError:
        return None
    return BenchText(text, headline)


def texts_of_file(path: Path) -> list[BenchText]:
    """The texts in one file: JSON lines or JSON with a ``text`` (and ``title``) field,
    a CoNLL-2003 column file (one text per document), or a plain text file."""
    content = path.read_text(encoding="utf-8", errors="replace")
    found: list[BenchText | None] = []
    if path.suffix == ".jsonl":
        for line in content.splitlines():
            with contextlib.suppress(ValueError):
                doc = json.loads(line) if line.strip() else None
                if isinstance(doc, dict):
                    found.append(_valid(doc.get("text"), doc.get("title")))
    elif path.suffix == ".json":
        with contextlib.suppress(ValueError):
            document = json.loads(content)
            for doc in document if isinstance(document, list) else [document]:
                if isinstance(doc, dict):
                    found.append(_valid(doc.get("text"), doc.get("title")))
    elif content.startswith("-DOCSTART-"):
        found.extend(_valid(doc.text, None) for doc in parse_conll(content.splitlines()))
    else:
        found.append(_valid(content, None))
    return [text for text in found if text is not None]


def interleave(groups: Sequence[Sequence[BenchText]]) -> list[BenchText]:
    """Round-robin over the groups, so that even a few texts mix every source."""
    out: list[BenchText] = []
    for row in range(max((len(g) for g in groups), default=0)):
        out.extend(group[row] for group in groups if row < len(group))
    return out


def load_texts(data: Path | None = None) -> tuple[list[BenchText], Path]:
    """The texts to benchmark on, and the file or folder they came from.

    ``data`` is a file or a folder (searched recursively for ``.jsonl``, ``.json`` and
    ``.txt``); without it, the evaluation sets beside the repository when present, else
    the repository's samples. Texts are read at run time, never copied.
    """
    candidates = [data] if data is not None else [EVAL_DIR, SAMPLES_DIR]
    for source in candidates:
        if source.is_dir():
            files = [
                p
                for p in sorted(source.rglob("*"))
                if p.is_file() and p.suffix in (".jsonl", ".json", ".txt")
            ]
        elif source.is_file():
            files = [source]
        else:
            continue
        mixed = interleave([texts_of_file(path) for path in files])
        if mixed:
            return mixed, source
    raise FileNotFoundError(f"no news texts in {', '.join(str(c) for c in candidates)}")


def make_articles(
    texts: Sequence[BenchText], count: int, id_prefix: str, settings: Settings
) -> list[Article]:
    """``count`` accepted articles cycling through ``texts``, with ids of this run (so a
    repeated text is not a duplicate), ingested now."""
    return [
        make_article(texts[n % len(texts)], f"{id_prefix}-{n:06d}", settings) for n in range(count)
    ]


def make_article(text: BenchText, article_id: str, settings: Settings) -> Article:
    """One accepted article, ingested now, as the admission path builds it."""
    incoming = ArticleIn(id=article_id, text=text.text, title=text.title, source="bench")
    return to_article(check_limits(incoming, settings))
