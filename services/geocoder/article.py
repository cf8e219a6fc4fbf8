"""The geocoder's work on one article: its places, and entities that agree with them."""

from __future__ import annotations

from dataclasses import dataclass

from services.geocoder.agree import ArticleShape, agree_entities, title_end
from services.geocoder.gazetteer import Gazetteer
from services.geocoder.resolve import resolve_article
from shared.schemas import EntitiesResult, Entity, Place


@dataclass(frozen=True, slots=True)
class Geocoded:
    """An article's resolved places, and its entity list when its labels had to change to
    agree with them (None: the entity stage's list stands)."""

    places: list[Place]
    entities: list[Entity] | None


def geocode(result: EntitiesResult, gazetteer: Gazetteer) -> Geocoded:
    """Resolve an entity result's place candidates and make its entities agree."""
    resolution = resolve_article(result.place_candidates(), gazetteer)
    shape = ArticleShape(
        length=result.meta.text_chars,
        title_end=title_end(result.sentence_texts()),
    )
    return Geocoded(resolution.places, agree_entities(result.entities, resolution.verdicts, shape))
