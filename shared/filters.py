"""Filters on enriched events, with one meaning wherever they are used (``newsflow tail``,
the Python client, the HTTP stream).

Within one kind the values are alternatives (any country of the list); across kinds they
must all hold (a country AND an entity). Names match case-insensitively.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def _folded(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().casefold() for v in values if v.strip())


@dataclass(frozen=True)
class EventFilter:
    """Which enriched events a subscriber wants; empty kinds do not filter."""

    countries: frozenset[str] = field(default_factory=frozenset)
    places: frozenset[str] = field(default_factory=frozenset)
    entities: frozenset[str] = field(default_factory=frozenset)
    labels: frozenset[str] = field(default_factory=frozenset)
    sources: frozenset[str] = field(default_factory=frozenset)
    #: Story ids (``st-…``), from the event's ``story`` member.
    stories: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        *,
        countries: Iterable[str] = (),
        places: Iterable[str] = (),
        entities: Iterable[str] = (),
        labels: Iterable[str] = (),
        sources: Iterable[str] = (),
        stories: Iterable[str] = (),
    ) -> EventFilter:
        """A filter from plain lists (case and surrounding space do not matter)."""
        return cls(
            _folded(countries),
            _folded(places),
            _folded(entities),
            _folded(labels),
            _folded(sources),
            _folded(stories),
        )

    def is_empty(self) -> bool:
        """True when the filter lets every event through."""
        return not (
            self.countries
            or self.places
            or self.entities
            or self.labels
            or self.sources
            or self.stories
        )

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether an enriched event (as decoded JSON) passes the filter."""
        places = event.get("places") or []
        entities = event.get("entities") or []
        if self.countries and not any(
            (p.get("country_code") or "").casefold() in self.countries for p in places
        ):
            return False
        if self.places and not any(
            (p.get("name") or "").casefold() in self.places
            or any((m.get("text") or "").casefold() in self.places for m in p.get("mentions") or [])
            for p in places
        ):
            return False
        if self.entities and not any(
            (e.get("name") or "").casefold() in self.entities
            or any(
                (m.get("text") or "").casefold() in self.entities for m in e.get("mentions") or []
            )
            for e in entities
        ):
            return False
        if self.labels and not any(
            (e.get("label") or "").casefold() in self.labels for e in entities
        ):
            return False
        if self.stories:
            story = event.get("story") or {}
            if (story.get("id") or "").casefold() not in self.stories:
                return False
        source = ((event.get("article") or {}).get("source") or "").casefold()
        return not self.sources or source in self.sources
