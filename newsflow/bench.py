"""``newsflow bench``: how close the pipeline runs to the speed of its language models.

One run measures, on real news texts:

1. the bare cost: the functions the services call (entities, geocoder, summarizer) in this
   process, without Redis: CPU seconds per article and stage, and the ideal throughput of
   the machine's cores, ``cores / sum of the per-article CPU seconds of all stages``;
2. the pipeline: every service as a process (the ``newsflow up`` supervisor) on a fresh
   embedded server (or the given one, under a stream prefix of its own); N articles
   admitted as fast as the admission path takes them; throughput from the first push to
   the last enriched event, and its ``efficiency``, the ratio to the bare ideal;
3. latency from push (the article's ``ingested_at``) to the enriched event (its
   ``enriched_at``) at a steady offered load of half that throughput;
4. resident memory of every service process (the largest per service), and Redis memory
   per article in flight, against the mean text size: sampled through the throughput
   phase, Redis' dataset memory above what it held before, less the growth of the output
   streams (events kept for subscribers, not work in flight), over the articles admitted
   but not yet enriched; the largest such ratio while at least half the burst is in
   flight. The services run with replay retention off, so that accepted articles count
   while in flight only; what retention costs is reported apart, as the accepted entry's
   size (``wire_bytes_per_article``).

Timing on a machine shared with other work inflates wall-clock figures but hardly CPU
seconds, so the report also gives the pipeline's CPU seconds per article by process
(``cpu_efficiency``: bare CPU over pipeline CPU), a figure the machine's load barely moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import redis.asyncio as aredis
from pydantic import ValidationError

from newsflow.client import push_articles
from newsflow.supervisor import SERVICES, Supervisor, default_counts, start_redis
from services.entities.conll import parse_conll
from services.ingest.admit import Admitter, check_limits, to_article
from shared import __version__
from shared.embedded import EmbeddedRedis
from shared.pipeline import PIPELINE
from shared.redis_client import connect, ensure_groups, read_after
from shared.schemas import (
    Article,
    ArticleIn,
    EntitiesResult,
    PlacesResult,
    StageInfo,
    SummaryResult,
)
from shared.settings import Settings, load_settings
from shared.streams import DATA_FIELD, Keys
from shared.wire import encode, pack

log = logging.getLogger("newsflow.bench")

REPO = Path(__file__).resolve().parent.parent
#: The evaluation sets beside the repository (the handbook's data), read at run time.
EVAL_DIR = REPO.parent / "shared" / "data" / "eval"
#: The repository's own sample articles, when the evaluation sets are not there.
SAMPLES_DIR = REPO / "data" / "samples"

#: The stages whose bare cost is measured, in pipeline order.
STAGES = tuple(stage.name for stage in PIPELINE.merged)
#: The streams an article's messages pass through before the merge.
WIRE_STREAMS = tuple(stream.name for stream in PIPELINE.streams() if not stream.public)
#: How often service memory and Redis memory are sampled.
SAMPLE_INTERVAL_S = 0.2
#: Start-up (models load in every worker at once) and per-phase waiting limits.
STARTUP_TIMEOUT_S = 180.0
MIN_PHASE_TIMEOUT_S = 120.0


class BenchError(RuntimeError):
    """The pipeline did not deliver what the benchmark pushed (with the logs' tails)."""


# --------------------------------------------------------------------------- texts


@dataclass(frozen=True)
class BenchText:
    """One news text to benchmark on, with its headline when the data set has one."""

    text: str
    title: str | None = None


def _valid(text: object, title: object) -> BenchText | None:
    if not isinstance(text, str) or not text.strip():
        return None
    headline = title if isinstance(title, str) and title.strip() else None
    try:
        # The same rules ingest applies (no HTML pages, no NUL...): a text the pipeline
        # would reject measures nothing.
        ArticleIn(text=text, title=headline)
    except ValidationError:
        return None
    return BenchText(text, headline)


def texts_of_file(path: Path) -> list[BenchText]:
    """The texts in one file: JSON lines or JSON with a ``text`` (and ``title``) field,
    a CoNLL-2003 column file (one text per document), or a plain text file."""
    content = path.read_text(encoding="utf-8", errors="replace")
    found: list[BenchText | None] = []
    if path.suffix == ".jsonl":
        for line in content.splitlines():
            with contextlib.suppress(ValueError):
                doc = json.loads(line) if line.strip() else None
                if isinstance(doc, dict):
                    found.append(_valid(doc.get("text"), doc.get("title")))
    elif path.suffix == ".json":
        with contextlib.suppress(ValueError):
            document = json.loads(content)
            for doc in document if isinstance(document, list) else [document]:
                if isinstance(doc, dict):
                    found.append(_valid(doc.get("text"), doc.get("title")))
    elif content.startswith("-DOCSTART-"):
        found.extend(_valid(doc.text, None) for doc in parse_conll(content.splitlines()))
    else:
        found.append(_valid(content, None))
    return [text for text in found if text is not None]


def interleave(groups: Sequence[Sequence[BenchText]]) -> list[BenchText]:
    """Round-robin over the groups, so that even a few texts mix every source."""
    out: list[BenchText] = []
    for row in range(max((len(g) for g in groups), default=0)):
        out.extend(group[row] for group in groups if row < len(group))
    return out


def load_texts(data: Path | None = None) -> tuple[list[BenchText], Path]:
    """The texts to benchmark on, and the file or folder they came from.

    ``data`` is a file or a folder (searched recursively for ``.jsonl``, ``.json`` and
    ``.txt``); without it, the evaluation sets beside the repository when present, else
    the repository's samples. Texts are read at run time, never copied.
    """
    candidates = [data] if data is not None else [EVAL_DIR, SAMPLES_DIR]
    for source in candidates:
        if source.is_dir():
            files = [
                p
                for p in sorted(source.rglob("*"))
                if p.is_file() and p.suffix in (".jsonl", ".json", ".txt")
            ]
        elif source.is_file():
            files = [source]
        else:
            continue
        mixed = interleave([texts_of_file(path) for path in files])
        if mixed:
            return mixed, source
    raise FileNotFoundError(f"no news texts in {', '.join(str(c) for c in candidates)}")


def make_articles(
    texts: Sequence[BenchText], count: int, id_prefix: str, settings: Settings
) -> list[Article]:
    """``count`` accepted articles cycling through ``texts``, with ids of this run (so a
    repeated text is not a duplicate), ingested now."""
    return [
        make_article(texts[n % len(texts)], f"{id_prefix}-{n:06d}", settings) for n in range(count)
    ]


def make_article(text: BenchText, article_id: str, settings: Settings) -> Article:
    """One accepted article, ingested now, as the admission path builds it."""
    incoming = ArticleIn(id=article_id, text=text.text, title=text.title, source="bench")
    return to_article(check_limits(incoming, settings))


# --------------------------------------------------------------------------- pure maths


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks, as
    numpy's default; NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ideal_rate(cpu_s_per_article: Mapping[str, float], cores: int) -> float:
    """Articles per second ``cores`` cores could enrich if the stages' CPU were all it took:
    ``cores / sum of the per-article CPU seconds``."""
    total = sum(cpu_s_per_article.values())
    if cores < 1 or total <= 0:
        raise ValueError("need at least one core and a positive cost per article")
    return cores / total


def efficiency(throughput: float, ideal: float) -> float:
    """The pipeline's throughput as a fraction of the bare ideal for the same cores."""
    if ideal <= 0:
        raise ValueError("the ideal throughput must be positive")
    return throughput / ideal


def latency_summary(latencies: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99, mean and max of latencies in seconds."""
    return {
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "mean": sum(latencies) / len(latencies) if latencies else math.nan,
        "max": max(latencies) if latencies else math.nan,
    }


# --------------------------------------------------------------------------- bare cost


def measure_bare(texts: Sequence[BenchText], settings: Settings) -> dict[str, dict[str, float]]:
    """CPU and wall seconds per article of each stage's functions, in this process, and the
    mean size of each stage's message on the wire (as the stages send them: the accepted
    article compressed, the stage results plain).

    The entity stage runs as its worker runs it: batches of ``settings.batch_size`` through
    one ``nlp.pipe``, with the gazetteer predicate. A few texts go through first, unmeasured,
    as the pipeline's warm-up articles do. Messages are encoded outside the timed spans.
    """
    from services.entities.extract import extract_entities, load_nlp
    from services.geocoder.gazetteer import Gazetteer, ensure_gazetteer
    from services.geocoder.resolve import resolve_places
    from services.summarizer.rank import summarize

    nlp = load_nlp()
    gazetteer = Gazetteer.open(ensure_gazetteer(settings.gazetteer_path))

    def is_place(name: str) -> bool:
        return bool(gazetteer.lookup(name))

    cpu = dict.fromkeys(STAGES, 0.0)
    wall = dict.fromkeys(STAGES, 0.0)
    wire = dict.fromkeys(("text", *WIRE_STREAMS), 0.0)

    def run(batch: Sequence[BenchText], *, measured: bool) -> None:
        clocks = (time.process_time(), time.perf_counter())
        extractions = extract_entities(
            nlp, [t.text for t in batch], is_place=is_place, batch_size=settings.batch_size
        )
        clocks = _add(cpu, wall, "entities", clocks, measured)
        places = [resolve_places(e.candidates, gazetteer) for e in extractions]
        clocks = _add(cpu, wall, "geocoder", clocks, measured)
        summaries = [
            summarize(t.text, title=t.title, max_sentences=settings.summary_sentences)
            for t in batch
        ]
        _add(cpu, wall, "summarizer", clocks, measured)
        if measured:
            for item, extraction, found, summary in zip(
                batch, extractions, places, summaries, strict=True
            ):
                article = make_article(item, "bench-wire", settings)
                messages = {
                    "accepted": article,
                    "entities": EntitiesResult.of(
                        article.meta,
                        extraction.entities,
                        extraction.candidates,
                        _info("entities"),
                    ),
                    "places": PlacesResult(meta=article.meta, places=found, info=_info("geocoder")),
                    "summaries": SummaryResult(
                        meta=article.meta, summary=summary, info=_info("summarizer")
                    ),
                }
                wire["text"] += len(item.text.encode("utf-8"))
                for stream, message in messages.items():
                    sent = pack(message) if stream == "accepted" else encode(message)
                    wire[stream] += len(sent)

    run(texts[:8], measured=False)
    for start in range(0, len(texts), settings.batch_size):
        run(texts[start : start + settings.batch_size], measured=True)
    gazetteer.close()
    # A stage declared in the pipeline but not run above would make the ideal a lie.
    unmeasured = [stage for stage in STAGES if texts and not cpu[stage]]
    if unmeasured:
        raise RuntimeError(f"the bare run does not measure {', '.join(unmeasured)}")
    count = max(1, len(texts))
    return {
        "cpu_s": {stage: cpu[stage] / count for stage in STAGES},
        "wall_s": {stage: wall[stage] / count for stage in STAGES},
        "wire_bytes": {name: size / count for name, size in wire.items()},
    }


def _info(stage: str) -> StageInfo:
    return StageInfo(stage=stage, status="ok", duration_s=0.0, service_version=__version__)


def _add(
    cpu: dict[str, float],
    wall: dict[str, float],
    stage: str,
    since: tuple[float, float],
    measured: bool,
) -> tuple[float, float]:
    now = (time.process_time(), time.perf_counter())
    if measured:
        cpu[stage] += now[0] - since[0]
        wall[stage] += now[1] - since[1]
    return now


# --------------------------------------------------------------------------- the pipeline


@dataclass
class _Seen:
    """An enriched event of this run: when it was seen, and its own timestamps."""

    observed: float
    ingested_at: float
    enriched_at: float
    partial: bool


def _stamp(value: object) -> float:
    return datetime.fromisoformat(str(value)).timestamp()


@dataclass
class _Events:
    """Follows the enriched stream and keeps this run's events by article id."""

    client: aredis.Redis
    keys: Keys
    id_prefix: str
    seen: dict[str, _Seen] = field(default_factory=dict)

    async def follow(self) -> None:
        last = "0-0"
        while True:
            entries = await read_after(
                self.client, self.keys.enriched, last, count=1000, block_ms=100
            )
            observed = time.time()
            for entry_id, fields in entries:
                last = entry_id.decode()
                payload = fields.get(DATA_FIELD)
                event: Any = json.loads(payload) if payload else None
                if not isinstance(event, dict):
                    continue
                article_id = str(event.get("id"))
                if not article_id.startswith(self.id_prefix):
                    continue
                self.seen[article_id] = _Seen(
                    observed=observed,
                    ingested_at=_stamp(event["article"]["ingested_at"]),
                    enriched_at=_stamp(event["enriched_at"]),
                    partial=bool(event.get("partial")),
                )

    def count(self, ids: Iterable[str]) -> int:
        return sum(1 for article_id in ids if article_id in self.seen)

    async def wait_for(self, ids: Sequence[str], timeout: float, pipeline: _Pipeline) -> None:
        deadline = time.monotonic() + timeout
        while self.count(ids) < len(ids):
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{len(ids) - self.count(ids)} of {len(ids)} articles not enriched after "
                    f"{timeout:.0f}s\n{pipeline.log_tails()}"
                )
            await asyncio.sleep(0.1)


@dataclass
class _Pipeline:
    """The services under test, and what is sampled from them while they run."""

    supervisor: Supervisor
    client: aredis.Redis
    rss: dict[str, int] = field(default_factory=dict)
    restarts: int = 0
    used_memory_peak: int = 0

    def processes(self) -> list[tuple[str, psutil.Process]]:
        found = []
        for child in self.supervisor.children:
            if child.process is not None and child.process.poll() is None:
                with contextlib.suppress(psutil.Error):
                    found.append((child.service, psutil.Process(child.process.pid)))
        return found

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far, summed per service."""
        total = dict.fromkeys(SERVICES, 0.0)
        for service, process in self.processes():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total[service] += times.user + times.system
        return total

    async def redis_cpu_seconds(self) -> float:
        info: Any = await self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    async def used_memory(self) -> int:
        info: Any = await self.client.info("memory")
        return int(info["used_memory"])

    async def sample(self) -> None:
        """Largest RSS per service, Redis' peak; restarts crashed children (and counts them)."""
        while True:
            for service, process in self.processes():
                with contextlib.suppress(psutil.Error):
                    self.rss[service] = max(self.rss.get(service, 0), process.memory_info().rss)
            self.used_memory_peak = max(self.used_memory_peak, await self.used_memory())
            self.restarts += len(self.supervisor.check())
            await asyncio.sleep(SAMPLE_INTERVAL_S)

    def log_tails(self, chars: int = 1500) -> str:
        parts = []
        for path in sorted(self.supervisor.log_dir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    async def wait_ready(self, keys: Keys, counts: Mapping[str, int]) -> None:
        """Until every process has started reading (its models loaded). Each service logs
        "running as consumer" once its subscribers run; group membership cannot tell, as
        Redis 7.0 adds a consumer to a group only when it is first given an entry."""
        del keys  # the logs name the processes; kept for the call sites
        expected = sum(counts.values())
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            logs = sorted(self.supervisor.log_dir.glob("*.log"))
            ready = [p for p in logs if "running as consumer" in p.read_text(errors="replace")]
            if len(ready) >= expected:
                return
            if time.monotonic() > deadline:
                raise BenchError(
                    f"services not ready after {STARTUP_TIMEOUT_S:.0f}s\n{self.log_tails()}"
                )
            await asyncio.sleep(0.2)


def _idle_seconds(before: Any, after: Any) -> float:
    """Seconds no process used, summed over the cores, between two ``psutil.cpu_times()``."""
    waiting = getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0)
    return float(after.idle - before.idle + waiting)


def _service_env(prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NEWSFLOW_METRICS_PORT"}
    env["NEWSFLOW_STREAM_PREFIX"] = prefix
    # Accepted articles kept for replays are not in flight: see the module docstring.
    env["NEWSFLOW_REPLAY_RETENTION_S"] = "0"
    return env


@dataclass
class _InFlightMemory:
    """Redis memory held for articles in flight, sampled while a burst goes through."""

    client: aredis.Redis
    keys: Keys
    events: _Events
    ids: Sequence[str]
    used_before: int = 0
    output_before: int = 0
    added_before: int = 0
    total_before: int = 0
    #: (dataset bytes held for work, all used bytes held for work, articles in flight)
    samples: list[tuple[int, int, int]] = field(default_factory=list)

    async def _output_bytes(self) -> int:
        total = 0
        for stream in (self.keys.enriched, self.keys.dead):
            total += int(await self.client.memory_usage(stream, samples=0) or 0)
        return total

    async def _added(self) -> int:
        try:
            info: Any = await self.client.xinfo_stream(self.keys.accepted)
        except aredis.ResponseError:
            return 0
        return int(info["entries-added"])

    async def start(self) -> None:
        """Take the baseline: memory, output streams and admissions before the burst."""
        info: Any = await self.client.info("memory")
        self.used_before = int(info["used_memory_dataset"])
        self.total_before = int(info["used_memory"])
        self.output_before = await self._output_bytes()
        self.added_before = await self._added()

    async def sample(self) -> None:
        """Until cancelled: (bytes held for work in flight, articles in flight)."""
        while True:
            info: Any = await self.client.info("memory")
            output = await self._output_bytes() - self.output_before
            in_flight = await self._added() - self.added_before - self.events.count(self.ids)
            working = int(info["used_memory_dataset"]) - self.used_before - output
            total = int(info["used_memory"]) - self.total_before - output
            if in_flight > 0:
                self.samples.append((working, total, in_flight))
            await asyncio.sleep(SAMPLE_INTERVAL_S)

    def bytes_per_article(self, *, overheads: bool = False) -> float:
        """The largest ratio of working bytes to articles in flight while at least half of
        the burst was in flight. Later, the few articles left share what every processed
        article keeps for a week (its dedupe and merge markers, about 150 bytes each) and
        what trimming has not yet reached, and the ratio says little about an article.
        ``overheads`` counts Redis' own too (client buffers of the burst's pipelines)."""
        most = self.peak()
        ratios = [(t if overheads else b) / n for b, t, n in self.samples if n * 2 >= most]
        return max(ratios, default=0.0)

    def peak(self) -> int:
        """The most articles in flight at once."""
        return max((n for _, _, n in self.samples), default=0)


async def _delete_prefix(client: aredis.Redis, prefix: str) -> None:
    batch: list[bytes] = []
    async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            await client.delete(*batch)
            batch = []
    if batch:
        await client.delete(*batch)


async def measure_pipeline(
    texts: Sequence[BenchText],
    count: int,
    *,
    redis_url: str,
    counts: Mapping[str, int],
    state_dir: Path,
) -> dict[str, Any]:
    """Throughput, latency at half of it, RSS and Redis memory of a running pipeline."""
    run = uuid.uuid4().hex[:8]
    prefix = f"bench-{run}"
    id_prefix = f"bench{run}"
    settings = load_settings(redis_url=redis_url, stream_prefix=prefix)
    keys = Keys(prefix)
    client = connect(redis_url)
    await ensure_groups(client, keys)
    supervisor = Supervisor(
        redis_url=redis_url,
        log_dir=state_dir / "logs",
        counts=counts,
        base_env=_service_env(prefix),
        http_port=0,
    )
    pipeline = _Pipeline(supervisor, client)
    events = _Events(connect(redis_url), keys, id_prefix)
    tasks = [asyncio.create_task(pipeline.sample()), asyncio.create_task(events.follow())]
    phase_timeout = max(MIN_PHASE_TIMEOUT_S, 2.0 * count)
    try:
        supervisor.start()
        started = time.monotonic()
        await pipeline.wait_ready(keys, counts)
        log.info("services ready in %.1fs", time.monotonic() - started)

        # Warm-up: every entities worker gets a batch, so no model or cache is cold below.
        warm = make_articles(texts, 4 * counts["entities"], f"{id_prefix}-warm", settings)
        await push_articles(client, settings, warm)
        await events.wait_for([a.meta.id for a in warm], phase_timeout, pipeline)

        # Throughput: everything at once, through the CLI's admission path.
        # Articles are made (validated, language detected) before the clocks start.
        burst = make_articles(texts, count, f"{id_prefix}-tput", settings)
        burst_ids = [a.meta.id for a in burst]
        memory = _InFlightMemory(client, keys, events, burst_ids)
        await memory.start()
        sampler = asyncio.create_task(memory.sample())
        tasks.append(sampler)
        cpu_before = pipeline.cpu_seconds()
        redis_cpu_before = await pipeline.redis_cpu_seconds()
        machine_before = psutil.cpu_times()
        own_before = time.process_time()
        first_push = time.time()
        await push_articles(client, settings, burst)
        log.info("pushed %d articles in %.2fs", count, time.time() - first_push)
        await events.wait_for(burst_ids, phase_timeout, pipeline)
        sampler.cancel()
        last_event = max(events.seen[i].enriched_at for i in burst_ids)
        cpu_after = pipeline.cpu_seconds()
        redis_cpu = await pipeline.redis_cpu_seconds() - redis_cpu_before
        machine_after = psutil.cpu_times()
        own_cpu = time.process_time() - own_before
        elapsed = max(last_event - first_push, 1e-6)
        throughput = count / elapsed
        log.info("throughput %.2f articles/s (%d in %.2fs)", throughput, count, elapsed)

        # Latency at a steady half load: one article at a time, evenly spaced.
        rate = throughput / 2
        admitter = Admitter(client, settings)
        steady_machine = psutil.cpu_times()
        steady_cpu = pipeline.cpu_seconds()
        steady_started = time.monotonic()
        steady: list[str] = []
        start = time.monotonic()
        for n in range(count):
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            article = make_article(texts[n % len(texts)], f"{id_prefix}-lat-{n:06d}", settings)
            await admitter.admit([article])
            steady.append(article.meta.id)
        await events.wait_for(steady, phase_timeout, pipeline)
        steady_s = time.monotonic() - steady_started
        steady_busy = sum(pipeline.cpu_seconds().values()) - sum(steady_cpu.values())
        steady_idle = _idle_seconds(steady_machine, psutil.cpu_times())
        latencies = [events.seen[i].enriched_at - events.seen[i].ingested_at for i in steady]
        observed = [events.seen[i].observed - events.seen[i].ingested_at for i in steady]

        text_bytes = [len(a.text.encode("utf-8")) for a in burst]
        mean_text = sum(text_bytes) / len(text_bytes)
        per_inflight = memory.bytes_per_article()
        cpu_used = {s: (cpu_after[s] - cpu_before.get(s, 0.0)) / count for s in SERVICES}
        cpu_used["redis"] = redis_cpu / count
        idle = _idle_seconds(machine_before, machine_after)
        stats = latency_summary(latencies)
        return {
            "throughput_articles_per_s": throughput,
            "throughput_seconds": elapsed,
            "pipeline_cpu_s_per_article": cpu_used,
            # Cores the pipeline kept busy, and cores nobody used, while it ran: with idle
            # cores the pipeline stalls; with none, it shared the machine.
            "pipeline_cores_busy": sum(cpu_used.values()) * count / elapsed,
            "machine_idle_cores": idle / elapsed,
            "bench_cores_busy": own_cpu / elapsed,
            "latency_offered_articles_per_s": rate,
            "latency_p50_s": stats["p50"],
            "latency_p95_s": stats["p95"],
            "latency_p99_s": stats["p99"],
            "latency_mean_s": stats["mean"],
            "latency_max_s": stats["max"],
            "latency_observed_p99_s": percentile(observed, 99),
            # Latency holds only if the machine still gives the pipeline the CPU it had
            # for the throughput phase: other work starting meanwhile shows up here.
            "latency_phase_services_cores_busy": steady_busy / steady_s,
            "latency_phase_machine_idle_cores": steady_idle / steady_s,
            "rss_mb": {s: round(b / 2**20, 1) for s, b in sorted(pipeline.rss.items())},
            "redis_used_memory_peak_mb": round(pipeline.used_memory_peak / 2**20, 2),
            "redis_inflight_articles_peak": memory.peak(),
            "redis_working_memory_peak_mb": round(
                max((b for b, _, _ in memory.samples), default=0) / 2**20, 2
            ),
            "redis_memory_samples": len(memory.samples),
            "redis_used_memory_per_inflight_article": memory.bytes_per_article(overheads=True),
            "redis_bytes_per_inflight_article": per_inflight,
            "text_bytes_mean": mean_text,
            "redis_memory_ratio_to_text": per_inflight / mean_text,
            "partial_events": sum(1 for s in events.seen.values() if s.partial),
            "dead_letters": int(await client.xlen(keys.dead)),
            "restarts": pipeline.restarts,
        }
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(supervisor.stop)
        with contextlib.suppress(aredis.RedisError, OSError):
            await _delete_prefix(client, prefix)
        await events.client.aclose()
        await client.aclose()


# --------------------------------------------------------------------------- the run


def run_bench(
    articles: int,
    *,
    data: Path | None,
    redis_url: str | None,
    workers: int | None,
    counts: Mapping[str, int] | None = None,
) -> dict[str, object]:
    """Measure the bare cost of the stages, then the pipeline on the same texts.

    ``articles`` is N, the articles pushed for throughput (and again for latency);
    ``data`` where the texts come from (see :func:`load_texts`); ``redis_url`` a server to
    use under a prefix of the run's own (its keys are deleted afterwards), else a fresh
    embedded one in a temporary folder; ``workers`` the entities processes (default: one
    per core); ``counts`` processes per service, for experiments. Returns the report.
    """
    if articles < 1:
        raise ValueError("benchmark at least one article")
    settings = load_settings()
    cores = os.cpu_count() or 1
    processes = dict(default_counts(cores))
    processes.update(counts or {})
    if workers:
        processes["entities"] = workers
    texts, source = load_texts(data)
    chosen = [texts[n % len(texts)] for n in range(articles)]
    load_start = os.getloadavg()[0]
    started_at = datetime.now().astimezone().isoformat(timespec="seconds")

    log.info("bare cost on %d texts from %s", articles, source)
    bare = measure_bare(chosen, settings)
    cpu_total = sum(bare["cpu_s"].values())
    ideal = ideal_rate(bare["cpu_s"], cores)

    # The bare phase's model stays loaded: keep it out of this process' collections, as
    # the services do with theirs, so the benchmark takes little CPU from the pipeline.
    gc.collect()
    gc.freeze()
    log.info("pipeline with %s", processes)
    with tempfile.TemporaryDirectory(prefix="nf-bench-", dir="/tmp") as tmp:
        url, embedded = start_redis(redis_url, Path(tmp))
        try:
            measured = asyncio.run(
                measure_pipeline(
                    chosen, articles, redis_url=url, counts=processes, state_dir=Path(tmp)
                )
            )
        finally:
            if isinstance(embedded, EmbeddedRedis):
                embedded.stop()

    throughput = float(measured["throughput_articles_per_s"])
    pipeline_cpu = measured["pipeline_cpu_s_per_article"]
    # The cores the pipeline had: those it kept busy plus those nobody used. On an idle
    # machine that is every core (less the benchmark's own share), and this is `efficiency`.
    obtained = float(measured["pipeline_cores_busy"]) + float(measured["machine_idle_cores"])
    return {
        "started_at": started_at,
        "articles": articles,
        "cores": cores,
        "processes": processes,
        "batch_size": settings.batch_size,
        "texts": str(source),
        "redis": "given" if redis_url else "embedded",
        "load_average_1m": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "bare_cpu_s_per_article": {**bare["cpu_s"], "total": cpu_total},
        "bare_wall_s_per_article": {**bare["wall_s"], "total": sum(bare["wall_s"].values())},
        "bare_articles_per_s": 1.0 / cpu_total,
        # Mean bytes of each message an article makes, next to its text's: what Redis holds
        # for an article between its stages, until the work streams are trimmed.
        "wire_bytes_per_article": {k: round(v) for k, v in bare["wire_bytes"].items()},
        "ideal_articles_per_s": ideal,
        **measured,
        "efficiency": efficiency(throughput, ideal),
        "efficiency_on_cores_obtained": throughput * cpu_total / obtained,
        "cpu_efficiency": cpu_total / sum(pipeline_cpu.values()),
    }


def describe_report(report: Mapping[str, Any]) -> str:
    """The report as a few readable lines."""
    bare = report["bare_cpu_s_per_article"]
    lines = [
        f"{report['articles']} articles from {report['texts']}, {report['cores']} cores, "
        f"processes {report['processes']}, load {report['load_average_1m']}",
        "bare CPU per article: "
        + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in bare.items())
        + f" -> {report['bare_articles_per_s']:.1f}/s per core, "
        f"ideal {report['ideal_articles_per_s']:.1f}/s",
        f"pipeline: {report['throughput_articles_per_s']:.2f} articles/s, "
        f"efficiency {report['efficiency']:.2f} "
        f"({report['efficiency_on_cores_obtained']:.2f} on the cores it got, "
        f"CPU efficiency {report['cpu_efficiency']:.2f}); "
        f"cores busy {report['pipeline_cores_busy']:.2f}, idle {report['machine_idle_cores']:.2f}",
        "pipeline CPU per article: "
        + ", ".join(
            f"{k} {v * 1000:.1f} ms" for k, v in report["pipeline_cpu_s_per_article"].items()
        ),
        f"latency at {report['latency_offered_articles_per_s']:.2f}/s: "
        f"p50 {report['latency_p50_s']:.3f}s p95 {report['latency_p95_s']:.3f}s "
        f"p99 {report['latency_p99_s']:.3f}s (idle cores meanwhile "
        f"{report['latency_phase_machine_idle_cores']:.2f})",
        "RSS (MB): " + ", ".join(f"{k} {v}" for k, v in report["rss_mb"].items()),
        f"Redis per in-flight article: {report['redis_bytes_per_inflight_article']:.0f} bytes "
        f"({report['redis_memory_ratio_to_text']:.2f}x the mean text)",
        "message bytes per article: "
        + ", ".join(f"{k} {v}" for k, v in report["wire_bytes_per_article"].items()),
    ]
    return "\n".join(lines)
