"""Reading the live stories: the cards the stories stage keeps in Redis."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aredis
from pydantic import ValidationError

from shared.story_schemas import StoryCard
from shared.streams import Keys


async def live_stories(client: aredis.Redis, keys: Keys, *, limit: int = 20) -> list[StoryCard]:
    """The live stories, the most recently active first (at most ``limit``; 0: all)."""
    live = keys.story_state("live")
    reply: Any = await client.zrevrange(live, 0, limit - 1 if limit > 0 else -1)
    ids: list[bytes] = list(reply)
    if not ids:
        return []
    cards: list[StoryCard] = []
    for raw in await client.hmget(keys.story_state("cards"), ids):
        if raw is None:
            continue  # evicted between the two reads
        try:
            cards.append(StoryCard.model_validate_json(raw))
        except ValidationError:
            continue  # not written by the stories stage: nothing to show
    return cards


def describe_story(card: StoryCard) -> str:
    """One line of a story for people: size, last seen, where, label, who."""
    where = card.focus.name if card.focus is not None else "-"
    who = ", ".join(entity.name for entity in card.entities[:3]) or "-"
    return (
        f"{card.id}  {card.articles:>4}  {card.last_seen:%Y-%m-%d %H:%M}  {where[:18]:18}  "
        f"{card.label[:70]}  [{who}]"
    )
