"""``newsflow eval stories`` on a small stream of our own: the whole path (entities,
places, stories, metrics), the fields the issue asks for, and ``--half``."""

from __future__ import annotations

import json
from pathlib import Path

from services.stories.evaluate import evaluate_stories

# Two events, written for this test: a flood in one town over two days, and a strike at
# a port in another country. Each article names who and where, as news does.
STREAM = [
    (
        "flood-1",
        "flood",
        "2026-03-02T08:00:00Z",
        "River Alder floods the town of Riverton",
        "The River Alder burst its banks in Riverton on Monday, flooding hundreds of homes. "
        "Mayor Ana Ruiz said emergency shelters had opened at the town hall and at two "
        "schools, and rescue crews in boats carried residents from the flooded streets.",
    ),
    (
        "strike-1",
        "strike",
        "2026-03-02T10:00:00Z",
        "Dock workers walk out at Port Avel",
        "Dock workers at Port Avel began an indefinite strike on Monday over pay, halting "
        "container traffic. Union leader Henri Vasseur said the walkout would last until the "
        "port authority raised wages; ships were queuing outside the harbour.",
    ),
    (
        "flood-2",
        "flood",
        "2026-03-03T09:00:00Z",
        "Riverton flood: residents return as River Alder recedes",
        "Residents of Riverton began returning to flooded homes on Tuesday as the River "
        "Alder receded. Mayor Ana Ruiz said the town hall shelter would stay open and that "
        "rescue crews had checked every flooded street overnight.",
    ),
    (
        "strike-2",
        "strike",
        "2026-03-03T11:00:00Z",
        "Port Avel strike enters second day",
        "The dock workers' strike at Port Avel entered its second day on Tuesday with "
        "container traffic still halted. Union leader Henri Vasseur said talks with the port "
        "authority over wages had broken down, and more ships queued outside the harbour.",
    ),
]


def _write(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for article_id, story, published, title, text in STREAM:
            record = {
                "id": article_id,
                "story": story,
                "published_at": published,
                "title": title,
                "text": text,
            }
            out.write(json.dumps(record) + "\n")
    return path


def test_the_stories_evaluation_reports_every_figure(tmp_path: Path) -> None:
    result = evaluate_stories(str(_write(tmp_path / "stream.jsonl")))
    for key in (
        "bcubed_precision",
        "bcubed_recall",
        "bcubed_f1",
        "pairwise_precision",
        "pairwise_recall",
        "pairwise_f1",
        "ari",
    ):
        value = result[key]
        assert isinstance(value, float) and 0.0 <= value <= 1.0, key
    speed = result["articles_per_s"]
    assert isinstance(speed, float) and speed > 0
    assert result["articles"] == 4 and result["stories_gold"] == 2
    # The two events are told apart: no predicted story mixes a flood and a strike.
    assert result["bcubed_precision"] == 1.0
    stories = result["stories_predicted"]
    assert isinstance(stories, int) and 2 <= stories <= 4


def test_a_half_is_scored_as_a_stream_of_its_own(tmp_path: Path) -> None:
    path = str(_write(tmp_path / "stream.jsonl"))
    first = evaluate_stories(path, half=1)
    second = evaluate_stories(path, half=2)
    # Half 1 is the first two articles (one of each event), half 2 the other two.
    assert first["articles"] == second["articles"] == 2
    assert first["stories_gold"] == second["stories_gold"] == 2
    assert first["stories_predicted"] == second["stories_predicted"] == 2
