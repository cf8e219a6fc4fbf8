"""Every weight and bound of story assignment, in one place.

Each value says what it does and how it was chosen. "dev" is
``newsflow eval stories --data dev.jsonl`` (WikiNews + DUC 2004, 1,004 articles); a
value "from dev" was picked on a coarse grid there, others are set from what they mean
(a day, a city's size) and checked not to matter much on dev.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tuning:
    """The weights and bounds of :func:`~services.stories.assign.assign_story`."""

    # --- article features
    #: Terms kept per article vector (by tf-idf weight): the long tail only adds cost.
    article_terms: int = 60
    #: Terms kept per story centroid: bounds a story's state whatever its size.
    story_terms: int = 120
    #: Weight of a title word against a body word: a headline names the event.
    title_weight: float = 2.0
    #: Latest articles a story keeps as exemplars, and the terms kept of each.
    story_exemplars: int = 3
    exemplar_terms: int = 20
    #: Entities kept per article (by salience x rarity): minor mentions do not identify.
    article_entities: int = 12
    #: Entities, places kept per story.
    story_entities: int = 30
    #: Hash buckets of the online document frequencies (memory 4 bytes each).
    df_buckets: int = 1 << 20
    #: Documents after which every document frequency is halved, so rarity follows the news.
    df_half_life_docs: int = 50_000

    # --- candidate retrieval (the inverted index)
    #: Rarest terms of an article used as index keys.
    key_terms: int = 10
    #: Most recent stories kept per index key: bounds the cost of a common key.
    posting_limit: int = 64
    #: Candidates scored in full, the ones sharing the most key weight.
    candidates: int = 12

    # --- scoring a candidate story
    #: Weight of the words' cosine to the story centroid.
    words_weight: float = 1.0
    #: Weight of the words' best cosine to one of the story's exemplars.
    exemplar_weight: float = 1.0
    #: Weight of the salient entities' cosine to the story's entities.
    entities_weight: float = 0.3
    #: Weight of the places' cosine to the story's places.
    places_weight: float = 0.2
    #: Bonus when the article's focus is the story's focus.
    focus_same_bonus: float = 0.1
    #: Penalty when the two foci are in different countries.
    focus_country_penalty: float = 0.1
    #: Penalty when the two foci are different towns of one country, far apart.
    focus_town_penalty: float = 0.2
    #: Distance beyond which two towns are different places (km).
    focus_far_km: float = 50.0
    #: Entity or place cosine from which two articles share someone or somewhere.
    shared_evidence: float = 0.05
    #: Penalty when they share no one and nowhere, though the article names some: words
    #: alone join look-alike events (two fires, two earthquakes). On dev, 14 of 781 true
    #: joins are in this case, most with low word similarity anyway.
    unsupported_penalty: float = 0.3
    #: Whether foci in two countries or far-apart towns, with no one shared, forbid a
    #: join: two places and nobody in common are two events (on dev, 6 of 781 true joins).
    conflict_veto: bool = True
    #: Days between the article and the story within which time costs nothing.
    time_free_days: float = 2.0
    #: Penalty per doubling of the gap beyond ``time_free_days``.
    time_penalty_per_doubling: float = 0.05
    #: Days of silence after which a story is quiet: no article joins it, it is evicted.
    window_days: float = 30.0
    #: Score an article needs to join a story; below, it starts one (from dev).
    join_threshold: float = 0.5
    #: Stories kept at most, whatever their dates: bounds memory for undated streams.
    max_stories: int = 200_000

    # --- near-duplicates
    #: Words per shingle: four words rarely repeat by chance between two articles.
    shingle_words: int = 4
    #: MinHash permutations (signature length).
    minhash_perms: int = 64
    #: LSH bands (``minhash_perms`` / bands rows each); 16 x 4 finds pairs from ~0.5 up.
    lsh_bands: int = 16
    #: Estimated shingle Jaccard from which an article is a near-copy.
    duplicate_jaccard: float = 0.8


#: The values the service and the evaluation run with.
DEFAULT_TUNING = Tuning()
