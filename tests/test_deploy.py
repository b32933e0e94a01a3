"""The deployment files (issue 23, item 4) run what the tests run: the Kubernetes Deployment and the ECS task
definition use the Dockerfile's command (the one tests/test_service.py checks against the tested server), its port
and its health path, the memory the load test measured, and the API keys from a secret."""

from __future__ import annotations

import json

import yaml

from adpipe import config
from adpipe.service import cli as service_cli
from adpipe.service.keys import KEYS_ENV
from tests.test_service import _dockerfile

DEPLOY = config.PROJECT_ROOT / "deploy"
COMMAND = json.loads(_dockerfile()["CMD"])
PORT = service_cli.DEFAULT_PORT
HEALTH = "/health"
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
