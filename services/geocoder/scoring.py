"""Step 2: which place? Each name's readings scored from their prior and the article's
context (patterns, countries and regions, distances to the other names), in rounds until
the choices settle; then small towns nothing else supports are doubted."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, TypeVar

import numpy as np

from services.geocoder.geometry import EARTH_RADIUS_KM, haversine_km
from services.geocoder.index import Gazetteer, GazetteerEntry
from services.geocoder.placeness import Group
from services.geocoder.tuning import TUNING
from shared.schemas import GAZETTEER_INITIAL_LABEL

_K = TypeVar("_K")

# Rows of the distance matrix built at once: bounds memory, changes no result.
_PROXIMITY_BLOCK: Final = 256


def _prior(entry: GazetteerEntry) -> float:
    """How likely a name means this entry before reading the article."""
    t = TUNING
    code = entry.feature_code
    size = math.log10(max(entry.population, 0) + t.population_log_offset)
    if code.startswith("PCL"):
        base = t.country_prior + t.country_prior_per_size * size
    elif code == "ADM1":
        base = t.region_prior + t.region_prior_per_size * size
    elif code in ("CONT", "RGN"):
        base = t.area_prior
    elif code == "ADM2":
        base = t.county_prior + t.county_prior_per_size * size
    else:
        base = t.town_prior_per_size * size + (t.capital_prior_bonus if code == "PPLC" else 0.0)
    return base - t.kind_penalty[entry.name_kind]


def reading_priors(entries: list[GazetteerEntry]) -> list[float]:
    """The prior of each reading of one name, knowing the others it competes with."""
    priors = [_prior(e) for e in entries]
    regions = {(e.country_code, e.name) for e in entries if e.feature_code == "ADM1"}
    if any(e.name_kind == "name" for e in entries):
        # "Paris" is first the places called Paris, then those with Paris as another name.
        priors = [
            p - (TUNING.alt_when_named_penalty if e.name_kind == "alt" else 0.0)
            for p, e in zip(priors, entries, strict=True)
        ]
    for i, entry in enumerate(entries):
        if entry.feature_code == "PPLC" and (entry.country_code, entry.name) in regions:
            # News means the capital by "Washington", not the state of that name.
            priors[i] += TUNING.capital_over_region
    return priors


def _contained(entry: GazetteerEntry, container: GazetteerEntry) -> bool:
    if entry.geonameid == container.geonameid or entry.country_code != container.country_code:
        return False
    if container.is_country:
        return True
    if container.feature_code == "ADM1":
        return entry.admin1 == container.admin1 and entry.feature_code != "ADM1"
    return False


@dataclass
class _Context:
    """What the article says about countries and regions, as soft votes.

    Plain dicts, added to with ``get(key, 0.0)``: a round builds one per name, and a
    defaultdict costs a factory call each.
    """

    countries: dict[str, float] = field(default_factory=dict)
    regions: dict[tuple[str, str], float] = field(default_factory=dict)
    total: float = 0.0
    # Countries and first-level regions named as such, by the probability of that reading.
    named_countries: dict[str, float] = field(default_factory=dict)
    named_regions: dict[tuple[str, str], float] = field(default_factory=dict)


def _votes(group: Group, probs: list[float]) -> _Context:
    """One group's votes: each reading votes for its country and region by its probability
    (``probs``, the softmax of its scores).

    Soft votes keep an undecided name from steering the others with its current guess,
    and let readings that fit together ("Athens" and "Georgia", both in the US) reinforce
    each other.
    """
    votes = _Context()
    weight = _group_weight(group)
    votes.total = weight
    countries, regions = votes.countries, votes.regions
    named_countries, named_regions = votes.named_countries, votes.named_regions
    for entry, prob in zip(group.entries, probs, strict=True):
        cc = entry.country_code
        if cc:
            countries[cc] = countries.get(cc, 0.0) + weight * prob
            admin1 = entry.admin1
            if admin1:
                key = (cc, admin1)
                regions[key] = regions.get(key, 0.0) + weight * prob
            if entry.feature_code.startswith("PCL"):  # is_country
                named_countries[cc] = named_countries.get(cc, 0.0) + prob
            elif entry.feature_code == "ADM1" and admin1:
                key = (cc, admin1)
                named_regions[key] = named_regions.get(key, 0.0) + prob
    return votes


def _round_votes(groups: list[Group]) -> tuple[list[list[float]], list[_Context]]:
    """Each group's reading probabilities and votes for one round: the probabilities
    once, since the proximity of the same round weighs the readings by them too."""
    probs = [softmax(group.scores) for group in groups]
    return probs, [_votes(group, p) for group, p in zip(groups, probs, strict=True)]


def _context(votes: list[_Context]) -> _Context:
    ctx = _Context()
    for vote in votes:
        ctx.total += vote.total
        _add(ctx.countries, vote.countries)
        _add(ctx.regions, vote.regions)
        _add(ctx.named_countries, vote.named_countries)
        _add(ctx.named_regions, vote.named_regions)
    return ctx


def _add(into: dict[_K, float], values: dict[_K, float]) -> None:
    for key, value in values.items():
        into[key] = into.get(key, 0.0) + value


def _group_weight(group: Group) -> float:
    # Repeated names shape the context more; demonyms count a little.
    t = TUNING
    repeats = min(t.repeat_vote_cap, 1.0 + t.repeat_vote_step * (len(group.spans) - 1))
    return (t.demonym_vote if group.demonym_only else 1.0) * repeats


def score_groups(groups: list[Group], gazetteer: Gazetteer) -> None:
    """Score every reading of every group, in rounds, and set each group's choice.

    The places (groups at or above the threshold) are scored in rounds until their
    choices settle; each doubtful group is then scored once against them, and becomes a
    place if the article supports its reading (:func:`_promote_supported`). Doubtful
    groups never vote: a name that may not be a place must not steer the others.
    """
    t = TUNING
    for group in groups:
        group.prior = reading_priors(group.entries)
        for container in group.containers:
            for i, entry in enumerate(group.entries):
                if _contained(entry, container):
                    # "Alexandria, Louisiana": the pattern outweighs any population.
                    group.prior[i] += t.container_bonus
        group.scores = list(group.prior)
        group.choice = max(range(len(group.scores)), key=group.scores.__getitem__)
    placed = [group for group in groups if not group.doubtful]
    doubtful = [group for group in groups if group.doubtful]
    votes: list[_Context] = []
    for iteration in range(t.iterations):
        before = [group.choice for group in placed]
        probs, votes = _round_votes(placed)
        ctx = _context(votes)
        near = proximity(placed, probs=probs)
        for index, group in enumerate(placed):
            _rescore(group, votes[index], ctx, near[index], gazetteer)
        if iteration > 0 and before == [group.choice for group in placed]:
            break  # settled: another round would only sharpen the same choices
    if doubtful:
        if not votes:
            probs, votes = _round_votes(placed)
        ctx = _context(votes)
        # Not ``probs``: the placed groups give proximity by the scores of their last round.
        near = proximity([*placed, *doubtful], givers=len(placed))
        for index, group in enumerate(doubtful):
            _rescore(group, _Context(), ctx, near[len(placed) + index], gazetteer)
        promoted = _promote_supported(placed, doubtful)
        if promoted:
            # One more round with them: "State of Ohio", promoted, makes "Dublin" Ohio's.
            placed.extend(promoted)
            probs, votes = _round_votes(placed)
            ctx = _context(votes)
            near = proximity(placed, probs=probs)
            for index, group in enumerate(placed):
                _rescore(group, votes[index], ctx, near[index], gazetteer)
    _discount_isolated(placed)


def _rescore(
    group: Group, own: _Context, ctx: _Context, near: list[float], gazetteer: Gazetteer
) -> None:
    """Score each reading of ``group`` from its prior and the other groups' context."""
    t = TUNING
    others = max(ctx.total - own.total, 1e-9)
    # Per country, the other names' votes for it and for its neighbours: the same for
    # every reading of that country; per region likewise. Cached, the terms are added in
    # the same order as computed afresh, so the scores are the same to the last bit.
    by_country: dict[str, tuple[float, float]] = {}
    by_region: dict[tuple[str, str], tuple[float, float]] = {}
    scores = []
    for i, entry in enumerate(group.entries):
        score = group.prior[i]
        cc = entry.country_code
        if cc:
            cached = by_country.get(cc)
            if cached is None:
                support = ctx.countries.get(cc, 0.0) - own.countries.get(cc, 0.0)
                # A neighbour's places are weaker evidence: "Gaza" next to "Israel".
                nearby = sum(
                    ctx.countries.get(n, 0.0) - own.countries.get(n, 0.0)
                    for n in gazetteer.neighbours(cc)
                )
                named = ctx.named_countries.get(cc, 0.0) - own.named_countries.get(cc, 0.0)
                cached = by_country[cc] = (
                    t.country_weight * max(0.0, support) / others
                    + t.neighbour_weight * max(0.0, nearby) / others,
                    # A country named anywhere in the article contains its towns.
                    t.named_country_weight * min(t.named_support_cap, max(0.0, named)),
                )
            score += cached[0]
            admin1 = entry.admin1
            if admin1:
                key = (cc, admin1)
                terms = by_region.get(key)
                if terms is None:
                    region = ctx.regions.get(key, 0.0) - own.regions.get(key, 0.0)
                    # "Virginia" named anywhere makes "Richmond" the one in Virginia.
                    named = ctx.named_regions.get(key, 0.0) - own.named_regions.get(key, 0.0)
                    terms = by_region[key] = (
                        t.region_weight * max(0.0, region) / others,
                        t.named_region_weight * min(t.named_support_cap, max(0.0, named)),
                    )
                score += terms[0]
                code = entry.feature_code
                if not code.startswith("PCL"):  # not a country (is_country)
                    score += cached[1]
                if code != "ADM1":
                    score += terms[1]
            elif not entry.feature_code.startswith("PCL"):
                score += cached[1]
        score += t.proximity_weight * near[i]
        scores.append(score)
    group.scores = scores
    group.choice = max(range(len(scores)), key=scores.__getitem__)


def _promote_supported(placed: list[Group], doubtful: list[Group]) -> list[Group]:
    """The doubtful groups whose reading the article's places support, made places.

    "Edmonton" tagged ORG in an article that names Alberta and Red Deer; "Bridgeport" in
    "Bridgeport Superior Court" next to other Connecticut towns. Only a place's own name
    is promoted, heading the longer name it stands in if any. A country, a region, or a
    city of ``big_place_population`` needs a place of its country in the article; a
    town needs one of its first-level region or within ``support_km``, and, tagged as
    a whole organisation ("Continental" the developer), the size of a sizeable town.
    """
    t = TUNING
    chosen = [group.entries[group.choice] for group in placed]
    promoted = []
    for group in doubtful:
        entry = group.entries[group.choice]
        region = entry.is_country or entry.feature_code == "ADM1"
        if not entry.country_code or not (
            entry.name_kind in ("name", "alias") or (region and entry.name_kind == "alt")
        ):
            continue
        spans = [s for s in group.spans if s.origin != "inner" or s.heads_name]
        if not spans:
            continue
        same_country = [c for c in chosen if c.country_code == entry.country_code]
        if not same_country:
            continue
        broad = (
            entry.is_country
            or entry.feature_code in ("ADM1", "ADM2")
            or entry.population >= t.big_place_population
        )
        if not broad:
            # A company is named after a small town more often than a building is.
            organisation = any(
                s.origin == "whole" and s.label in ("ORG", GAZETTEER_INITIAL_LABEL) for s in spans
            )
            smallest = t.sizeable_town_population if organisation else t.supported_min_population
            if entry.population < smallest or not _near_any(entry, same_country):
                continue
        group.spans = spans
        group.placeness = t.place_threshold
        promoted.append(group)
    return promoted


def _near_any(entry: GazetteerEntry, others: list[GazetteerEntry]) -> bool:
    """Whether a place of ``others`` lies in ``entry``'s first-level region or near it."""
    for other in others:
        if other.geonameid == entry.geonameid or other.is_country:
            continue
        if entry.admin1 is not None and other.admin1 == entry.admin1:
            return True
        if other.feature_class == "P" and (
            haversine_km(other.latitude, other.longitude, entry.latitude, entry.longitude)
            <= TUNING.support_km
        ):
            return True
    return False


def proximity(
    groups: list[Group], givers: int | None = None, probs: list[list[float]] | None = None
) -> list[list[float]]:
    """For each reading of each group, how close it is to the other groups' readings.

    Every plausible reading of the other names counts, weighted by how plausible it is,
    not only their current choice: two ambiguous neighbours ("Paris" and "Henry County")
    then pull each other to the pair that fits (Paris and Henry County, Tennessee).
    Summed over the other names, capped, so that a town near many others wins. Only the
    likeliest readings of each name take part, and the distance matrix is built a block
    of rows at a time, so that a very long article costs time, not memory. Only the first
    ``TUNING.proximity_names`` names (in order of first mention) take part at all: the
    others get no proximity and give none. With ``givers``, only the first so many
    groups give proximity (the doubtful ones after them only receive it). ``probs`` are
    the softmax of each group's scores when the caller has them already.
    """
    slots: list[tuple[int, int]] = []
    rows: list[tuple[float, float, float]] = []
    # Where each name's rows start, and each row's name by its rank among those with rows:
    # the names come in order, so both are known as the rows are listed.
    starts: list[int] = []
    own_column: list[int] = []
    limit = TUNING.proximity_readings
    # The distances are all pairs of readings: only the first names take part, so that
    # a list of thousands of places costs linear time (news names far fewer).
    for index, group in enumerate(groups[: TUNING.proximity_names]):
        p = softmax(group.scores) if probs is None else probs[index]
        taking: Iterable[int]
        if len(p) <= limit:
            taking = range(len(p))  # every reading: no need to rank them
        else:
            likeliest = sorted(range(len(p)), key=p.__getitem__, reverse=True)
            taking = sorted(likeliest[:limit])
        gives = givers is None or index < givers
        entries = group.entries
        first = len(rows)
        for i in taking:
            entry = entries[i]
            if entry.feature_class == "P" or entry.feature_code == "ADM2":
                slots.append((index, i))
                rows.append((entry.latitude, entry.longitude, math.sqrt(p[i]) * gives))
        if len(rows) > first:
            own_column.extend([len(starts)] * (len(rows) - first))
            starts.append(first)
    # Lists, not arrays: the caller reads each value as a Python float.
    out = [[0.0] * len(group.entries) for group in groups]
    if len(starts) < 2:
        return out
    table = np.asarray(rows)
    lat = np.radians(table[:, 0])
    lon = np.radians(table[:, 1])
    weight = table[:, 2]
    columns = np.asarray(own_column)
    total = np.empty(len(rows))
    for lo in range(0, len(rows), _PROXIMITY_BLOCK):
        hi = min(len(rows), lo + _PROXIMITY_BLOCK)
        dlon = (lon[lo:hi, None] - lon[None, :] + np.pi) % (2 * np.pi) - np.pi
        dist = EARTH_RADIUS_KM * np.hypot(
            lat[lo:hi, None] - lat[None, :], dlon * np.cos((lat[lo:hi, None] + lat[None, :]) / 2)
        )
        per_group = np.maximum.reduceat(
            np.exp(-dist / TUNING.proximity_km) * weight, starts, axis=1
        )
        per_group[np.arange(hi - lo), columns[lo:hi]] = 0.0
        total[lo:hi] = np.minimum(per_group.sum(axis=1), TUNING.proximity_cap)
    for (index, i), value in zip(slots, total.tolist(), strict=True):
        out[index][i] = value
    return out


def softmax(scores: list[float]) -> list[float]:
    """The probability of each score, at the tuning's temperature."""
    top = max(scores)
    temperature = TUNING.temperature
    exps = [math.exp((s - top) / temperature) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def _discount_isolated(groups: list[Group]) -> None:
    """Doubt small towns that nothing else in the article points to.

    "Obama" (a town in Japan) in an article about Washington, or "Hamas" read as another
    name of Hamm: a small town, or any town matched only by one of its other names, of a
    country that no other place, demonym or pattern in the article supports, is more
    likely a word the model mistook for a place.
    """
    chosen = [group.entries[group.choice].country_code for group in groups]
    # How many groups chose each country: "another group chose it" is a count above one.
    chosen_count = Counter(chosen)
    for group in groups:
        entry = group.entries[group.choice]
        loose = entry.name_kind in ("alt", "variant")
        if entry.feature_class != "P" or (
            entry.population >= TUNING.isolated_max_population and not loose
        ):
            continue
        if group.containers or not entry.country_code:
            continue
        if chosen_count[entry.country_code] > 1:  # this group and another
            continue
        if len(groups) == 1 and not loose:
            # The article's only place: nothing in it points elsewhere ("Decatur lights
            # up downtown"), and a name the model tagged no place has no group here.
            continue
        group.placeness *= TUNING.isolated_factor
