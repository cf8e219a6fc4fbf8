"""One name, one entity: names found again where the model missed them, one label per
name, aliases ("Volesky", "IS", "Daesh (IS)") grouped, and each entity's salience."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from spacy.lang.en.stop_words import STOP_WORDS

from services.entities.names import ACRONYM, WORD, initials, name_key, name_tokens
from services.entities.spans import Span
from services.entities.tuning import TUNING
from shared.schemas import Entity, Mention


def propagate(text: str, spans: list[Span]) -> list[Span]:
    """Find again, where the model missed them, names it recognised elsewhere in the text.

    Also adds a person's surname alone ("Volesky") and an organisation's acronym ("IS") when
    they occur as capitalised words of their own.
    """
    taken = bytearray(len(text) + 1)
    for span in spans:
        taken[span.start : span.end] = b"\x01" * (span.end - span.start)

    forms: dict[str, str] = {}
    for span in sorted(spans, key=lambda s: s.end - s.start, reverse=True):
        surface = text[span.start : span.end]
        forms.setdefault(surface, span.label)
        if span.label == "PERSON":
            words = surface.split()
            if len(words) > 1:
                last = words[-1]
                stem = name_tokens(last)
                # "al-Baghdadi" is also written "Baghdadi".
                bare = last[len(last) - len(stem[-1]) :] if stem else last
                for form in {last, bare}:
                    if (
                        len(form) > TUNING.surname_short
                        and form[0].isupper()
                        and form.lower() not in STOP_WORDS
                    ):
                        forms.setdefault(form, "PERSON")
        elif span.label in {"ORG", "GPE", "NORP", "LOC", "FAC"} and len(surface.split()) > 1:
            letters = initials(surface)
            if len(letters) >= TUNING.initials_min_letters:
                forms.setdefault(letters, span.label)

    lowered_words = {w for w in WORD.findall(text) if w.islower()}
    wanted = {
        surface: label
        for surface, label in forms.items()
        if len(surface) >= TUNING.propagate_min_chars
        and (
            ACRONYM.match(surface)
            or (surface.lower() not in lowered_words and surface.lower() not in STOP_WORDS)
        )
    }
    if not wanted:
        return spans
    # One pass with every form, longest first, rather than one pass per form.
    alternatives = "|".join(re.escape(f) for f in sorted(wanted, key=len, reverse=True))
    added: list[Span] = []
    for match in re.finditer(r"(?<!\w)(?:" + alternatives + r")(?!\w)", text):
        start, end = match.span()
        if any(taken[start:end]):
            continue
        taken[start:end] = b"\x01" * (end - start)
        added.append(Span(start, end, wanted[match.group()], from_model=False))
    return sorted([*spans, *added], key=lambda s: s.start)


def consistent_labels(text: str, spans: list[Span]) -> None:
    """Give every occurrence of a name the label most of its model occurrences have."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for span in spans:
        if span.from_model:
            votes[name_key(text[span.start : span.end])][span.label] += span.weight
    for span in spans:
        counted = votes.get(name_key(text[span.start : span.end]))
        if counted and not span.locked:
            best = counted.most_common()
            # On a tie keep the span's own label.
            if best[0][1] > counted.get(span.label, 0):
                span.label = best[0][0]


class _Clusters:
    """Union-find over span indexes."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


# A line's opening run of capitalised words: "Kathmandu, Nepal", "WASHINGTON".
_LINE_HEAD = re.compile(r"[ \t]*(?:[A-Z][\w.'’-]*[ \t]*,?[ \t]*){1,4}")


def _opens_its_line(text: str, span: Span) -> bool:
    """Whether ``span`` ends a run of capitalised words that opens its line (a dateline's
    place), rather than standing in a sentence ("We are telling Daesh (IS)")."""
    line_start = text.rfind("\n", 0, span.start) + 1
    return _LINE_HEAD.fullmatch(text, line_start, span.end) is not None


def _cluster(text: str, spans: list[Span]) -> list[list[int]]:
    """Group the spans that name the same thing: same name, surname, acronym, "X (Y)"."""
    clusters = _Clusters(len(spans))
    by_key: dict[str, int] = {}
    locked_by_key: dict[str, int] = {}
    for i, span in enumerate(spans):
        key = name_key(text[span.start : span.end])
        mapping = locked_by_key if span.locked else by_key
        if key in mapping:
            clusters.union(mapping[key], i)
        else:
            mapping[key] = i
    # A dateline's place is the body's place of that name, not a club named after it.
    for key, i in locked_by_key.items():
        if key in by_key and spans[by_key[key]].label == spans[i].label:
            clusters.union(by_key[key], i)

    people = [(i, name_tokens(text[s.start : s.end])) for i, s in enumerate(spans)]
    people = [(i, tokens) for i, tokens in people if spans[i].label == "PERSON" and tokens]
    # The full names by surname, as clusters. Joining a lone word to its one owner never
    # merges two full names' clusters, so these sets hold for the whole loop, and a lone
    # word is one look-up rather than a pass over every full name.
    owners_of: dict[str, set[int]] = defaultdict(set)
    for j, tokens in people:
        if len(tokens) > 1:
            owners_of[tokens[-1]].add(clusters.find(j))
    for i, tokens in people:
        if len(tokens) != 1:
            continue
        owners = owners_of.get(tokens[0], set())
        if len(owners) == 1:
            clusters.union(i, next(iter(owners)))

    spelled_out: dict[str, int] = {}
    for j, other in enumerate(spans):
        name = text[other.start : other.end]
        if len(name.split()) > 1:
            spelled_out.setdefault(initials(name), j)
    for i, span in enumerate(spans):
        surface = text[span.start : span.end]
        if ACRONYM.match(surface) and surface.replace(".", "") in spelled_out:
            clusters.union(i, spelled_out[surface.replace(".", "")])

    # "Daesh (IS)", "Islamic State (IS)": a name and its parenthesised acronym. Not
    # "Jonas Bjorkman (Sweden)" or "Mark Crear (U.S.)": a person's or place's country,
    # nor "Kathmandu, Nepal (CNN)": a dateline's agency.
    for i in range(len(spans) - 1):
        first, second = spans[i], spans[i + 1]
        between = text[first.end : second.start]
        if not re.fullmatch(r"\s*\(\s*", between) or text[second.end : second.end + 1] != ")":
            continue
        alias = text[second.start : second.end]
        if not ACRONYM.match(alias):
            continue
        spelled = initials(text[first.start : first.end]) == alias.replace(".", "")
        organisations = second.label not in {"GPE", "LOC", "PERSON"} and first.label != "PERSON"
        if organisations and first.label in {"GPE", "LOC"} and _opens_its_line(text, first):
            continue  # "Kathmandu, Nepal (CNN)": a dateline and its agency
        if spelled or organisations:
            clusters.union(i, i + 1)

    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(spans)):
        groups[clusters.find(i)].append(i)
    return list(groups.values())


def _title_end(text: str) -> int:
    """End of the first line: the title, or the lead when the text has no title."""
    newline = text.find("\n")
    first = text if newline < 0 else text[:newline]
    return len(first) if len(first) < TUNING.title_max_chars else 0


def group_entities(text: str, spans: list[Span]) -> tuple[list[Entity], list[Span]]:
    """The entities of ``text`` (by salience), and the spans with their entity's label."""
    groups = _cluster(text, spans)
    title_end = _title_end(text)
    max_count = max((len(g) for g in groups), default=1)
    length = max(len(text), 1)
    found: list[tuple[int, Entity]] = []
    labelled: list[Span] = []
    for group in groups:
        members = [spans[i] for i in group]
        locked = [s.label for s in members if s.locked]
        votes: Counter[str] = Counter()
        for s in members:
            votes[s.label] += s.weight if s.from_model else 0
        label = (
            locked[0]
            if locked
            else (+votes or Counter(s.label for s in members)).most_common(1)[0][0]
        )
        for member in members:
            member.label = label
        labelled.extend(members)
        names = [text[s.start : s.end] for s in members]
        name = max(names, key=lambda n: (len(n.split()), len(n), n))
        first = min(s.start for s in members)
        in_title = any(s.end <= title_end for s in members)
        salience = (
            TUNING.salience_count * len(members) / max_count
            + TUNING.salience_position * (1.0 - first / length)
            + TUNING.salience_title * in_title
        )
        found.append(
            (
                first,
                Entity(
                    name=" ".join(name.split()),
                    label=label,
                    mentions=[
                        Mention(text=text[s.start : s.end], start=s.start, end=s.end)
                        for s in sorted(members, key=lambda s: s.start)
                    ],
                    count=len(members),
                    salience=round(min(1.0, max(0.0, salience)), 4),
                ),
            )
        )
    found.sort(key=lambda pair: (-pair[1].salience, pair[0]))
    return [e for _, e in found], sorted(labelled, key=lambda s: s.start)
