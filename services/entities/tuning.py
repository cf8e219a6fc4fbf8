"""The entity stage's tuning numbers, in one place.

The values of the stage's first version were set by hand (commit b73853e) and none has
changed since; the history records no sweep of any of them. Those added later say how
each was chosen (h/ner: on one half of CoNLL-2003 dev, judged on the other). The
recognition values are judged together by ``newsflow eval ner --data
conll2003-dev.txt`` (micro-F1 0.8446 with these values; ``--half 1`` 0.8392, ``--half
2`` 0.8497), which should measure any change before it is kept. The salience weights
change no label or span, and no evaluation in the repository measures them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EntityTuning:
    """Thresholds, weights and lengths of the entity stage's rules."""

    #: Residue: a stripped line longer than this is text, never residue. Set by hand.
    residue_max_chars: int = 120
    #: Casing: words this long or shorter ("A", "I") do not count as shouted. Set by hand.
    shouting_short_word: int = 1
    #: Casing: a shouted headline has at least this many counted words. Set by hand.
    shouting_min_words: int = 2
    #: Casing: ... and at least this share of them in capitals. Set by hand.
    shouting_upper_share: float = 0.8
    #: Casing: a shouted word this long or longer without a vowel stays in capitals (an
    #: acronym, "NBP"); shorter ones ("MR") are titles. Set by hand (h/ner); CoNLL-2003
    #: dev F1 +0.0002 on half 1 and +0.0003 on half 2.
    acronym_min_letters: int = 3
    #: Tables: a results row has at least this many tokens with a digit. Set by hand.
    table_row_min_numbers: int = 2
    #: Tables: ... that are at least this share of its tokens. Set by hand.
    table_row_number_share: float = 0.25
    #: Tables: ... and at most this share of its tokens start in lower case. Set by hand.
    table_row_lower_share: float = 0.25
    #: Tables: a capitalised run in a row shorter than this names nothing. Set by hand.
    table_name_min_chars: int = 2
    #: Vote of a label set by layout (tables, "town of X", match sides); prose 1. Set by hand.
    layout_weight: int = 2
    #: Teams: a name of more words than this is no team and keeps its label. Set by hand.
    team_max_words: int = 3
    #: Acronyms: how far before "(NLD)" its long name is looked for, in chars. Set by hand.
    acronym_window_chars: int = 120
    #: Cues: how far before a name its previous word ("in") is looked for. Set by hand.
    previous_word_window_chars: int = 40
    #: A person's name of this many words or more loses a lower-case lead word. Set by hand.
    person_lead_cut_min_words: int = 3
    #: Propagation: a name shorter than this is not searched for again. Set by hand.
    propagate_min_chars: int = 2
    #: Propagation: a surname alone is searched for if longer than this. Set by hand.
    surname_short: int = 2
    #: Propagation: initials ("IS") of this many letters or more are searched for. Set by hand.
    initials_min_letters: int = 2
    #: Lists: a list of this many names or more gives its majority label to the rest.
    #: Chosen among 3 and 4 on CoNLL-2003 dev half 1, judged on half 2 (h/ner).
    list_min_names: int = 3
    #: Lists: ... when more than this share of the list has that label (a strict
    #: majority; a tie changes nothing). Chosen among 0.5, 0.6, 0.67, 0.75 on half 1,
    #: judged on half 2 (h/ner).
    list_majority: float = 0.5
    #: Salience: a first line shorter than this is a title, else the lead. Set by hand.
    title_max_chars: int = 200
    #: Salience: weight of the mention count (over the most mentioned's). Set by hand.
    salience_count: float = 0.5
    #: Salience: weight of how early the first mention comes. Set by hand.
    salience_position: float = 0.3
    #: Salience: weight of a mention in the title (the three weights sum to 1). Set by hand.
    salience_title: float = 0.2


#: The values the entity stage runs with.
TUNING = EntityTuning()
