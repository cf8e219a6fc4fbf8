"""The messages newsflow exchanges, as versioned pydantic v2 models.

Every message carries ``schema_version``. The public ones are :class:`ArticleIn` (what
producers write to ``{prefix}:articles``), :class:`EnrichedEvent` (what subscribers read
from ``{prefix}:enriched``) and :class:`DeadLetter`. The stage results are internal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.ids import ID_PATTERN, escape_unsafe, url_problem
from shared.text_checks import (
    check_identifier,
    has_visible_character,
    looks_like_html,
    parse_datetime,
    published_in_utc,
    surrogate_problem,
)

#: The version every message is written with. Change it only with an adapter for the old one.
SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = frozenset({1})

StageStatus = Literal["ok", "error", "timeout", "skipped"]
ShortStr = Annotated[str, StringConstraints(max_length=2_000)]
MetaValue = str | int | float | bool | None


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


#: The reason for a text (given, or extracted from HTML) that shows nothing.
NO_VISIBLE_TEXT = "text has no visible characters"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArticleIn(BaseModel):
    """An article as a producer sends it: ``text``, or an HTML page in ``html``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    schema_version: int = SCHEMA_VERSION
    id: (
        Annotated[
            str,
            StringConstraints(
                min_length=1, max_length=256, strip_whitespace=True, pattern=ID_PATTERN
            ),
        ]
        | None
    ) = Field(
        default=None,
        description="Your own id; no spaces, braces, '#', control or format characters.",
    )
    text: str | None = Field(
        default=None, description="Plain text of the article; newlines separate paragraphs."
    )
    html: str | None = Field(
        default=None,
        description="The article's HTML page, instead of text: its main text, title, date and "
        "site are extracted.",
    )
    url: ShortStr | None = None
    title: ShortStr | None = None
    source: Annotated[str, StringConstraints(max_length=256)] | None = None
    published_at: datetime | None = Field(
        default=None,
        description="ISO 8601 or RFC 2822; naive times are taken as UTC. Years 1800 to 2199.",
    )
    language: Annotated[str, StringConstraints(max_length=16)] | None = None
    metadata: dict[Annotated[str, StringConstraints(max_length=64)], MetaValue] = Field(
        default_factory=dict, max_length=64, description="Flat key/value metadata."
    )

    @field_validator("schema_version")
    @classmethod
    def _supported_version(cls, value: int) -> int:
        if value not in SUPPORTED_SCHEMA_VERSIONS:
            supported = sorted(SUPPORTED_SCHEMA_VERSIONS)
            raise ValueError(f"unsupported schema_version {value}; supported: {supported}")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _unicode_text(cls, value: object, info: ValidationInfo) -> object:
        # Before any other check: a lone surrogate crashes every UTF-8 encoder downstream.
        problem = surrogate_problem(info.field_name or "(field)", value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("published_at", mode="before")
    @classmethod
    def _rss_times_too(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip()[:4].isdigit():
            return parse_datetime(value) or value  # RFC 2822; else pydantic explains
        return value

    @field_validator("published_at")
    @classmethod
    def _representable(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            published_in_utc(value)  # the time is kept as given, offset and all
        return value

    @field_validator("id", "source", "language")
    @classmethod
    def _no_control_characters(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_identifier(info.field_name or "(field)", value)

    @field_validator("url")
    @classmethod
    def _readable_url(cls, value: str | None) -> str | None:
        problem = None if value is None else url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("metadata")
    @classmethod
    def _plain_keys(cls, value: dict[str, MetaValue]) -> dict[str, MetaValue]:
        for key in value:
            check_identifier(f"metadata key '{escape_unsafe(key)}'", key)
        return value

    @model_validator(mode="after")
    def _text_or_html(self) -> ArticleIn:
        if self.text is None and self.html is None:
            raise ValueError("text or html is required")
        if self.html is not None and not has_visible_character(self.html):
            raise ValueError("html is empty")
        return self

    @field_validator("text")
    @classmethod
    def _has_text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not has_visible_character(value):
            raise ValueError(NO_VISIBLE_TEXT)
        if "\x00" in value:
            raise ValueError("text contains NUL characters (binary data?)")
        if looks_like_html(value):
            raise ValueError("text looks like HTML markup; send the page in `html` instead")
        return value


class ArticleMeta(_Model):
    """An accepted article's identity and provenance (everything but its text)."""

    id: str
    url: str | None = None
    title: str | None = None
    source: str | None = None
    published_at: AwareDatetime | None = Field(default=None, description="In UTC.")
    published_at_local: AwareDatetime | None = Field(
        default=None, description="As given, with its original UTC offset."
    )
    language: str | None = None
    ingested_at: AwareDatetime
    metadata: dict[str, MetaValue] = Field(default_factory=dict)
    text_chars: int = Field(ge=0)
    revision: int = Field(
        default=1, ge=1, description="1 for the first enrichment; replays count up."
    )


class Article(_Model):
    """An accepted article: what the entity and summary workers read."""

    schema_version: int = SCHEMA_VERSION
    meta: ArticleMeta
    text: str


class Mention(_Model):
    """One occurrence of a name in the article text: ``text == article.text[start:end]``."""

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class Entity(_Model):
    """One real-world thing named in an article, with every mention of it."""

    name: str = Field(description="Canonical name: the longest, title-free form.")
    label: str = Field(description="OntoNotes label: PERSON, ORG, GPE, LOC, NORP, FAC, ...")
    mentions: list[Mention]
    count: int = Field(ge=1)
    salience: float = Field(ge=0.0, le=1.0)


#: The label of a :class:`PlaceCandidate` that no model tagged: a capitalised name after a
#: place cue ("in Hamdaniya") that the entity stage offers because the gazetteer knows it.
#: The geocoder takes it as a place found the way its own locative scan finds one.
GAZETTEER_LABEL = "GAZETTEER"
#: The label of a candidate no model tagged that opens a sentence, or stands before a
#: place's people or officials ("Dortmund police said", "Florence banned..."): the
#: gazetteer knows the name, but a capitalised word there is as often something else, so
#: the geocoder takes it only with a cue or the article's support.
GAZETTEER_INITIAL_LABEL = "GAZETTEER_INITIAL"


class PlaceCandidate(_Model):
    """A span the geocoder should look at, whatever label the model gave it."""

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    label: str
    sentence: str = Field(description="The sentence around the span.")
    sentence_start: int = Field(ge=0)


class StageInfo(_Model):
    """How a stage went for one article, and what produced its result."""

    stage: str
    status: StageStatus
    duration_s: float = Field(ge=0.0)
    service_version: str
    model: str | None = None
    gazetteer: str | None = None
    error: str | None = None


class SentenceText(_Model):
    """A sentence of the article, once, for the candidates that point at it: its text, or,
    in a message that carries the article's text, where it ends in that text."""

    start: int = Field(ge=0)
    text: str = ""
    end: int | None = Field(default=None, ge=0)


class CandidateRef(_Model):
    """A place candidate on the wire: its sentence is an index into ``sentences``."""

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    label: str
    sentence: int = Field(ge=0)


#: Version 2 sends each sentence once instead of once per candidate (a third of the size).
ENTITIES_SCHEMA_VERSION: Literal[2] = 2


class EntitiesResult(_Model):
    """Entity stage output: entities, plus what the geocoder needs (every name-like span,
    whatever its label, and the sentences they stand in). Read it with
    :func:`read_entities_result`, which takes older versions too."""

    schema_version: Literal[2] = ENTITIES_SCHEMA_VERSION
    meta: ArticleMeta
    entities: list[Entity]
    sentences: list[SentenceText] = Field(default_factory=list)
    candidates: list[CandidateRef] = Field(default_factory=list)
    info: StageInfo
    text: str | None = Field(
        default=None,
        description=(
            "The article's text, carried on for the stages that read the drafts (stories) "
            "and for the event when NEWSFLOW_EVENT_TEXT is on. The sentences are then "
            "spans of it (start and end), not copies."
        ),
    )

    @model_validator(mode="after")
    def _spans_in_text(self) -> EntitiesResult:
        length = -1 if self.text is None else len(self.text)
        for sentence in self.sentences:
            if sentence.end is not None and not sentence.start <= sentence.end <= length:
                raise ValueError(
                    f"sentence span {sentence.start}-{sentence.end} is not in the text "
                    f"({'none carried' if length < 0 else f'{length} characters'})"
                )
        return self

    @classmethod
    def of(
        cls,
        meta: ArticleMeta,
        entities: list[Entity],
        candidates: list[PlaceCandidate],
        info: StageInfo,
        text: str | None = None,
    ) -> EntitiesResult:
        """The result for ``candidates`` as the entity stage found them (with ``text``, the
        sentences as spans of it)."""
        sentences, refs = _compact(candidates, text)
        return cls(
            meta=meta,
            entities=entities,
            sentences=sentences,
            candidates=refs,
            info=info,
            text=text,
        )

    def sentence_texts(self) -> list[tuple[int, str]]:
        """Each sentence's start and text, whether sent as a copy or as a span."""
        text = self.text or ""
        return [
            (s.start, s.text if s.end is None else text[s.start : s.end]) for s in self.sentences
        ]

    def place_candidates(self) -> list[PlaceCandidate]:
        """The candidates with their sentences, as the geocoder reads them."""
        sentences = self.sentence_texts()
        # Built from fields this model validated: validating them again would cost more
        # than the geocoder's lookups of small articles.
        return [
            PlaceCandidate.model_construct(
                text=ref.text,
                start=ref.start,
                end=ref.end,
                label=ref.label,
                sentence=sentences[ref.sentence][1],
                sentence_start=sentences[ref.sentence][0],
            )
            for ref in self.candidates
        ]


class EntitiesResultV1(_Model):
    """Version 1 of the entity stage output: each candidate carried its sentence."""

    schema_version: Literal[1]
    meta: ArticleMeta
    entities: list[Entity]
    candidates: list[PlaceCandidate] = Field(default_factory=list)
    info: StageInfo

    def upgrade(self) -> EntitiesResult:
        """The same result in the current version."""
        return EntitiesResult.of(self.meta, self.entities, self.candidates, self.info)


# The version picks the model, and the whole message is validated without leaving
# pydantic's core: an adapter run as a "before" validator would first turn the JSON into
# Python objects, which costs more than the validation itself.
_ENTITIES_VERSIONS: TypeAdapter[EntitiesResult | EntitiesResultV1] = TypeAdapter(
    Annotated[EntitiesResult | EntitiesResultV1, Field(discriminator="schema_version")]
)


def read_entities_result(data: str | bytes) -> EntitiesResult:
    """An entity stage message of any supported version, as the current version; raises
    ValidationError (a ValueError) for anything else."""
    try:
        result = _ENTITIES_VERSIONS.validate_json(data)
    except ValidationError as exc:
        if not any(error["type"] == "union_tag_not_found" for error in exc.errors()):
            raise
        # No version given: read as the current one, whose errors name the bad fields
        # (the discriminator's would only say the tag is missing).
        return EntitiesResult.model_validate_json(data)
    return result.upgrade() if isinstance(result, EntitiesResultV1) else result


def _compact(
    candidates: list[PlaceCandidate], text: str | None
) -> tuple[list[SentenceText], list[CandidateRef]]:
    index: dict[tuple[int, str], int] = {}
    sentences: list[SentenceText] = []
    refs: list[CandidateRef] = []
    for candidate in candidates:
        key = (candidate.sentence_start, candidate.sentence)
        if key not in index:
            index[key] = len(sentences)
            start, end = key[0], key[0] + len(key[1])
            # A span where the sentence is the text's own (the model's sentences are);
            # a copy otherwise, so that the geocoder reads exactly what it was given.
            if text is not None and text[start:end] == key[1]:
                sentences.append(SentenceText.model_construct(start=start, text="", end=end))
            else:
                sentences.append(SentenceText.model_construct(start=start, text=key[1], end=None))
        # Built from a validated candidate: constructed without validating it again.
        refs.append(
            CandidateRef.model_construct(
                text=candidate.text,
                start=candidate.start,
                end=candidate.end,
                label=candidate.label,
                sentence=index[key],
            )
        )
    return sentences, refs


class Place(_Model):
    """A place mentioned in the article, resolved to a GeoNames entry."""

    name: str
    geonameid: int
    latitude: float = Field(ge=-90.0, le=90.0)
    longitude: float = Field(ge=-180.0, le=180.0)
    country_code: str | None
    admin1: str | None = None
    feature_class: str
    feature_code: str
    population: int = Field(ge=0)
    confidence: float = Field(ge=0.0, le=1.0)
    focus: bool = Field(default=False, description="True for the place the article is about.")
    mentions: list[Mention]


class PlacesResult(_Model):
    """Geocoder output."""

    schema_version: int = SCHEMA_VERSION
    meta: ArticleMeta
    places: list[Place]
    info: StageInfo
    entities: list[Entity] | None = Field(
        default=None,
        description=(
            "The article's entities with labels that agree with the places: a mention "
            "resolved as a place is GPE, LOC or FAC, a name judged no place is not, and a "
            "place mention the entity stage missed is an entity. None when the entity "
            "stage's list needs no change."
        ),
    )


class SummarySentence(_Model):
    """A sentence chosen for the summary, with its offsets in the article text."""

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    score: float


class Summary(_Model):
    """An extractive summary: chosen sentences in text order, and their joined text."""

    sentences: list[SummarySentence]
    text: str


class SummaryResult(_Model):
    """Summarizer output."""

    schema_version: int = SCHEMA_VERSION
    meta: ArticleMeta
    summary: Summary | None
    info: StageInfo
    text: str | None = Field(
        default=None,
        description=(
            "Not written since the entity stage carries the text (EntitiesResult.text); "
            "read and ignored, so that an older summarizer's messages still validate."
        ),
    )


class StoryRef(_Model):
    """The story an article was placed in when it arrived (the stories stage)."""

    id: str = Field(description="The story's id: ``st-`` and 16 hex digits, stable.")
    is_new: bool = Field(description="True when this article started the story.")
    size: int = Field(ge=1, description="The story's article count with this article.")
    duplicate_of: str | None = Field(
        default=None,
        description="The earlier article whose text this one nearly repeats (the same "
        "copy give or take boilerplate), if any: the first article of that text.",
    )
    score: float = Field(
        allow_inf_nan=False,
        description="How well the article matched: its join score, the near-copy's "
        "estimated Jaccard, or the best score it missed by when it started a story.",
    )


class EnrichedEvent(_Model):
    """One article, enriched: the public output on ``{prefix}:enriched``."""

    schema_version: int = SCHEMA_VERSION
    id: str
    article: ArticleMeta
    entities: list[Entity] = Field(default_factory=list)
    places: list[Place] = Field(default_factory=list)
    focus: Place | None = None
    summary: Summary | None = None
    text: str | None = Field(
        default=None,
        description="The article's text: only when the pipeline runs with "
        "NEWSFLOW_EVENT_TEXT=true (every retained event then holds its text).",
    )
    story: StoryRef | None = Field(
        default=None, description="Its story; null when the stories stage is missing."
    )
    stages: dict[str, StageInfo]
    partial: bool
    missing_stages: list[str]
    enriched_at: AwareDatetime


class DeadLetter(_Model):
    """An entry a stage could not process, with the reason and the original payload."""

    schema_version: int = SCHEMA_VERSION
    stage: str
    reason: str
    error_type: str
    source_stream: str
    source_entry_id: str
    deliveries: int = Field(ge=0)
    article_id: str | None = None
    payload: str = Field(description="The entry's data field, decoded as UTF-8 with escapes.")
    fields: dict[str, str] = Field(description="The entry's other fields, if any.")
    failed_at: AwareDatetime = Field(default_factory=utc_now)
