"""``newsflow bench``: how close the pipeline runs to the speed of its language models.

One run measures, on real news texts (:mod:`~newsflow.bench.texts`):

1. the bare cost (:mod:`~newsflow.bench.bare`): the functions the services call
   (entities, geocoder, summarizer, stories) in this process, without Redis: CPU seconds per
   article and stage, and the ideal throughput of the machine's cores, ``cores / sum of
   the per-article CPU seconds of all stages``;
2. the same functions in as many processes side by side as ``newsflow up`` starts
   entities workers, each on its share of the texts: the second ideal, which counts what
   processes sharing the cores cost each other (``efficiency_vs_parallel_bare``);
3. the pipeline (:mod:`~newsflow.bench.pipeline`): every service as a process (the
   ``newsflow up`` supervisor) on a fresh embedded server (or the given one, under a
   stream prefix of its own); N articles admitted as fast as the admission path takes
   them; throughput from the first push to the last enriched event, and its
   ``efficiency``, the ratio to the bare ideal;
4. latency from push (the article's ``ingested_at``) to the enriched event (its
   ``enriched_at``) at a steady offered load of half that throughput;
5. resident memory of every service process (the largest per service), and Redis memory
   per article in flight, against the mean text size (:mod:`~newsflow.bench.watch`):
   sampled through the throughput phase, Redis' dataset memory above what it held before,
   less the growth of the output streams (events and story updates kept for
   subscribers, not work in flight) and of the stories stage's own state (reported apart:
   it grows with the articles seen, not with those in flight), over the articles admitted
   but not yet enriched; the largest such ratio while
   at least half the burst is in flight. The services run with replay retention off, so
   that accepted articles count while in flight only; what retention costs is reported
   apart, as the accepted entry's size (``wire_bytes_per_article``).

Timing on a machine shared with other work inflates wall-clock figures but hardly CPU
seconds, so the report (:mod:`~newsflow.bench.report`) also gives the pipeline's CPU
seconds per article by process (``cpu_efficiency``: bare CPU over pipeline CPU), a figure
the machine's load barely moves.
"""

from newsflow.bench.bare import STAGES, WIRE_STREAMS, measure_bare, measure_bare_parallel
from newsflow.bench.figures import efficiency, ideal_rate, latency_summary, percentile
from newsflow.bench.report import describe_report, run_bench
from newsflow.bench.texts import (
    BenchText,
    interleave,
    load_texts,
    make_article,
    make_articles,
    texts_of_file,
)
from newsflow.bench.watch import BenchError

__all__ = [
    "STAGES",
    "WIRE_STREAMS",
    "BenchError",
    "BenchText",
    "describe_report",
    "efficiency",
    "ideal_rate",
    "interleave",
    "latency_summary",
    "load_texts",
    "make_article",
    "make_articles",
    "measure_bare",
    "measure_bare_parallel",
    "percentile",
    "run_bench",
    "texts_of_file",
]
