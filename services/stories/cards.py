"""What readers see of a story: its card (label, size, first and last seen, who, where).

A card follows its story's articles, one at a time (:func:`card_add`), bounded whatever
the story's size. Pure functions of the articles, so the cards too are rebuilt exactly by
replaying the stage's log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from services.stories.features import entity_key
from shared.schemas import StoryRef
from shared.story_schemas import StoryCard, StoryEntity, StoryFocus, StoryInput

#: Entities a card keeps (by weight) and shows.
CARD_ENTITIES = 30
SHOWN_ENTITIES = 5
#: Characters of a label made from a first sentence, for an article without a headline.
LABEL_CHARS = 160
#: The label's score to beat when a story starts: the article that matched the story
#: better than a bare join (threshold 0.5, ``Tuning.join_threshold``) gives it its label.
FIRST_LABEL_SCORE = 0.5


@dataclass(slots=True)
class Card:
    """A story's card, as the stage keeps it."""

    id: str
    label: str
    label_titled: bool
    label_score: float
    articles: int
    first_seen: str
    last_seen: str
    #: Entity key -> [display name, label, summed salience].
    entities: dict[str, list[Any]] = field(default_factory=dict)
    #: GeoNames id (as a string) -> [name, latitude, longitude, country, admin1, articles].
    foci: dict[str, list[Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` reads it back."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Card:
        """The card :meth:`to_json` wrote."""
        return cls(**data)


def _seen(article: StoryInput) -> datetime:
    meta = article.meta
    return meta.published_at or meta.ingested_at


def _label(article: StoryInput) -> tuple[str, bool]:
    title = (article.meta.title or "").strip()
    if title:
        return title, True
    first = article.text.strip().split("\n", 1)[0]
    return (first[: LABEL_CHARS - 1] + "…" if len(first) > LABEL_CHARS else first), False


def new_card(story_id: str, article: StoryInput) -> Card:
    """The card of a story its first article starts."""
    label, titled = _label(article)
    seen = _seen(article).isoformat()
    card = Card(story_id, label, titled, FIRST_LABEL_SCORE, 0, seen, seen)
    card_add(card, article, None)
    return card


def card_add(card: Card, article: StoryInput, ref: StoryRef | None) -> None:
    """Take an article into its story's card (``ref``: how it joined; None for the first)."""
    card.articles += 1
    seen = _seen(article)
    if seen < datetime.fromisoformat(card.first_seen):
        card.first_seen = seen.isoformat()
    if seen > datetime.fromisoformat(card.last_seen):
        card.last_seen = seen.isoformat()
    if ref is not None and ref.score > card.label_score:
        label, titled = _label(article)
        # A headline is a better label than a first sentence, whatever the scores.
        if titled or not card.label_titled:
            card.label, card.label_titled, card.label_score = label, titled, ref.score
    for entity in article.entities:
        key = entity_key(entity)
        if key is None or key.startswith("loc:"):
            continue  # places are shown as the focus
        kept = card.entities.get(key)
        if kept is None:
            card.entities[key] = [entity.name, entity.label, entity.salience]
        else:
            kept[2] += entity.salience
    if len(card.entities) > CARD_ENTITIES:
        ranked = sorted(card.entities.items(), key=lambda kv: (-kv[1][2], kv[0]))
        card.entities = dict(ranked[:CARD_ENTITIES])
    for place in article.places:
        if place.focus:
            kept = card.foci.setdefault(
                str(place.geonameid),
                [place.name, place.latitude, place.longitude, place.country_code, place.admin1, 0],
            )
            kept[5] += 1


def card_view(card: Card) -> StoryCard:
    """The card as readers get it."""
    total = sum(weight for _, _, weight in card.entities.values()) or 1.0
    ranked = sorted(card.entities.values(), key=lambda e: (-e[2], e[0]))[:SHOWN_ENTITIES]
    focus = None
    if card.foci:
        geonameid, best = max(card.foci.items(), key=lambda kv: (kv[1][5], kv[0]))
        name, lat, lon, country, admin1, count = best
        focus = StoryFocus(
            name=name,
            geonameid=int(geonameid),
            latitude=lat,
            longitude=lon,
            country_code=country,
            admin1=admin1,
            articles=count,
        )
    return StoryCard(
        id=card.id,
        label=card.label,
        articles=card.articles,
        first_seen=datetime.fromisoformat(card.first_seen),
        last_seen=datetime.fromisoformat(card.last_seen),
        entities=[
            StoryEntity(name=n, label=lab, weight=round(w / total, 4)) for n, lab, w in ranked
        ],
        focus=focus,
    )
