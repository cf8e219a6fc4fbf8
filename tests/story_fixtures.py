"""Hand-written articles of three stories (a fire in Lyon, an earthquake off Hokkaido, a
budget vote in Ottawa), with their entities and places, for the stories tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.schemas import ArticleMeta, EnrichedEvent, Entity, Mention, Place, utc_now
from shared.story_schemas import StoryInput

DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

FIRE = (
    "A fire broke out in a textile warehouse in the Gerland district of Lyon on Monday "
    "night. Firefighters from three stations fought the blaze for six hours before it was "
    "under control. The warehouse owner, Textiles Morel, said no one was inside. Police "
    "opened an inquiry into the cause of the fire, and the mayor of Lyon visited the site."
)
QUAKE = (
    "A strong earthquake of magnitude 6.8 struck off the coast of Hokkaido early on Tuesday, "
    "shaking buildings in Sapporo and cutting power to 40,000 homes. The Japan "
    "Meteorological Agency issued a tsunami advisory that it lifted two hours later. "
    "Railway operator JR Hokkaido suspended trains while engineers inspected the tracks."
)
VOTE = (
    "Lawmakers in Ottawa approved the federal budget on Wednesday after a late-night debate. "
    "Finance Minister Chrystia Freeland said the plan would cut the deficit within three "
    "years. Opposition leader Pierre Poilievre called the vote a betrayal of taxpayers and "
    "promised to repeal the new digital services tax if his party wins the next election."
)


def place(where: tuple[str, int, float, float, str, str], *, focus: bool = True) -> Place:
    """A resolved town: (name, GeoNames id, latitude, longitude, country, admin1)."""
    name, geonameid, lat, lon, country, admin1 = where
    return Place(
        name=name,
        geonameid=geonameid,
        latitude=lat,
        longitude=lon,
        country_code=country,
        admin1=admin1,
        feature_class="P",
        feature_code="PPL",
        population=40_000,
        confidence=0.9,
        focus=focus,
        mentions=[Mention(text=name, start=0, end=len(name))],
    )


def _entity(name: str, label: str, salience: float) -> Entity:
    return Entity(
        name=name,
        label=label,
        mentions=[Mention(text=name, start=0, end=len(name))],
        count=1,
        salience=salience,
    )


LYON = place(("Lyon", 2996944, 45.748, 4.847, "FR", "84"))
SAPPORO = place(("Sapporo", 2128295, 43.064, 141.347, "JP", "12"))
OTTAWA = place(("Ottawa", 6094817, 45.411, -75.698, "CA", "08"))
STORIES = {
    "fire": (FIRE, [_entity("Textiles Morel", "ORG", 0.8)], LYON),
    "quake": (QUAKE, [_entity("JR Hokkaido", "ORG", 0.6)], SAPPORO),
    "vote": (VOTE, [_entity("Chrystia Freeland", "PERSON", 0.9)], OTTAWA),
}


def article(article_id: str, story: str, *, days: float = 0.0, edit: str = "") -> StoryInput:
    """An article of one of three stories, its text a little rewritten by ``edit``."""
    text, entities, place = STORIES[story]
    when = DAY + timedelta(days=days)
    meta = ArticleMeta(
        id=article_id,
        title=f"{story} report {article_id}",
        published_at=when,
        ingested_at=when,
        text_chars=len(text),
    )
    return StoryInput(meta=meta, text=f"{edit} {text}".strip(), entities=entities, places=[place])


STREAM = [
    article("a1", "fire"),
    article("a2", "quake"),
    article("a3", "fire", days=0.2, edit="Updated: investigators are on site."),
    article("a4", "vote", days=0.5),
    article("a5", "quake", days=0.6, edit="Aftershocks followed overnight."),
    article("a6", "fire", days=1.0, edit="By Staff Reporter."),
    article("a7", "vote", days=1.2, edit="Reaction from the provinces."),
]


def draft(item: StoryInput) -> EnrichedEvent:
    """The draft the merge sends the stories stage for an article."""
    return EnrichedEvent(
        id=item.meta.id,
        article=item.meta,
        entities=item.entities,
        places=item.places,
        text=item.text,
        stages={},
        partial=True,
        missing_stages=["stories"],
        enriched_at=utc_now(),
    )
