"""The entity labels the stage keeps and shows the geocoder."""

from __future__ import annotations

#: OntoNotes labels that name things; dates, times and quantities are not entities here.
NAME_LABELS = frozenset(
    {
        "PERSON",
        "ORG",
        "GPE",
        "LOC",
        "NORP",
        "FAC",
        "EVENT",
        "PRODUCT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
    }
)
#: Labels whose spans the geocoder is shown (people too: the model often calls places people).
CANDIDATE_LABELS = frozenset({"GPE", "LOC", "FAC", "ORG", "NORP", "PERSON"})
# The label of a candidate that only the gazetteer recognised is the wire's:
# shared.schemas.GAZETTEER_LABEL, which the geocoder reads too.
#: Names that may end in a number or a common word ("Windows 95", "Euro 96").
TITLE_LIKE_LABELS = frozenset({"PRODUCT", "WORK_OF_ART", "LAW", "EVENT", "FAC"})
