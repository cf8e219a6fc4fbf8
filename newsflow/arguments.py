"""The ``newsflow`` command line: the argument types, each refusing a bad value in one line
before anything connects or starts, and the parser that ties every command to its
``cmd_*`` function."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, NoReturn

from newsflow.commands.errors import EXIT_USAGE
from newsflow.commands.pipeline import cmd_service, cmd_up
from newsflow.commands.session import DEFAULT_STATE_DIR
from newsflow.commands.stories import cmd_stories
from newsflow.commands.streams import cmd_dead, cmd_push, cmd_replay, cmd_status, cmd_tail
from newsflow.commands.tools import cmd_bench, cmd_eval, cmd_gazetteer, cmd_schemas
from newsflow.replay import stream_position
from newsflow.supervisor import SERVICES
from shared.redact import redact_text
from shared.settings import check_redis_url

#: What ``tail --from`` takes besides an entry id, and the XREAD id each stands for.
TAIL_STARTS = {"now": "$", "begin": "0-0"}
_ENTRY_ID = re.compile(r"\d+(-\d+)?")


def tail_start(value: str) -> str:
    """The XREAD id ``tail --from VALUE`` starts after: ``now``, ``begin`` or an entry id."""
    if value in TAIL_STARTS:
        return TAIL_STARTS[value]
    if _ENTRY_ID.fullmatch(value):
        return value
    raise argparse.ArgumentTypeError(
        "takes now, begin or an entry id (1700000000000-0 or 1700000000000)"
    )


def replay_position(value: str) -> str:
    """``value`` if ``replay --from/--to`` can use it: an entry id, an ISO 8601 time, - or +."""
    try:
        position = stream_position(value)
    except (ValueError, OverflowError):
        position = ""
    # A time before 1970 would be a negative id, which Redis refuses.
    if position in ("-", "+") or _ENTRY_ID.fullmatch(position):
        return value
    raise argparse.ArgumentTypeError(
        "takes an entry id (1700000000000-0), an ISO 8601 time after 1970 "
        "(2026-11-25T09:00:00Z; without an offset it is UTC), - (the first) or + (the last)"
    )


def existing_path(value: str) -> str:
    """``value`` if it names a file or folder."""
    if not Path(value).exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {value}")
    return value


def input_path(value: str) -> str:
    """A ``push`` input: ``-`` (stdin) or an existing file or folder, checked before
    anything connects or starts."""
    return value if value == "-" else existing_path(value)


def redis_url_option(value: str) -> str:
    """``--redis-url VALUE``, refused (without repeating it: it may hold a password)
    unless its scheme is one newsflow connects with."""
    try:
        return check_redis_url(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults shown in the help, except the empty ones (unset, off, none)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, [], argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Help with defaults; a usage mistake is one line (with any URL in it redacted)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print the mistake on one line and exit with :data:`EXIT_USAGE`."""
        self.exit(EXIT_USAGE, f"{self.prog}: {redact_text(message)} (see {self.prog} --help)\n")


def _server_options(parser: argparse.ArgumentParser) -> None:
    """How a command finds its Redis: --redis-url, NEWSFLOW_REDIS_URL, or a running up."""
    parser.add_argument(
        "--redis-url",
        type=redis_url_option,
        help="Redis to use (default: NEWSFLOW_REDIS_URL, else the server of the newsflow up "
        "running in --state-dir)",
    )
    parser.add_argument(
        "--state-dir",
        default=str(DEFAULT_STATE_DIR),
        help="state folder of the newsflow up whose server to use when no URL is given",
    )


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = _Parser(
        prog="newsflow",
        description="The ``newsflow`` command: up, push, tail, status, dead, replay, service, "
        "gazetteer, schemas, eval, bench.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser(
        "up",
        help="start every service (embedded Redis if no URL)",
        description="Start every service as supervised processes (restarted if they die), "
        "on the given Redis or an embedded one; SIGTERM or Ctrl-C stops them. The other "
        "commands, run in the same folder, find this pipeline's server by themselves.",
    )
    up.add_argument(
        "--redis-url",
        type=redis_url_option,
        help="Redis to use (default: NEWSFLOW_REDIS_URL, else an embedded server in --state-dir)",
    )
    up.add_argument(
        "--state-dir",
        default=str(DEFAULT_STATE_DIR),
        help="logs, the embedded server's data and up.json (where the other commands find "
        "this pipeline); one up per folder",
    )
    up.add_argument("--push", nargs="*", type=input_path, help="files or folders to push once up")
    up.add_argument("--once", action="store_true", help="stop after printing the pushed events")
    up.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the pushed events"
    )
    up.add_argument("--json", action="store_true", help="print the pushed events as JSON only")
    up.add_argument(
        "--entities-workers", type=int, help="entities processes (default: one per core)"
    )
    up.add_argument(
        "--metrics-port", type=int, default=9100, help="first metrics port (one per process)"
    )
    up.add_argument(
        "--http-host", help="ingest HTTP address (default: NEWSFLOW_HTTP_HOST, else 127.0.0.1)"
    )
    up.add_argument(
        "--http-port", type=int, help="ingest HTTP port (default: NEWSFLOW_HTTP_PORT, else 8080)"
    )
    up.set_defaults(func=cmd_up)

    push = sub.add_parser("push", help="push files, folders, .jsonl or - (stdin)")
    push.add_argument(
        "inputs", nargs="+", type=input_path, help="files, folders (recursively), .jsonl or -"
    )
    _server_options(push)
    push.add_argument("--wait", action="store_true", help="print the enriched events")
    push.add_argument("--timeout", type=float, default=120.0, help="seconds --wait waits")
    push.add_argument("--json", action="store_true", help="print the events as JSON only")
    push.add_argument("--http", metavar="URL", help="push through ingest's HTTP API at URL")
    push.add_argument(
        "--api-key-file", metavar="FILE", help="the key for --http (else NEWSFLOW_API_KEY)"
    )
    push.set_defaults(func=cmd_push)

    tail = sub.add_parser("tail", help="follow the enriched stream")
    tail.add_argument(
        "--from",
        dest="start",
        type=tail_start,
        default="now",
        help="now, begin, or an entry id (after which to start)",
    )
    tail.add_argument("--count", type=int, default=0, help="stop after so many events (0: never)")
    tail.add_argument("--json", action="store_true", help="print events as JSON lines")
    for kind in ("country", "place", "entity", "label", "source", "story"):
        tail.add_argument(
            f"--{kind}",
            action="append",
            default=[],
            help=f"only events with this {kind} (repeatable)",
        )
    _server_options(tail)
    tail.set_defaults(func=cmd_tail)

    stories = sub.add_parser("stories", help="the live stories, most recently active first")
    stories.add_argument("--limit", type=int, default=20, help="at most so many (0: all)")
    stories.add_argument("--json", action="store_true", help="print each story's card as JSON")
    _server_options(stories)
    stories.set_defaults(func=cmd_stories)

    status = sub.add_parser("status", help="lag, pending and dead letters per group")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    _server_options(status)
    status.set_defaults(func=cmd_status)

    dead = sub.add_parser("dead", help="list dead letters; --requeue sends them back")
    dead.add_argument(
        "--requeue", action="store_true", help="send the letters back to their stream"
    )
    dead.add_argument("--stage", help="only this stage's letters")
    dead.add_argument("--limit", type=int, default=1000, help="at most so many letters")
    dead.add_argument("--json", action="store_true", help="print letters as JSON lines")
    _server_options(dead)
    dead.set_defaults(func=cmd_dead)

    replay = sub.add_parser("replay", help="enrich a range of accepted articles again")
    replay.add_argument(
        "--from",
        dest="start",
        type=replay_position,
        default="-",
        help="entry id, ISO 8601 time or - (the first)",
    )
    replay.add_argument(
        "--to",
        dest="end",
        type=replay_position,
        default="+",
        help="entry id, ISO 8601 time or + (the last)",
    )
    replay.add_argument("--limit", type=int, default=10_000, help="at most so many articles")
    replay.add_argument("--wait", action="store_true", help="print the new events")
    replay.add_argument("--timeout", type=float, default=300.0, help="seconds --wait waits")
    _server_options(replay)
    replay.set_defaults(func=cmd_replay)

    service = sub.add_parser("service", help="run one service in this process")
    service.add_argument("name", choices=SERVICES, help="the service")
    # A service's log is read by whoever operates it: a crash there keeps its traceback.
    service.set_defaults(func=cmd_service, tracebacks=True)

    gazetteer = sub.add_parser(
        "gazetteer", help="gazetteer index: build it from the packaged data, or import GeoNames"
    )
    gazetteer.add_argument(
        "action", choices=["build", "import"], help="build the packaged index, or import"
    )
    gazetteer.add_argument(
        "--out",
        metavar="FILE",
        help="the index file (required to import; build default: the packaged location)",
    )
    gazetteer.add_argument(
        "--all-countries", metavar="FILE", help="GeoNames allCountries.txt (or cities500.txt ...)"
    )
    gazetteer.add_argument("--alternate-names", metavar="FILE", help="alternateNamesV2.txt")
    gazetteer.add_argument("--admin1", metavar="FILE", help="admin1CodesASCII.txt")
    gazetteer.add_argument("--admin2", metavar="FILE", help="admin2Codes.txt")
    gazetteer.add_argument("--country-info", metavar="FILE", help="countryInfo.txt")
    gazetteer.add_argument(
        "--min-population",
        type=int,
        default=500,
        metavar="N",
        help="import: smallest populated place kept; seats always are (0: every one)",
    )
    gazetteer.set_defaults(func=cmd_gazetteer)

    schemas = sub.add_parser("schemas", help="write JSON Schema and AsyncAPI documents")
    schemas.add_argument("--out", default="docs/api", help="folder to write them to")
    schemas.set_defaults(func=cmd_schemas)

    evaluate = sub.add_parser("eval", help="score a stage on evaluation data")
    evaluate.add_argument(
        "task", choices=["ner", "geo", "summary", "stories"], help="the stage to score"
    )
    evaluate.add_argument(
        "--data", required=True, type=existing_path, help="the evaluation data file or folder"
    )
    evaluate.add_argument("--limit", type=int, help="score only the first so many documents")
    evaluate.add_argument(
        "--half",
        type=int,
        choices=(1, 2),
        help="ner, summary, stories: score half 1 (the first ceil(n/2) documents) or half 2 "
        "(the rest)",
    )
    evaluate.add_argument(
        "--skip",
        default="",
        metavar="STEPS",
        help="ner: leave out these steps of the stage (comma-separated names, see RULES)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(func=cmd_eval)

    bench = sub.add_parser("bench", help="throughput, latency and memory against the models")
    bench.add_argument("--articles", type=int, default=500, help="articles per phase")
    bench.add_argument(
        "--data",
        type=existing_path,
        help="a .jsonl/.json/.txt file or folder (default: the evaluation sets)",
    )
    bench.add_argument(
        "--redis-url",
        type=redis_url_option,
        help="use this server (own prefix) instead of a fresh embedded one",
    )
    bench.add_argument("--workers", type=int, help="entities processes (default: one per core)")
    bench.add_argument(
        "--stories-window",
        type=int,
        metavar="N",
        help="instead: the stories stage alone, its window filled with N stories, on "
        "--articles news articles (no Redis)",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(func=cmd_bench)
    return parser
