"""Reading push inputs: text files, JSON, JSONL and folders."""

from __future__ import annotations

import io
import json
from pathlib import Path

from newsflow.client import progress_bar, read_inputs, validate_inputs
from shared.settings import load_settings


def test_files_folders_and_jsonl_become_articles(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Rain fell on Lyon.\nMore rain.")
    (tmp_path / "b.jsonl").write_text(
        json.dumps({"text": "One", "id": "j1"}) + "\n\n" + json.dumps({"text": "Two", "id": "j2"})
    )
    (tmp_path / "c.json").write_text(json.dumps([{"text": "Three", "id": "k1"}]))
    (tmp_path / "ignored.csv").write_text("x,y")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.jsonl").write_text('{"text": ""}\n{broken\n')

    articles, rejected = validate_inputs(read_inputs([str(tmp_path)]), load_settings())
    assert sorted(a.meta.id for a in articles if not a.meta.id.startswith("txt-")) == [
        "j1",
        "j2",
        "k1",
    ]
    text_article = next(a for a in articles if a.meta.id.startswith("txt-"))
    assert text_article.text == "Rain fell on Lyon.\nMore rain."
    assert text_article.meta.source == "file"
    assert len(rejected) == 2
    assert rejected[0].origin.endswith("d.jsonl:1")
    assert "text has no visible characters" in rejected[0].reason
    assert rejected[1].origin.endswith("d.jsonl:2")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_terminals_only() -> None:
    assert progress_bar("x", stream=io.StringIO()) is None
    screen = _Terminal()
    show = progress_bar("pushing", stream=screen)
    assert show is not None
    show(50, 200)
    show(200, 200)
    assert "50/200" in screen.getvalue() and screen.getvalue().endswith("200/200\n")
