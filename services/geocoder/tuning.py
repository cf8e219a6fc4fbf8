"""The resolver's tuning: every weight, bonus, threshold and limit in one place.

:data:`TUNING` is what :func:`~services.geocoder.resolve.resolve_places` uses. How the
values were chosen: all of them were set by hand when the resolver was written (commit
54a63c4, which added ``newsflow eval geo`` on LGL and TR-News at the same time) and none
has changed since; the history records no measurement of a single value. Two were added
later as cost bounds (``context_chars`` kept its value, ``proximity_names`` is new; see
docs/CHOICES.md, "A time budget per article"). Those marked "Issue 16" came with the
doubtful names and their promotion; each was set by hand from what it means, then checked
on both sets by moving it alone (docs/CHOICES.md, "Places the small model mislabels"):
``doubt_floor`` 0.2, ``support_km`` 80 or 250, ``big_place_population`` 50,000 or
200,000 and ``supported_min_population`` 3,000 each moved LGL end to end by 0.001 at
most and TR-News by 0.001 at most. The older values were checked the same way then
(country, region and proximity weights moved down and up, the temperature, the town
prior, the threshold): none gained more than 0.0025 end to end on one set without losing
on the other, so none was changed. To re-tune, change a value here and run ``newsflow
eval geo`` on both sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def _table(**values: float) -> Mapping[str, float]:
    return MappingProxyType(values)


@dataclass(frozen=True, slots=True)
class GeoTuning:
    """The resolver's numbers, by the step that uses them (see :mod:`.resolve`).

    "Hand-set": set by hand in 54a63c4, no measurement recorded (module docstring).
    """

    # --- is it a place? (placeness: 0 to 1, a place from place_threshold) -------------
    #: How likely a span with this model label is a place before its context is read. Hand-set.
    label_prior: Mapping[str, float] = field(
        default_factory=lambda: _table(
            GPE=0.9,
            LOC=0.8,
            NORP=0.7,
            FAC=0.35,
            ORG=0.25,
            PERSON=0.2,
            # Issue 16: an untagged name opening a sentence, or before a place's people
            # (shared.schemas.GAZETTEER_INITIAL_LABEL): doubtful (above doubt_floor), a
            # place with a cue or the article's support. By hand, measured on both sets.
            GAZETTEER_INITIAL=0.3,
        )
    )
    #: Placeness from which a span, or a group of mentions, is a place. Hand-set.
    place_threshold: float = 0.5
    #: Placeness from which a group below the threshold is doubtful: a place if the
    #: article supports it (scoring). Issue 16: just above a bare PERSON span's prior (0.2),
    #: so that an ORG name (0.25) or a town inside a longer name (0.3) may be promoted.
    doubt_floor: float = 0.25
    #: A place this big speaks for its people ("Tbilisi says" is no person), and, doubtful,
    #: needs only a place of its country to be promoted. Issue 16, by hand: a city of
    #: 100,000 is known beyond its region.
    big_place_population: int = 100_000
    #: A doubtful town is promoted by a place of its region or within this distance (km).
    #: Issue 16: the proximity decay (proximity_km), by hand.
    support_km: float = 150.0
    #: Smallest town a doubtful name is promoted to. Issue 16: locative_min_population.
    supported_min_population: int = 1_000
    #: A mention this sure lends placeness to its name's weaker mentions. Hand-set.
    lending_placeness: float = 0.8
    #: Placeness of a dateline the model missed ("COLUMBUS, Ohio (AP) —"). Hand-set.
    dateline_placeness: float = 0.9
    #: Placeness of a name after a locative word that only the gazetteer knew. Hand-set.
    locative_found_placeness: float = 0.55
    #: Smallest town taken from an untagged name after a locative word. Hand-set.
    locative_min_population: int = 1_000
    #: Placeness of a demonym standing alone ("Iraqi"), as a mention of its country. Hand-set.
    demonym_placeness: float = 0.75
    #: Placeness of a demonym inside a NORP compound ("Russian-American"). Hand-set.
    inner_demonym_placeness: float = 0.5
    #: Placeness of a demonym heading a state body's name ("the Georgian Foreign Ministry"):
    #: the country acting. Issue 16: the threshold, so that it is a place.
    state_demonym_placeness: float = 0.5
    #: Placeness of a demonym heading another organisation's name ("American Airlines"):
    #: the organisation's country. Issue 16: the threshold too; LGL and TR-News annotate
    #: these as toponyms. Measured against 0 (not a place): LGL recall 0.8137 -> 0.8188,
    #: precision 0.8842 -> 0.8815, end to end 0.7976 -> 0.8028; TR-News end to end
    #: 0.8672 -> 0.8712, precision 0.9174 -> 0.9128.
    org_demonym_placeness: float = 0.5
    #: Placeness of a big place's own name that the model labelled NORP ("Aleppo"). Hand-set.
    norp_place_placeness: float = 0.6
    #: Smallest town taken from a NORP span (countries and regions always are). Hand-set.
    norp_place_min_population: int = 100_000
    #: Placeness of a country or region named inside a longer name. Hand-set.
    inner_strong_placeness: float = 0.6
    #: Placeness of a town locating an institution ("University of Georgia"). Hand-set.
    inner_institution_placeness: float = 0.55
    #: Placeness of any other town name inside a longer name ("Ford Motor"). Hand-set.
    inner_placeness: float = 0.3
    #: Longest place name (in words) looked for inside a longer name. Hand-set.
    inner_name_max_words: int = 4
    #: Taken off when the words around a span read as a person ("Obama said"). Hand-set.
    person_cue_penalty: float = 0.6
    #: Taken off when they read as a club ("Dortmund beat Bayern"). Issue 16: as a person cue.
    club_cue_penalty: float = 0.6
    #: Words after a name's "'s" searched for a place's possession ("Oxford's municipal
    #: leaders"). Issue 16, by hand: an adjective or two, then the noun.
    possession_words: int = 3
    #: Added for a locative word right before the span ("in Mosul"). Hand-set.
    locative_bonus: float = 0.45
    #: Added for a locative word and "the" before a GPE or LOC ("in the Nineveh plain"). Hand-set.
    locative_the_bonus: float = 0.3
    #: Added when a region or country follows ("Gainesville, Ga."). Hand-set.
    container_placeness_bonus: float = 0.3
    #: Taken off a word of a longer person name in the same article ("Georgia Stevens"). Hand-set.
    person_word_penalty: float = 0.4
    #: Taken off a FAC, ORG or PERSON span matched only loosely (abbreviation, variant). Hand-set.
    loose_match_penalty: float = 0.2
    #: Smallest town whose own name, tagged PERSON, ORG or FAC, still reads as the town. Hand-set.
    sizeable_town_population: int = 10_000
    #: Added to such a town's name tagged ORG. Hand-set.
    sizeable_town_org_bonus: float = 0.1
    #: Added to such a town's name tagged PERSON or FAC. Hand-set.
    sizeable_town_bonus: float = 0.3
    #: Added to a FAC, ORG or PERSON span before a place noun ("the Tigris valley"). Hand-set.
    generic_tail_bonus: float = 0.4
    #: Added to a FAC, ORG or PERSON span before a people noun ("a Gainesville man"). Hand-set.
    place_noun_bonus: float = 0.3
    #: Characters of the sentence before and after a span its cues are read from. Hand-set
    #: (40 since 54a63c4; since b32420d also a cost bound).
    context_chars: int = 40
    #: Readings kept per name (the gazetteer lists the most populous first). Hand-set.
    max_readings: int = 25

    # --- which place? (scores: a prior, then the article's context, in rounds) ---------
    #: Taken off the prior by how the name matched the entry. Hand-set.
    kind_penalty: Mapping[str, float] = field(
        default_factory=lambda: _table(
            name=0.0, alias=0.0, demonym=0.0, alt=0.3, variant=0.9, abbrev=0.6
        )
    )
    #: Added to a population before its log10 is taken (a population of 0 has a size). Hand-set.
    population_log_offset: int = 10
    #: Prior of a country; plus country_prior_per_size per log10 of its population. Hand-set.
    country_prior: float = 3.0
    #: See country_prior. Hand-set.
    country_prior_per_size: float = 0.1
    #: Prior of a first-level region; plus region_prior_per_size per log10 of population. Hand-set.
    region_prior: float = 1.6
    #: See region_prior. Hand-set.
    region_prior_per_size: float = 0.15
    #: Prior of a continent or curated region ("Middle East"). Hand-set.
    area_prior: float = 2.4
    #: Prior of a county; plus county_prior_per_size per log10 of its population. Hand-set.
    county_prior: float = 1.4
    #: See county_prior. Hand-set.
    county_prior_per_size: float = 0.1
    #: Prior of a town per log10 of its population. Hand-set.
    town_prior_per_size: float = 0.25
    #: Added to a capital's prior. Hand-set.
    capital_prior_bonus: float = 0.5
    #: Taken off an alternate-name reading when another reading has the name as its own. Hand-set.
    alt_when_named_penalty: float = 0.2
    #: Added to a capital named like a region of its country ("Washington"). Hand-set.
    capital_over_region: float = 1.2
    #: Added to a reading inside the region or country after it ("Alexandria, La."). Hand-set.
    container_bonus: float = 3.0
    #: Weight of the other names' votes for a reading's country (share of all votes). Hand-set.
    country_weight: float = 1.5
    #: Weight of the other names' votes for a reading's first-level region. Hand-set.
    region_weight: float = 1.0
    #: Weight of the other names' votes for countries bordering a reading's. Hand-set.
    neighbour_weight: float = 0.5
    #: Weight of the reading's country being named in the article. Hand-set.
    named_country_weight: float = 0.5
    #: Weight of the reading's first-level region being named in the article. Hand-set.
    named_region_weight: float = 0.5
    #: Cap on how much a named country or region counts (a sum of probabilities). Hand-set.
    named_support_cap: float = 1.0
    #: A demonym-only name's vote, against 1 for a name. Hand-set.
    demonym_vote: float = 0.4
    #: Added to a name's vote per mention after the first. Hand-set.
    repeat_vote_step: float = 0.5
    #: Largest vote a name has, however often it is mentioned. Hand-set.
    repeat_vote_cap: float = 3.0
    #: Softmax temperature over a name's scores (for votes, proximity and confidence). Hand-set.
    temperature: float = 0.5
    #: Rounds of rescoring at most; they stop early once the choices settle. Hand-set.
    iterations: int = 5
    #: Distance (km) over which a reading's closeness to another name's decays by e. Hand-set.
    proximity_km: float = 150.0
    #: Cap on a reading's closeness summed over the other names. Hand-set.
    proximity_cap: float = 1.0
    #: Weight of that closeness in the score. Hand-set.
    proximity_weight: float = 1.0
    #: Likeliest readings of each name that take part in proximity. Hand-set.
    proximity_readings: int = 10
    #: Names (in order of first mention) that take part in proximity at all: a cost bound,
    #: since the work is quadratic; news names at most 40 (b32420d, docs/CHOICES.md).
    proximity_names: int = 200
    #: Towns below this population, of a country nothing else supports, are doubted. Hand-set.
    isolated_max_population: int = 100_000
    #: Placeness of a doubted town is multiplied by this. Hand-set.
    isolated_factor: float = 0.5

    # --- confidence and focus ------------------------------------------------------------
    #: Confidence of a demonym-only place is multiplied by this. Hand-set.
    demonym_confidence_factor: float = 0.8
    #: How specific a place is, by feature code, for the focus (a town over its country). Hand-set.
    class_specificity: Mapping[str, float] = field(
        default_factory=lambda: _table(
            PPL=1.0, PPLC=1.0, ADM2=0.9, ADM1=0.6, PCLI=0.45, RGN=0.3, CONT=0.2
        )
    )
    #: Specificity of a feature code not in class_specificity. Hand-set.
    other_specificity: float = 1.0
    #: Extra focus weight of a mention at the article's start (each counts 1 more). Hand-set.
    early_mention_bonus: float = 1.0
    #: Characters into the article at which that extra weight has halved. Hand-set.
    early_mention_chars: float = 500.0
    #: Focus weight is multiplied by this plus the confidence. Hand-set.
    focus_confidence_base: float = 0.5
    #: Focus weight of a demonym-only place is multiplied by this. Hand-set.
    demonym_focus_factor: float = 0.1


#: The tuning the services and the evaluation use.
TUNING = GeoTuning()
