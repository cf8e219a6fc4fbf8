"""The deployment files agree with the code: services, settings, streams, groups, ports.

No Docker engine or cluster is needed: the compose file and the Kubernetes manifests are
checked as data against what ``shared/`` and ``services/`` define (and the compose file
also by ``docker compose config`` where the compose plugin is installed).
"""

from __future__ import annotations

import fnmatch
import importlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsflow.supervisor import SERVICES
from shared.pipeline import PIPELINE
from shared.service import GRACEFUL_TIMEOUT_S
from shared.settings import Settings, load_settings
from shared.streams import Keys
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
DOCKERFILE = REPO / "Dockerfile"

#: Memory budgets of issue 8, in bytes.
MEMORY_LIMITS = {"entities": 400 * 2**20, "geocoder": 500 * 2**20}


def drain_timeout_s() -> float:
    """The time a service takes to drain after SIGTERM (FastStream's graceful_timeout)."""
    return GRACEFUL_TIMEOUT_S


def memory_bytes(quantity: str) -> int:
    """A Kubernetes or compose memory quantity (400Mi, 500M, 1Gi, 256m) in bytes."""
    match = re.fullmatch(r"([0-9.]+)\s*([KMGT]i?|[kmg])?[bB]?", str(quantity))
    assert match, f"not a memory quantity: {quantity}"
    number, unit = float(match.group(1)), match.group(2) or ""
    binary = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    # Docker reads k, m, g as binary units; Kubernetes reads K, M, G as decimal ones.
    docker = {"k": 2**10, "m": 2**20, "g": 2**30}
    decimal = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    return int(number * {**binary, **docker, **decimal}[unit])


def duration_s(text: str) -> float:
    """A compose duration (45s, 1m30s) in seconds."""
    parts = re.findall(r"([0-9.]+)(ms|s|m|h)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"not a duration: {text}"
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


# --- compose -------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def newsflow_services() -> dict[str, dict[str, Any]]:
    """The compose services that run a newsflow service, by newsflow service name."""
    found = {}
    for spec in compose()["services"].values():
        command = spec.get("command")
        if spec.get("image", "").startswith("newsflow:") and command:
            found[command[0]] = spec
    return found


def test_compose_runs_every_service_from_the_repository_image() -> None:
    services = newsflow_services()
    assert set(services) == set(SERVICES)
    for name, spec in services.items():
        assert spec["command"] == [name]
        context = (COMPOSE.parent / spec["build"]["context"]).resolve()
        assert context == REPO and (context / spec["build"]["dockerfile"]).is_file()
        assert duration_s(spec["stop_grace_period"]) > drain_timeout_s(), name
        assert spec["environment"]["NEWSFLOW_REDIS_URL"].startswith("redis://redis:")
        assert spec["depends_on"]["redis"]["condition"] == "service_healthy"


def test_compose_scales_entities_within_the_memory_budgets() -> None:
    services = newsflow_services()
    replicas = {name: spec["deploy"]["replicas"] for name, spec in services.items()}
    assert replicas["entities"] > 1
    assert replicas["entities"] == max(replicas.values()), "NER is the stage to scale"
    for name, limit in MEMORY_LIMITS.items():
        memory = services[name]["deploy"]["resources"]["limits"]["memory"]
        assert memory_bytes(memory) <= limit, f"{name}: {memory}"


def test_compose_redis_keeps_what_it_acknowledged() -> None:
    command = compose()["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--maxmemory-policy"] == "noeviction"
    assert any(v.endswith(":/data") for v in compose()["services"]["redis"]["volumes"])


def test_compose_prometheus_scrapes_every_service_on_its_metrics_port() -> None:
    services = compose()["services"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    (sd,) = job["dns_sd_configs"]
    assert set(sd["names"]) == set(SERVICES) and set(sd["names"]) <= set(services)
    for spec in newsflow_services().values():
        assert spec["environment"]["NEWSFLOW_METRICS_HOST"] == "0.0.0.0"
        assert int(spec["environment"]["NEWSFLOW_METRICS_PORT"]) == sd["port"]
    # A target label called "service" would rename the service label of build_info.
    assert all(r.get("target_label") != "service" for r in job.get("relabel_configs", []))


def test_compose_mounts_the_monitoring_files_where_they_are_read() -> None:
    services = compose()["services"]
    mounts = {
        name: {
            target: (COMPOSE.parent / source).resolve()
            for source, target, *_ in (v.split(":") for v in spec.get("volumes", []))
            if source.startswith(".")
        }
        for name, spec in services.items()
    }
    assert mounts["prometheus"]["/etc/prometheus"] == DEPLOY / "prometheus"
    assert any("/etc/prometheus/prometheus.yml" in a for a in services["prometheus"]["command"])
    assert mounts["grafana"]["/etc/grafana/provisioning"] == DEPLOY / "grafana" / "provisioning"
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "newsflow.yml").read_text()
    )["providers"][0]
    dashboards = mounts["grafana"][provider["options"]["path"]]
    assert (dashboards / "newsflow.json").is_file()
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"


def compose_validator() -> list[str] | None:
    """``docker compose`` (v2) where the plugin is installed, else Debian's ``docker-compose``."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    validator = compose_validator()
    if validator is None:
        pytest.skip("neither docker compose nor docker-compose is installed")
    path = COMPOSE
    if validator[0].endswith("docker-compose"):
        # docker-compose 1.x predates the top-level project name; the rest of the file is
        # the Compose Specification it validates.
        document = compose()
        document.pop("name")
        path = tmp_path / "compose.yaml"
        path.write_text(yaml.safe_dump(document))
    result = subprocess.run(
        [*validator, "--project-directory", str(DEPLOY), "-f", str(path), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, "GRAFANA_ADMIN_PASSWORD": "test"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- Dockerfile ----------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + " " + stripped
        else:
            lines.append(stripped)
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last rule wins)."""
    ignored = False
    for line in (REPO / ".dockerignore").read_text().splitlines():
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        negate, pattern = rule.startswith("!"), rule.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            ignored = not negate
    return ignored


def test_dockerfile_installs_pinned_and_runs_as_a_service() -> None:
    steps = dockerfile_instructions()
    runs = " && ".join(args for op, args in steps if op == "RUN")
    assert "--require-hashes --no-deps -r requirements/runtime.lock" in runs
    assert re.search(r"pip install --no-deps [^&]*\.", runs), "the package, without deps"
    assert "newsflow gazetteer build" in runs
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    (entrypoint,) = [args for op, args in steps if op == "ENTRYPOINT"]
    assert entrypoint == '["newsflow", "service"]'
    (cmd,) = [args for op, args in steps if op == "CMD"]
    assert cmd.strip('[]"') in SERVICES


def test_dockerfile_copies_only_what_the_build_context_holds() -> None:
    copies = [args.split()[:-1] for op, args in dockerfile_instructions() if op == "COPY"]
    sources = [source.rstrip("/") for sources in copies for source in sources]
    assert {"shared", "services", "newsflow", "pyproject.toml", "requirements/runtime.lock"} <= set(
        sources
    )
    for source in sources:
        assert (REPO / source).exists(), source
        assert not dockerignored(source), f"{source} is in .dockerignore"
    assert dockerignored(".venv") and dockerignored("tests") and dockerignored(".git")


# --- Kubernetes ----------------------------------------------------------------------


def k8s_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == files, "kustomization.yaml misses a file"
    documents: list[dict[str, Any]] = []
    for name in files:
        documents.extend(d for d in yaml.safe_load_all((K8S / name).read_text()) if d)
    return documents


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == kind}


def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = container
    return result


def deployments_by_service() -> dict[str, dict[str, Any]]:
    return {container_of(d)["args"][0]: d for d in of_kind("Deployment").values()}


def settings_map() -> dict[str, str]:
    (config,) = of_kind("ConfigMap").values()
    data: dict[str, str] = config["data"]
    return data


def test_every_document_has_the_fields_the_api_requires() -> None:
    required = {
        "Deployment": "apps/v1",
        "Service": "v1",
        "ConfigMap": "v1",
        "ScaledObject": "keda.sh/v1alpha1",
        "TriggerAuthentication": "keda.sh/v1alpha1",
    }
    for document in k8s_documents():
        assert document["apiVersion"] == required[document["kind"]], document["kind"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", document["metadata"]["name"])


def test_core_resources_match_the_kubernetes_api_schema() -> None:
    """Deployments, the Service and the ConfigMap against the API's own schema, strictly.

    The KEDA resources are custom resources without a schema in that package; the checks
    below cover them against the code.
    """
    try:
        validator: Any = importlib.import_module("kubernetes_validate")
    except ImportError:
        message = "kubernetes-validate is not installed (requirements/dev.in)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    version = validator.latest_version()
    core = [d for d in k8s_documents() if not d["apiVersion"].startswith("keda.sh/")]
    assert {d["kind"] for d in core} == {"Deployment", "Service", "ConfigMap"}
    for document in core:
        try:
            validator.validate(document, version, strict=True)
        except validator.ValidationError as exc:
            pytest.fail(f"{document['kind']}/{document['metadata']['name']}: {exc}")


def test_a_deployment_per_service_with_unique_consumers() -> None:
    deployments = deployments_by_service()
    assert set(deployments) == set(SERVICES)
    configmaps = set(of_kind("ConfigMap"))
    for name, deployment in deployments.items():
        spec = deployment["spec"]
        template = spec["template"]
        labels = template["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items(), name
        pod = template["spec"]
        assert pod["terminationGracePeriodSeconds"] > drain_timeout_s(), name
        assert pod["securityContext"]["runAsNonRoot"] is True
        container = container_of(deployment)
        assert container["args"] == [name] and container["image"]
        env = {e["name"]: e for e in container["env"]}
        # One consumer per pod: the consumer name is the pod's own name.
        consumer = env["NEWSFLOW_CONSUMER_NAME"]["valueFrom"]["fieldRef"]["fieldPath"]
        assert consumer == "metadata.name"
        url = env["NEWSFLOW_REDIS_URL"]["valueFrom"]["secretKeyRef"]
        assert url["name"] == "newsflow-redis"
        assert {e["configMapRef"]["name"] for e in container["envFrom"]} <= configmaps
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == int(settings_map()["NEWSFLOW_METRICS_PORT"])
        annotations = template["metadata"]["annotations"]
        assert int(annotations["prometheus.io/port"]) == ports["metrics"]


def test_resources_are_bounded_within_the_budgets() -> None:
    for name, deployment in deployments_by_service().items():
        resources = container_of(deployment)["resources"]
        for key in ("cpu", "memory"):
            assert key in resources["requests"] and key in resources["limits"], name
        requested = memory_bytes(resources["requests"]["memory"])
        limit = memory_bytes(resources["limits"]["memory"])
        assert requested <= limit, name
        if name in MEMORY_LIMITS:
            assert limit <= MEMORY_LIMITS[name], f"{name}: {resources['limits']['memory']}"


def test_configmap_holds_only_real_settings() -> None:
    data = settings_map()
    fields = {f"NEWSFLOW_{name.upper()}" for name in Settings.model_fields}
    assert set(data) <= fields, f"not a setting: {sorted(set(data) - fields)}"
    assert "NEWSFLOW_REDIS_URL" not in data, "the URL holds the password: Secret only"
    # The values parse: what the pods will build at start-up.
    load_settings(**{key.removeprefix("NEWSFLOW_").lower(): value for key, value in data.items()})


def test_ingest_service_selects_the_ingest_pods() -> None:
    (service,) = of_kind("Service").values()
    ingest = deployments_by_service()["ingest"]
    labels = ingest["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    named = {p["name"] for p in container_of(ingest)["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in named
    http = {p["name"]: p["containerPort"] for p in container_of(ingest)["ports"]}["http"]
    assert http == int(settings_map()["NEWSFLOW_HTTP_PORT"])


def test_each_worker_scales_on_the_lag_of_the_groups_it_reads() -> None:
    keys = Keys(settings_map()["NEWSFLOW_STREAM_PREFIX"])
    reads: dict[str, set[str]] = {}
    for stream, groups in keys.groups().items():
        for group in groups:
            reads.setdefault(str(group), set()).add(stream)
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment").values()}
    auths = set(of_kind("TriggerAuthentication"))
    scaled = of_kind("ScaledObject").values()
    targets = [s["spec"]["scaleTargetRef"]["name"] for s in scaled]
    # A stage with one owner at a time gains nothing from more processes: two, no scaler.
    owned = {f"newsflow-{stage.name}" for stage in PIPELINE if stage.single_owner}
    assert owned == {"newsflow-stories"}
    for name in owned:
        assert deployments[name]["spec"]["replicas"] == 2, name
    scaled_ones = sorted(set(deployments) - owned)
    assert sorted(targets) == scaled_ones, "one ScaledObject per Deployment that scales"
    for scaled_object in scaled:
        spec = scaled_object["spec"]
        deployment = deployments[spec["scaleTargetRef"]["name"]]
        service = container_of(deployment)["args"][0]
        env = {e["name"] for e in container_of(deployment)["env"]}
        assert spec["minReplicaCount"] >= 1 and spec["maxReplicaCount"] > spec["minReplicaCount"]
        streams = set()
        for trigger in spec["triggers"]:
            meta = trigger["metadata"]
            assert trigger["type"] == "redis-streams"
            # Lag mode (XINFO GROUPS): both counts set, no pending or length threshold.
            assert int(meta["lagCount"]) > 0 and int(meta["activationLagCount"]) >= 0
            assert not {"pendingEntriesCount", "streamLength"} & set(meta)
            assert meta["consumerGroup"] == service, "each worker type is its own group"
            assert meta["stream"] in reads[service], f"{service} does not read {meta['stream']}"
            assert meta["addressFromEnv"] in env
            assert trigger["authenticationRef"]["name"] in auths
            streams.add(meta["stream"])
        assert streams == reads[service], f"{service} reads {reads[service]}"
    # The aggregator also flushes overdue articles and exports the gauges: never zero.
    aggregator = next(
        s for s in scaled if s["spec"]["scaleTargetRef"]["name"].endswith("-aggregator")
    )
    assert aggregator["spec"]["minReplicaCount"] >= 1
