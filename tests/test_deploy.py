"""The deployment files (issue 23, item 4) run what the tests run: the Kubernetes Deployment and the ECS task
definition use the Dockerfile's command (the one tests/test_service.py checks against the tested server), its port
and its health path, the memory the load test measured, and the API keys from a secret."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

from adpipe import config
from adpipe.service import cli as service_cli
from adpipe.service.keys import KEYS_ENV
from tests.test_service import _dockerfile, trained_models

DEPLOY = config.PROJECT_ROOT / "deploy"
COMMAND = json.loads(_dockerfile()["CMD"])
PORT = service_cli.DEFAULT_PORT
HEALTH = "/health"
# The module each left-out distribution is imported as (the test client needs httpx2: it stays importable).
IMPORT_NAMES = {"optuna-dashboard": "optuna_dashboard", "psycopg2-binary": "psycopg2", "PyYAML": "yaml", "httpx2": "_"}
MEASURED_MIB = 570  # two workers and the master, five models loaded: 557-569 MiB PSS (docs/deploy.md)


def _kubernetes() -> dict[str, dict]:
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()))
    return {document["kind"]: document for document in documents}


def _mebibytes(quantity: str) -> float:
    units = {"Mi": 1, "Gi": 1024}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_the_kubernetes_deployment_runs_the_tested_command_port_and_health_check() -> None:
    objects = _kubernetes()
    assert set(objects) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == COMMAND and COMMAND[COMMAND.index("--port") + 1] == str(PORT)
    assert [port["containerPort"] for port in container["ports"]] == [PORT]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": HEALTH, "port": PORT}
    assert objects["Service"]["spec"]["ports"][0]["targetPort"] == PORT
    assert [env["name"] for env in container["env"]] == [KEYS_ENV] and "secretKeyRef" in container["env"][0][
        "valueFrom"
    ]
    resources = container["resources"]
    assert MEASURED_MIB <= _mebibytes(resources["requests"]["memory"]) <= _mebibytes(resources["limits"]["memory"])
    grace = objects["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > service_cli.GRACEFUL_SECONDS  # in-flight requests finish before the kill
    # `make kube-check` played it: the image is never written while serving, but for its /tmp scratch
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert [mount["mountPath"] for mount in container["volumeMounts"]] == ["/tmp"]
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert target["name"] == objects["Deployment"]["metadata"]["name"]


def test_the_ecs_task_definition_runs_the_tested_command_port_and_health_check() -> None:
    definition = json.loads((DEPLOY / "ecs-task-definition.json").read_text())
    (container,) = definition["containerDefinitions"]
    assert container["command"] == COMMAND
    assert [mapping["containerPort"] for mapping in container["portMappings"]] == [PORT]
    assert container["healthCheck"]["command"][:2] == ["CMD", "python"]
    assert f"127.0.0.1:{PORT}{HEALTH}" in container["healthCheck"]["command"][-1]
    assert f":{PORT}{HEALTH}" in _dockerfile()["HEALTHCHECK"]  # the image's own check: the same path and port
    assert [secret["name"] for secret in container["secrets"]] == [KEYS_ENV]
    assert int(definition["memory"]) >= MEASURED_MIB and container["stopTimeout"] > service_cli.GRACEFUL_SECONDS
    assert int(definition["cpu"]) == 2048  # the 2 vCPU the load test's figures are per


def test_the_image_leaves_out_only_pinned_packages_the_service_never_imports() -> None:
    """The Dockerfile's NOT_SERVED names are pinned in requirements.txt (a renamed pin would slip back in), and
    none of them is imported by the service answering every task, its pages and its monitoring."""
    dockerfile = (config.PROJECT_ROOT / "Dockerfile").read_text()
    (names,) = re.findall(r'^ARG NOT_SERVED="([^"]+)"', dockerfile, re.M)
    pinned = {line.split("==")[0].lower() for line in (config.PROJECT_ROOT / "requirements.txt").read_text().split()}
    assert {name.lower() for name in names.split()} <= pinned
    script = f"""
import sys
for module in {[IMPORT_NAMES.get(name, name) for name in names.split()]!r}:
    sys.modules[module] = None  # importing it now fails
from adpipe.service.app import create_app
from adpipe.service.registry import all_tasks
from starlette.testclient import TestClient
with TestClient(create_app({str(trained_models()[0])!r}, {str(trained_models()[1])!r})) as client:
    for name, task in all_tasks().items():
        assert client.post(f"/api/v1/{{name}}/predict", json=task.example).status_code == 200, name
        assert client.get(f"/{{name}}").status_code == 200 and client.get(f"/api/v1/{{name}}/drift").status_code == 200
    for page in ("/", "/monitor", "/metrics", "/health", "/docs"):
        assert client.get(page).status_code == 200, page
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=config.PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
