"""Sports teams in match reports: clubs named after their town are organisations."""

from __future__ import annotations

import re
from collections.abc import Callable

from services.entities.names import name_key
from services.entities.spans import Span
from services.entities.tuning import TUNING
from shared.lexicon import alternation, words

# Between two teams' names: "Surrey beat Warwickshire", "Nice drew with Guingamp".
_MATCH_VERBS = "(?:" + alternation("entities_match_verbs") + ")"
_MATCH_VERB = re.compile(r"[ \t]+" + _MATCH_VERBS + r"[ \t]+$")
# The opponent after the verb, when the model did not see it.
_OPPONENT = re.compile(
    r"[ \t]+" + _MATCH_VERBS + r"[ \t]+([A-Z][\w'’.-]*(?:[ \t]+[A-Z][\w'’.-]*){0,2})"
)
_LIST_JOIN = re.compile(r"[ \t]*(?:,|,?[ \t]+(?:and|&))[ \t]+")
# After a team's name: "Surrey captain Chris Lewis", "Newcastle team mate", "the Volgograd side".
_TEAM_ROLE = re.compile(
    r"(?P<possessive>['’]s)?[ \t]+(?P<role>"
    + alternation("entities_team_roles", gap=r"[ \t]")
    + r")\b"
)
_GROUP_ROLES = words("entities_team_group_roles")
# "serie A club Atalanta": a club word right before the name.
_CLUB_BEFORE = re.compile(r"(?<![\w-])(?:" + alternation("entities_club_words") + r")[ \t]+$")


def _is_team_role(text: str, span: Span) -> bool:
    """Whether a team role follows ``span`` ("Surrey captain"); a person's possessive
    before a group he has ("Ferguson's side") is no team's."""
    role = _TEAM_ROLE.match(text, span.end)
    if role is None:
        return False
    owned = role.group("possessive") is not None and role.group("role") in _GROUP_ROLES
    return not (owned and span.label == "PERSON")


def sports_teams(
    text: str,
    spans: list[Span],
    countries: frozenset[str],
    is_place: Callable[[str], bool] | None,
) -> list[Span]:
    """Clubs named after their town are organisations ("Surrey beat Warwickshire").

    Teams are the names on either side of a result verb, names before a team role
    ("Surrey captain"), names after a club word ("serie A club Atalanta": a club even
    if the model took it for a person), and names listed with a team ("Essex, Derbyshire
    and Surrey"). A national side keeps its country's label. A one-word "person" becomes a club only
    if the gazetteer (when there is one) knows it as a place: "Tyson beat Holyfield" is
    two people; without a gazetteer, :func:`~services.entities.repairs.short_forms`
    gives back to people the surnames of those the article names in full ("Barack Obama
    ... Obama beat McCain"). An opponent the model missed is added. These spans vote
    with :attr:`~services.entities.tuning.EntityTuning.layout_weight` when the
    article's occurrences of a name decide its label.
    """
    ordered = sorted(spans, key=lambda s: s.start)
    starts = {s.start for s in ordered}
    teams = {i for i, span in enumerate(ordered) if _is_team_role(text, span)}
    clubs = {
        id(span)
        for span in ordered
        if _CLUB_BEFORE.search(text, max(0, span.start - 20), span.start)
    }
    teams.update(i for i, span in enumerate(ordered) if id(span) in clubs)
    team_keys = {name_key(text[ordered[i].start : ordered[i].end]) for i in teams}
    added: list[Span] = []
    for i, first in enumerate(ordered):
        following = ordered[i + 1] if i + 1 < len(ordered) else None
        between = " " + text[first.end : following.start] if following is not None else ""
        if following is not None and _MATCH_VERB.fullmatch(between):
            teams.update((i, i + 1))
            continue
        opponent = _OPPONENT.match(text, first.end)
        if opponent is None or opponent.start(1) in starts:
            continue
        if following is not None and following.start < opponent.end(1):
            continue
        if first.label == "PERSON" and name_key(text[first.start : first.end]) not in team_keys:
            continue  # "Jonas Bjorkman beat Doug Flach": the missed name is a player's
        added.append(Span(opponent.start(1), opponent.end(1), "ORG", weight=TUNING.layout_weight))
        teams.add(i)
    # Names listed with a team are teams: "title rivals Essex, Derbyshire and Surrey".
    keys = {name_key(text[ordered[i].start : ordered[i].end]) for i in teams}
    teams.update(i for i, s in enumerate(ordered) if name_key(text[s.start : s.end]) in keys)
    # Every name of a list (a run of names joined by commas and "and") that holds a team,
    # found in one pass over the runs rather than a walk along the list from each team.
    if teams:
        listed = set(teams)
        run_start = 0
        for j in range(len(ordered)):
            last = j + 1 == len(ordered)
            if last or not _LIST_JOIN.fullmatch(text, ordered[j].end, ordered[j + 1].start):
                if any(k in listed for k in range(run_start, j + 1)):
                    teams.update(range(run_start, j + 1))
                run_start = j + 1
    for span in [*(ordered[i] for i in teams), *added]:
        surface = text[span.start : span.end]
        if span.locked or span.label == "NORP" or len(surface.split()) > TUNING.team_max_words:
            continue
        if name_key(surface) in countries:
            span.label = "GPE"
        elif (
            span.label == "PERSON"
            and id(span) not in clubs
            and (len(surface.split()) > 1 or (is_place is not None and not is_place(surface)))
        ):
            continue  # "Jonas Bjorkman beat ...", "Tyson beat ...": players
        else:
            span.label = "ORG"
        span.weight = TUNING.layout_weight
    return sorted([*ordered, *added], key=lambda s: s.start)
