"""The ``newsflow`` command: up, push, tail, status, dead, replay, service, gazetteer,
schemas, eval, bench. It parses (:mod:`newsflow.arguments`) and runs one of the
:mod:`newsflow.commands`, turning their failures into one line and an exit code."""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from newsflow.arguments import build_parser
from newsflow.commands.errors import EXIT_INTERNAL, EXIT_USAGE, CliError
from shared.redact import redact_text, url_secrets

#: Environment variables that set the thread pools of numpy's BLAS (OpenBLAS, MKL, OpenMP).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``newsflow`` command."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # One thread per process for numpy's BLAS: the pipeline runs a process per core, and
    # BLAS threads spinning beside them cost the summarizer a third more CPU (bench). Set
    # before numpy loads, which no import of this module does (tests/unit/test_cli_env.py).
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")
    args = build_parser().parse_args(argv)
    sys.exit(run_command(args))


def _known_secrets(args: argparse.Namespace) -> list[str]:
    urls = [getattr(args, "redis_url", None), os.environ.get("NEWSFLOW_REDIS_URL")]
    return [secret for url in urls if url for secret in url_secrets(url)]


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command. A :class:`CliError` is one line per problem and exit code
    2; any other exception (a bug) is one line too and code 70, the traceback only with
    ``NEWSFLOW_DEBUG=1`` (or for ``service``, whose output is a log). Whatever is printed
    has the Redis passwords in sight hidden."""
    secrets = _known_secrets(args)
    try:
        return int(args.func(args))
    except CliError as exc:
        for line in str(exc).splitlines():
            print(f"newsflow: {redact_text(line, secrets)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last resort: no traceback by default
        if os.environ.get("NEWSFLOW_DEBUG") == "1" or getattr(args, "tracebacks", False):
            text = "".join(traceback.format_exception(exc))
            print(redact_text(text, secrets), file=sys.stderr, end="")
        else:
            message = redact_text(f"{type(exc).__name__}: {exc}", secrets)
            print(
                f"newsflow: internal error: {message} (set NEWSFLOW_DEBUG=1 for the traceback)",
                file=sys.stderr,
            )
        return EXIT_INTERNAL
