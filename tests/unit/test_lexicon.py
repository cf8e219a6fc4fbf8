"""Word lists as data files: how a list is read, and what every list in the folder holds."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import shared.lexicon as lexicon
from shared.lexicon import entries, words

LEXICON = Path(lexicon.__file__).resolve().parent
LISTS = sorted(path.stem for path in LEXICON.glob("*.txt"))


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lexicon folder of the test's own (lists named ``_test_*``, so none is cached)."""
    monkeypatch.setattr(lexicon, "resources", SimpleNamespace(files=lambda _package: tmp_path))
    return tmp_path


def test_entries_skip_comments_and_blank_lines_and_keep_file_order(folder: Path) -> None:
    (folder / "_test_parsing.txt").write_text(
        "# What the list is for.\n"
        "#   and how it was made\n"
        "\n"
        "zeta\n"
        "  alpha  \n"
        "\t\n"
        "drew with   # an entry may hold spaces; a comment may follow it\n"
        "U.S.\n"
        "   # an indented comment\n"
        "mid\r\n"
        "last",
        encoding="utf-8",
    )
    assert entries("_test_parsing") == ("zeta", "alpha", "drew with", "U.S.", "mid", "last")


def test_words_is_the_set_of_the_entries(folder: Path) -> None:
    (folder / "_test_set.txt").write_text("# head\nb\na\nb\n", encoding="utf-8")
    assert words("_test_set") == frozenset({"a", "b"})
    assert entries("_test_set") == ("b", "a", "b")


def test_a_list_of_comments_only_is_empty(folder: Path) -> None:
    (folder / "_test_empty.txt").write_text("# nothing yet\n\n", encoding="utf-8")
    assert entries("_test_empty") == ()
    assert words("_test_empty") == frozenset()


def test_a_missing_list_is_an_error(folder: Path) -> None:
    with pytest.raises(FileNotFoundError):
        entries("_test_missing")


def test_the_folder_holds_lists() -> None:
    assert LISTS


@pytest.mark.parametrize("name", LISTS)
def test_every_list_has_entries_and_no_duplicates(name: str) -> None:
    found = entries(name)
    assert found, f"{name}.txt has no entries"
    repeated = sorted({entry for entry in found if found.count(entry) > 1})
    assert not repeated, f"{name}.txt repeats {repeated}"


@pytest.mark.parametrize("name", LISTS)
def test_every_list_says_what_it_is_for(name: str) -> None:
    head = (LEXICON / f"{name}.txt").read_text(encoding="utf-8").splitlines()[0]
    assert head.startswith("# "), f"{name}.txt does not start with a comment saying what it is"


# Read together as one regex alternation, not in the order the lists had before they were
# split into a shared list and a stage's extension: the order cannot matter only if each
# entry is one word of letters (with an abbreviation's final stop), so that no entry can
# match where another does.
ORDER_FREE = [
    ("person_titles", "entities_person_titles_extra"),
    ("function_words", "entities_long_name_words_extra"),
    ("arabic_articles", "entities_name_particles_extra", "entities_person_name_particles_extra"),
    ("place_kinds", "entities_place_kinds_extra"),
]


@pytest.mark.parametrize("names", ORDER_FREE)
def test_lists_read_as_one_alternation_hold_single_words(names: tuple[str, ...]) -> None:
    found = entries(*names)
    odd = [entry for entry in found if not entry.removesuffix(".").isalpha()]
    assert not odd, f"{names} hold entries whose order in an alternation may matter: {odd}"
    assert len(set(found)) == len(found), f"{names} share entries"
