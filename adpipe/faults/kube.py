"""``make kube-check``: play ``deploy/kubernetes.yaml`` under ``podman kube play`` with the image ``make image``
built, check that the pod does what the manifest says, and remove it with ``podman kube down`` under the fault
drill's steady load: the container's graceful drain (SIGTERM, then ``terminationGracePeriodSeconds``) measured from
the client's side.

The Deployment is played as shipped but for what a cluster fills in: ``image`` (the local tag instead of
``IMAGE``), a ``hostPort`` on 127.0.0.1 (a cluster reaches the pods through its Service; podman publishes the
container port on the host instead) and one replica (podman 4.3 plays each replica as a pod of its own, and two
pods cannot publish one host port). The Secret the Deployment reads its keys from is made with ``podman secret
create`` from the Secret's ``data`` in JSON, which is how podman 4.3 resolves ``secretKeyRef``.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from adpipe import config
from adpipe.errors import DataError
from adpipe.service.image import image_tag, podman_env, run_tool, wait_for_health
from adpipe.service.keys import KEY_HEADER

MANIFEST = config.PROJECT_ROOT / "deploy" / "kubernetes.yaml"
POD = "adpipe-serve-pod-0"  # podman's name for the Deployment's one pod
PROBE_TASK = "ctr"  # the task whose example is asked with and without a key


def deployment() -> dict:
    """The Deployment of ``deploy/kubernetes.yaml`` as shipped."""
    import yaml  # a tool of the check, not of the image the service runs in

    return next(d for d in yaml.safe_load_all(MANIFEST.read_text()) if d["kind"] == "Deployment")


def played_manifest(tag: str, port: int) -> str:
    """The Deployment of ``deploy/kubernetes.yaml``, one replica of the local image on 127.0.0.1:``port``."""
    import yaml

    played = deployment()
    (container,) = played["spec"]["template"]["spec"]["containers"]
    played["spec"]["replicas"] = 1  # podman 4.3 plays each replica as a pod: two cannot publish one port
    container["image"] = tag
    for published in container["ports"]:
        published.update(hostPort=port, hostIP="127.0.0.1")
    return yaml.safe_dump(played, sort_keys=False)


def secret_data(key: str, value: str) -> str:
    """The Secret's data as podman 4.3 reads a ``secretKeyRef`` from a podman secret: a JSON object of
    base64 values (a Kubernetes Secret's ``data``)."""
    return json.dumps({key: base64.b64encode(value.encode()).decode()})


def _status(url: str, body: dict, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _exec(container: str, command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", "exec", container, "sh", "-c", command], capture_output=True, text=True, env=env, check=False
    )


def _take_down(manifest: Path, env: dict[str, str]) -> None:
    """``podman kube down``, and the pod removed should a failed play have left it created but not started."""
    subprocess.run(["podman", "kube", "down", str(manifest)], capture_output=True, env=env, check=False)
    subprocess.run(["podman", "pod", "rm", "-f", POD], capture_output=True, env=env, check=False)


@contextmanager
def _played(manifest: Path, secret: str, env: dict[str, str]) -> Iterator[str]:
    """The pod of ``manifest`` running (its one serving container's name), taken down however the block ends."""
    _take_down(manifest, env)
    try:
        run_tool(["podman", "kube", "play", str(manifest)], "podman kube play", env)
        names = run_tool(["podman", "ps", "--format", "{{.Names}}"], "ps", env).split()
        serving = [name for name in names if name.startswith(POD) and name.endswith("-serve")]
        if not serving:
            raise DataError(f"podman kube play started no serving container (running: {names})")
        yield serving[0]
    finally:
        _take_down(manifest, env)
        subprocess.run(["podman", "secret", "rm", secret], capture_output=True, env=env, check=False)


def checks(container: str, url: str, key: str, env: dict[str, str]) -> dict[str, tuple[bool, str]]:
    """What the manifest says of the running pod, each as (held, what was seen)."""
    from adpipe.service.registry import all_tasks

    example = all_tasks()[PROBE_TASK].example
    predict = f"{url}/api/v1/{PROBE_TASK}/predict"
    without, with_key = _status(predict, example, {}), _status(predict, example, {KEY_HEADER: key})
    uid = _exec(container, "id -u", env).stdout.strip()
    models = _exec(container, "touch /app/models/probe", env)
    scratch = _exec(container, "touch /tmp/probe && rm /tmp/probe", env)
    health = subprocess.run(["podman", "healthcheck", "run", container], capture_output=True, text=True, env=env)
    inspected = json.loads(run_tool(["podman", "inspect", container], "inspect", env))[0]
    probe = (inspected.get("Config", {}).get("Healthcheck") or {}).get("Test") or []
    return {
        "port 8000 answers /health (readiness path)": (True, url),
        "keys from the Secret: predict without a key refused": (without == 401, f"HTTP {without}"),
        "keys from the Secret: predict with the key answered": (with_key == 200, f"HTTP {with_key}"),
        "runs as the manifest's user (10001)": (uid == "10001", f"uid {uid}"),
        "model folder read-only": (models.returncode != 0, (models.stderr.strip() or "writable")[-80:]),
        "/tmp writable (the emptyDir)": (scratch.returncode == 0, scratch.stderr.strip() or "writable"),
        "liveness probe run by podman": (health.returncode == 0, f"{' '.join(probe)[-70:]} → exit {health.returncode}"),
    }


def drained(url: str, container: str, key: str, env: dict[str, str]) -> dict[str, tuple[bool, str]]:
    """``podman stop`` of the serving container under the drill's load (4 clients, 20 requests/s each, no retry),
    with the manifest's grace period: requests accepted and then dropped (no answer but a refused connection)
    must be 0."""
    from adpipe.faults.cases import SETTLE  # the drill's modules load the models' libraries: not for --help
    from adpipe.faults.load import Load, expected_answers, records

    pool = records(config.CTR_FILE)
    expected = expected_answers(config.MODELS_DIR, config.REPORTS_DIR, pool)
    with Load(url, pool, expected, headers={KEY_HEADER: key}, seconds=120) as load:
        time.sleep(SETTLE)
        down = time.monotonic()
        grace = str(deployment()["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])
        run_tool(["podman", "stop", "-t", grace, container], "podman stop", env)
        stopped = time.monotonic()
        time.sleep(2.0)  # clients meet a closed port
    answers = load.between(down - SETTLE, time.monotonic())
    refused = sum(not a.delivered for a in answers)
    dropped = [a.error or str(a.status) for a in answers if a.status != 200 and a.delivered]
    wrong = sum(a.wrong for a in answers)
    answered = sum(a.status == 200 and a.sent >= down for a in answers)
    seen = (
        f"{len(answers)} requests, {answered} answered after the SIGTERM, {refused} refused (at connect, or a "
        f"closed keep-alive connection at the write), "
        f"{len(dropped)} accepted and dropped ({', '.join(sorted(set(dropped))) or 'none'}), {wrong} wrong; "
        f"podman stop {stopped - down:.1f} s"
    )
    return {"podman stop under load: graceful drain": (not dropped and not wrong, seen)}


def kube_check_command() -> None:
    """Play deploy/kubernetes.yaml under podman with the image `make image` built, check its probes, port, keys
    from the Secret, user and read-only model folder, then take it down under load (make kube-check;
    docs/deploy.md)."""
    from adpipe.cli_support import exit_on_error
    from adpipe.service.loadtest import free_port

    with exit_on_error(), podman_env() as env, tempfile.TemporaryDirectory(prefix="adpipe-kube-") as folder:
        tag, port = image_tag(), free_port()
        if shutil.which("catatonit") is None:  # the pod's pause process: podman kube play fails without it
            raise DataError("catatonit is not installed: apt-get install -y catatonit")
        if subprocess.run(["podman", "image", "exists", tag], env=env, check=False).returncode:
            raise DataError(f"no image {tag}: run make image first (it builds and checks it)")
        key = secrets.token_urlsafe()
        secret_file, manifest = Path(folder) / "secret.json", Path(folder) / "kubernetes.yaml"
        secret_file.write_text(secret_data("keys", key))
        manifest.write_text(played_manifest(tag, port))
        run_tool(["podman", "secret", "create", "adpipe-api-keys", str(secret_file)], "podman secret create", env)
        start = time.monotonic()
        with _played(manifest, "adpipe-api-keys", env) as container:
            url = f"http://127.0.0.1:{port}"
            wait_for_health(url)
            ready = time.monotonic() - start
            found = checks(container, url, key, env)
            found.update(drained(url, container, key, env))
        left = run_tool(["podman", "pod", "ps", "--format", "{{.Name}}"], "pod ps", env).split()
    found["podman kube down removed the pod"] = (POD not in left, f"pods left: {left}")
    for name, (held, seen) in found.items():
        typer.echo(f"{'ok  ' if held else 'FAIL'} {name}: {seen}")
    typer.echo(f"{tag}: play to /health {ready:.1f} s")
    if not all(held for held, _ in found.values()):
        raise typer.Exit(1)
