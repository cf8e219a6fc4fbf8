"""The tools beside the pipeline: ``gazetteer`` (build or import the index), ``schemas``,
``eval`` (score a stage) and ``bench``. Each imports what it needs only when run: the
stages load spaCy and numpy."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from newsflow.commands.errors import CliError


def cmd_gazetteer(args: argparse.Namespace) -> int:
    """Build the gazetteer index from the packaged data, or import a GeoNames dump."""
    if args.action == "import":
        return _import_gazetteer(args)
    from services.geocoder.gazetteer import build_gazetteer, default_gazetteer_path

    out = Path(args.out) if args.out else default_gazetteer_path()
    info = build_gazetteer(out)
    print(f"gazetteer written to {out}: {info}")
    return 0


def _import_gazetteer(args: argparse.Namespace) -> int:
    from services.geocoder.geonames_import import import_geonames

    if not args.all_countries or not args.out:
        raise CliError("gazetteer import: --all-countries FILE and --out FILE are required")

    def optional(value: str | None) -> Path | None:
        if value and not Path(value).is_file():
            raise CliError(f"gazetteer import: no such file: {value}")
        return Path(value) if value else None

    info = import_geonames(
        optional(args.all_countries) or Path(args.all_countries),
        optional(args.alternate_names),
        optional(args.admin1),
        optional(args.admin2),
        optional(args.country_info),
        Path(args.out),
        min_population=args.min_population,
    )
    print(f"gazetteer imported to {info.path}: {info}")
    print(f"point the services at it: NEWSFLOW_GAZETTEER_PATH={info.path.resolve()}")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    """Write the JSON Schemas and the AsyncAPI document of the messages."""
    from shared.contract import write_documents

    for path in write_documents(Path(args.out)):
        print(f"wrote {path}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a stage on an evaluation set; the last line of ``--json`` is one JSON object."""
    if args.half is not None and args.task == "geo":
        raise CliError(f"--half: eval {args.task} scores the whole file")
    if args.skip and args.task != "ner":
        raise CliError("--skip: only eval ner leaves steps out")
    if args.task == "ner":
        from services.entities.evaluate import evaluate_ner
        from services.entities.extract import STEP_NAMES

        skip = frozenset(name.strip() for name in args.skip.split(",") if name.strip())
        if skip - set(STEP_NAMES):
            unknown = ", ".join(sorted(skip - set(STEP_NAMES)))
            raise CliError(f"--skip: no step {unknown}; the steps: {', '.join(STEP_NAMES)}")
        result = evaluate_ner(args.data, limit=args.limit, half=args.half, skip=skip)
    elif args.task == "geo":
        from services.geocoder.evaluate import evaluate_geo

        result = evaluate_geo(args.data, limit=args.limit)
    elif args.task == "stories":
        from services.stories.evaluate import evaluate_stories

        result = evaluate_stories(args.data, limit=args.limit, half=args.half)
    else:
        from services.summarizer.evaluate import evaluate_summaries

        result = evaluate_summaries(args.data, limit=args.limit, half=args.half)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Measure the pipeline against the bare cost of its models; the last line of
    ``--json`` is one JSON object."""
    from newsflow.bench import describe_report, run_bench

    # Progress goes to stderr, so that stdout holds only the report.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.stories_window:
        from newsflow.bench.stories import describe_story_window, measure_story_window
        from newsflow.bench.texts import load_texts
        from shared.settings import load_settings

        texts, _ = load_texts(Path(args.data) if args.data else None)
        window = measure_story_window(texts, args.stories_window, args.articles, load_settings())
        print(json.dumps(window) if args.json else describe_story_window(window))
        return 0
    report = run_bench(
        args.articles,
        data=Path(args.data) if args.data else None,
        redis_url=args.redis_url,
        workers=args.workers,
    )
    print(json.dumps(report) if args.json else describe_report(report))
    return 0
