"""The dashboard and alerts in deploy/ query only what newsflow exports, and show data.

Three layers: a static check that every PromQL expression names only metrics defined in
``shared/metrics.py``; ``promtool`` on the Prometheus config and rules (with a check that
breaking any one alert fails its unit tests); and a real Prometheus scraping a running
pipeline, asked every panel's query.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from shared import metrics
from tests.conftest import REPO, SAMPLE
from tests.e2e.harness import SERVICES, Pipeline

DEPLOY = REPO / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "newsflow.json"
PROMETHEUS_DIR = DEPLOY / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST = PROMETHEUS_DIR / "alerts_test.yml"

#: Series Prometheus writes itself for every target; the only names allowed beside
#: those of shared/metrics.py (NewsflowTargetDown reads ``up``).
SCRAPE_SERIES = frozenset({"up"})

#: Sample names a metric type exposes, after the family name prometheus_client reports
#: (counters are reported without their ``_total``, infos without their ``_info``).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}

#: Grafana's interval variables, replaced for Prometheus's own API: five minutes spans
#: the whole test, so a rate sees both rounds of articles.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "5m"}


def require(tool: str) -> str:
    """The path of a Prometheus binary: a skip without it, a failure in CI (CI installs it)."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (Debian: apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


# --- which metrics the queries name --------------------------------------------------


def defined_metric_names() -> set[str]:
    """Every sample name the metric objects of shared/metrics.py can expose."""
    names: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTORS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
# An identifier not glued to a number (the "m" of "10m", the "e3" of "1e3").
_NAMES = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}
)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects.

    Label values, matchers, ranges and grouping lists are removed first; what remains
    is functions and aggregations (followed by a parenthesis), keywords and names.
    """
    text = _STRINGS.sub('""', expr)
    text = _SELECTORS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    names = set()
    for match in _NAMES.finditer(text):
        followed_by = text[match.end() :].lstrip()[:1]
        if followed_by != "(" and match.group() not in _KEYWORDS:
            names.add(match.group())
    return names


def dashboard_panels() -> list[dict[str, Any]]:
    """The dashboard's panels, those inside rows included."""
    found: list[dict[str, Any]] = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title / refId, expression) of every target of the dashboard."""
    return [
        (f"{panel['title']} / {target['refId']}", target["expr"])
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
    ]


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of alerts.yml."""
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def all_queries() -> list[tuple[str, str]]:
    """Every PromQL expression in deploy/: dashboard targets and alert rules."""
    rules = [(f"alert {r.get('alert') or r['record']}", str(r["expr"])) for r in alert_rules()]
    return dashboard_queries() + rules


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('sum by (le) (rate(a_bucket{x="b"}[$__rate_interval]))', {"a_bucket"}),
        ("x_total offset 10m / on (stage) group_left y_info > 1e3", {"x_total", "y_info"}),
        ('label_replace(up == 0, "group", "$1", "stage", "(.+)") unless on () z', {"up", "z"}),
        ("histogram_quantile(0.9, sum without (instance) (rate(h_bucket[5m])))", {"h_bucket"}),
    ],
)
def test_metric_names_finds_exactly_the_selected_metrics(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


def test_defined_names_follow_the_exposition_format() -> None:
    names = defined_metric_names()
    # One of each type, as Prometheus stores them.
    for name in (
        "newsflow_stage_messages_total",
        "newsflow_end_to_end_latency_seconds_bucket",
        "newsflow_group_lag",
        "newsflow_build_info",
    ):
        assert name in names
    assert "newsflow_stage_messages" not in names
    assert "newsflow_build" not in names


def test_queries_name_only_metrics_the_code_defines() -> None:
    defined = defined_metric_names() | SCRAPE_SERIES
    queries = all_queries()
    assert len(queries) >= 25, "the dashboard or the rules lost their queries"
    unknown = {
        where: sorted(metric_names(expr) - defined)
        for where, expr in queries
        if metric_names(expr) - defined
    }
    assert not unknown, f"queries naming metrics shared/metrics.py does not define: {unknown}"
    empty = [where for where, expr in queries if not metric_names(expr)]
    assert not empty, f"queries that select no metric: {empty}"


def test_dashboard_covers_what_an_operator_needs() -> None:
    used = set().union(*(metric_names(expr) for _where, expr in dashboard_queries()))
    needed = {
        "newsflow_stage_messages_total",  # throughput, errors
        "newsflow_end_to_end_latency_seconds_bucket",
        "newsflow_group_lag",
        "newsflow_group_pending",
        "newsflow_group_oldest_pending_age_seconds",
        "newsflow_dead_letters_total",
        "newsflow_enriched_total",  # partial vs complete
        "newsflow_build_info",
        "newsflow_story_assignments_total",  # stories: new, joined, near-copies
        "newsflow_stories_live",
    }
    assert needed <= used, f"no panel shows {sorted(needed - used)}"
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique for Grafana"


# --- promtool ------------------------------------------------------------------------


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require("promtool"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_prometheus_config_is_valid() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_are_valid() -> None:
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_alert_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_breaking_any_alert_fails_its_unit_tests(tmp_path: Path) -> None:
    """Every alert is covered: replace one rule by a never-firing one, the tests must fail."""
    names = [rule["alert"] for rule in alert_rules()]
    tested = {case["alertname"] for case in _alert_cases()}
    assert set(names) <= tested, f"alerts without a unit test: {sorted(set(names) - tested)}"
    shutil.copy(ALERTS_TEST, tmp_path / "alerts_test.yml")
    for name in names:
        document = yaml.safe_load(ALERTS.read_text())
        for group in document["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == name:
                    rule["expr"] = "vector(1) unless vector(1)"  # an empty result, always
        (tmp_path / "alerts.yml").write_text(yaml.safe_dump(document))
        result = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
        assert result.returncode != 0, f"alerts_test.yml still passes with {name} broken"
        assert f"alertname: {name}" in result.stdout + result.stderr


def _alert_cases() -> Iterator[dict[str, Any]]:
    for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"]:
        yield from test.get("alert_rule_test", [])


# --- a real Prometheus on a running pipeline -----------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def metrics_ports(pipeline: Pipeline) -> dict[str, list[int]]:
    """The /metrics port of every process of the pipeline, by service.

    ``newsflow up`` gives each process its own port, from --metrics-port on, through
    NEWSFLOW_METRICS_PORT in the process's environment.
    """
    ports: dict[str, list[int]] = {}
    for service in SERVICES:
        for process in pipeline.workers(service):
            ports.setdefault(service, []).append(int(process.environ()["NEWSFLOW_METRICS_PORT"]))
    return ports


@dataclass
class PrometheusServer:
    """A ``prometheus`` process scraping the given ports every second, with our rules."""

    binary: str
    home: Path
    ports: dict[str, list[int]]

    def __post_init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {
                    # The job of deploy/prometheus/prometheus.yml, so `up{job=...}` matches.
                    "job_name": "newsflow",
                    "static_configs": [
                        {
                            "targets": [f"127.0.0.1:{port}" for port in service_ports],
                            "labels": {"component": service},
                        }
                        for service, service_ports in self.ports.items()
                    ],
                }
            ],
        }
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "prometheus.yml").write_text(yaml.safe_dump(config))
        self._log = (self.home / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.home / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.home / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def get(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:
            document = json.load(response)
        assert document["status"] == "success", document
        return document["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector (or scalar, as a one-element list)."""
        data = self.get("/api/v1/query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, expr: str) -> float:
        """The sum of an instant query's values; 0 for no data."""
        return sum(float(sample["value"][1]) for sample in self.query(expr))

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except OSError:
                pass  # not listening yet
            assert self.process.poll() is None, self.logs()
            time.sleep(0.25)
        raise AssertionError(f"{what}: not within {timeout}s\n{self.logs()}")

    def logs(self) -> str:
        return (self.home / "prometheus.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def _has_finite_value(result: list[dict[str, Any]]) -> bool:
    values = [float(sample["value"][1]) for sample in result]
    return any(value == value and abs(value) != float("inf") for value in values)


def grafana_to_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in re.sub(r'"[^"]*"', "", expr), f"unknown Grafana variable in {expr}"
    return expr


@pytest.fixture
def pipeline(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Pipeline]:
    # Gauges refreshed every second instead of five, so a scrape sees them sooner.
    running = Pipeline(
        redis_url, prefix, tmp_path / "state", extra_env={"NEWSFLOW_HOUSEKEEPING_S": "1"}
    )
    yield running
    running.stop()


@pytest.mark.e2e
@pytest.mark.redis
def test_every_dashboard_panel_shows_data_from_a_running_pipeline(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    binary = require("prometheus")
    pipeline.wait_ready()
    ports = metrics_ports(pipeline)
    assert set(ports) == set(SERVICES), ports
    server = PrometheusServer(binary, tmp_path / "prometheus", ports)
    try:
        targets = sum(len(p) for p in ports.values())
        server.wait("every process scraped", lambda: server.value("sum(up)") == targets)

        # Two rounds, a few scrapes apart: a labelled counter appears at its first
        # increment, and rate() needs it to move between two scrapes to be above 0.
        def scraped(rounds: int) -> bool:
            return (
                server.value("sum(newsflow_enriched_total)") >= rounds
                and server.value("sum(newsflow_dead_letters_total)") >= rounds
            )

        text = SAMPLE.read_text()
        for round_ in (1, 2):
            pipeline.xadd_article({"id": f"monitoring-{round_}", "text": text})
            pipeline.redis.xadd(pipeline.keys.articles, {"data": "not json"})
            pipeline.wait_events(round_, timeout=90)
            server.wait(f"round {round_} scraped", functools.partial(scraped, round_))
            time.sleep(3)  # gauges refreshed and scraped after the round

        missing: dict[str, str] = {}
        captured: dict[str, list[dict[str, Any]]] = {}
        # Scrapes and rule evaluation run every second; a query still empty after a
        # few more has a wrong name, label or matcher.
        deadline = time.monotonic() + 20
        for where, expr in dashboard_queries():
            promql = grafana_to_promql(expr)
            result = server.query(promql)
            while not _has_finite_value(result) and time.monotonic() < deadline:
                time.sleep(0.5)
                result = server.query(promql)
            captured[where] = result
            if not _has_finite_value(result):
                missing[where] = f"{promql} -> {result}"
        assert not missing, "panels without data:\n" + "\n".join(
            f"{where}: {why}" for where, why in missing.items()
        )

        # The rules evaluate on real series without errors (a bad join fails only here),
        # and the dead letters just made raise their alert.
        rules = [r for g in server.get("/api/v1/rules")["groups"] for r in g["rules"]]
        assert len(rules) == len(alert_rules())
        broken = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
        assert not broken, broken
        server.wait(
            "NewsflowDeadLetters firing for ingest",
            lambda: any(
                a["labels"].get("alertname") == "NewsflowDeadLetters"
                and a["labels"].get("stage") == "ingest"
                and a["state"] == "firing"
                for a in server.get("/api/v1/alerts")["alerts"]
            ),
            timeout=15,
        )
        capture = os.environ.get("NEWSFLOW_DASHBOARD_CAPTURE")
        if capture:
            # tools/render_dashboard.py draws docs/dashboard.svg from these values.
            Path(capture).write_text(json.dumps(captured, indent=1))
    finally:
        server.stop()
