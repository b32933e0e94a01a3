"""Prometheus for real (issue 38, item 3): deploy/prometheus.yml and deploy/alerts.yml pass ``promtool check``, every
alert has ``promtool test rules`` cases firing and not firing (deploy/alerts_test.yml), and every metric the rules
read is one ``GET /metrics`` exports. Skipped with the reason where promtool is absent (``.ci/run`` installs
Debian's ``prometheus``, which has it)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from fastapi.testclient import TestClient

from adpipe import config
from adpipe.service.app import create_app
from tests.test_service import trained_models

DEPLOY = config.PROJECT_ROOT / "deploy"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is missing: apt-get install -y --no-install-recommends prometheus"
)


def _alerts() -> dict[str, dict]:
    groups = yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def _promtool(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *arguments], capture_output=True, text=True, cwd=DEPLOY, timeout=120)


@needs_promtool
def test_the_prometheus_config_and_the_rules_pass_promtool_check() -> None:
    for arguments in (("check", "config", "prometheus.yml"), ("check", "rules", "alerts.yml")):
        done = _promtool(*arguments)
        assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_every_alert_rule_test_passes() -> None:
    done = _promtool("test", "rules", "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    tests = yaml.safe_load((DEPLOY / "alerts_test.yml").read_text())["tests"]
    checks = [check for test in tests for check in test["alert_rule_test"]]
    for name in _alerts():
        outcomes = {bool(check["exp_alerts"]) for check in checks if check["alertname"] == name}
        assert outcomes == {True, False}, f"{name}: tested {'firing' if True in outcomes else 'not firing'} only"


def test_the_rules_read_only_metrics_the_service_exports() -> None:
    with TestClient(create_app(*trained_models())) as client:
        scrape = client.get("/metrics").text
    families = set(re.findall(r"^# HELP (\w+) ", scrape, re.M))
    exported = families | {f"{name}{suffix}" for name in families for suffix in ("_bucket", "_count", "_sum")}
    for name, rule in _alerts().items():
        read = set(re.findall(r"\badpipe_\w+", rule["expr"]))
        assert read and read <= exported, f"{name} reads {sorted(read - exported)}, which /metrics does not export"
