"""``make image``: build the project's Dockerfile with podman, run it on a loopback port, and check that the
container answers each task's example exactly as the service does in this process.

No Docker daemon and no registry are needed. The base image is made here once (``mmdebstrap``: a minimal Debian
with Python 3.11 and its venv module, from the Debian mirror the machine's apt sources name) and imported as
``localhost/adpipe-base:bookworm``; this machine's own CA certificates (``/usr/local/share/ca-certificates``)
are copied into that base only, so that pip inside the build reaches the package index through a proxy that
presents them. The shipped Dockerfile never sees them: elsewhere, ``docker build .`` takes its default base,
the public ``python:3.11-slim``. Podman runs with ``runc`` and explicit ulimits (``containers.conf``): crun
refuses this host's cgroup layout ("cgroups in hybrid mode not supported").
"""

from __future__ import annotations

import json
import os
import re
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

BASE_IMAGE = "localhost/adpipe-base:bookworm"
IMAGE = "localhost/adpipe-serve"
CONTAINER_PORT = 8000
BASE_PACKAGES = "python3,python3-venv,python3-pip,ca-certificates,libgomp1"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
LOCAL_CERTIFICATES = Path("/usr/local/share/ca-certificates")
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
HEALTH_SECONDS = 120


def run_tool(command: list[str], what: str, env: dict[str, str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise DataError(f"{what} failed ({' '.join(command[:3])} …, exit {done.returncode}):\n{tail}")
    return done.stdout


def _mirror() -> str:
    """The Debian mirror the machine's apt sources name (deb822 or one-line), else deb.debian.org."""
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        text = path.read_text(errors="replace") if path.is_file() else ""
        found = re.search(r"^URIs:\s*(\S+)", text, re.M) or re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M)
        if found and "debian" in found.group(1) and "security" not in found.group(1):
            return found.group(1)
    return DEFAULT_MIRROR


def make_base(env: dict[str, str]) -> None:
    """A minimal Debian bookworm with Python 3.11 (about 250 MB), with this machine's CA certificates."""
    certificates = sorted(LOCAL_CERTIFICATES.glob("*.crt"))
    hooks = []
    if certificates:
        copied = " ".join(str(c) for c in certificates)
        hooks = [
            f"--customize-hook=copy-in {copied} {LOCAL_CERTIFICATES}/",
            '--customize-hook=chroot "$1" update-ca-certificates',
        ]
    with tempfile.TemporaryDirectory(prefix="adpipe-base-") as folder:
        tarball = Path(folder) / "base.tar"
        command = ["mmdebstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", *hooks, "bookworm"]
        run_tool([*command, str(tarball), _mirror()], "making the base (mmdebstrap)", env)
        run_tool(["podman", "import", str(tarball), BASE_IMAGE], "importing the base", env)


@contextmanager
def _container(image: str, port: int, env: dict[str, str]) -> Iterator[str]:
    name = f"adpipe-image-check-{os.getpid()}"
    run_tool(["podman", "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:{CONTAINER_PORT}", image], "run", env)
    try:
        yield name
    finally:
        subprocess.run(["podman", "stop", "-t", "10", name], capture_output=True, env=env, check=False)
        subprocess.run(["podman", "rm", "-f", name], capture_output=True, env=env, check=False)


def wait_for_health(url: str) -> None:
    deadline = time.monotonic() + HEALTH_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise DataError(f"the container did not answer {url}/health within {HEALTH_SECONDS} s")


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def check_answers(url: str) -> dict[str, bool]:
    """Each task's example, asked of the container and of the service in this process (the same models and
    reports): whether the two JSON answers are equal, by task."""
    from fastapi.testclient import TestClient

    from adpipe.service.app import create_app
    from adpipe.service.registry import all_tasks

    equal = {}
    with TestClient(create_app(config.MODELS_DIR, config.REPORTS_DIR)) as local:
        for name, task in all_tasks().items():
            path = f"/api/v1/{name}/predict"
            equal[name] = _post(url + path, task.example) == local.post(path, json=task.example).json()
    for page in ("/", "/monitor", "/metrics", "/api/v1/ctr/drift"):  # the pages and the monitoring answer
        try:
            with urllib.request.urlopen(url + page, timeout=30) as answer:
                equal[f"GET {page}"] = answer.status == 200
        except urllib.error.HTTPError:
            equal[f"GET {page}"] = False
    return equal


def image_command() -> None:
    """Build the service's image with podman, run it on 127.0.0.1 and check its answers (make image)."""
    from adpipe.cli_support import exit_on_error
    from adpipe.service.loadtest import free_port
    from adpipe.service.registry import train_missing  # the image copies models/ and reports/: make missing ones

    seconds: dict[str, float] = {}
    with exit_on_error(), podman_env() as env:
        train_missing()
        start = time.monotonic()
        if subprocess.run(["podman", "image", "exists", BASE_IMAGE], env=env, check=False).returncode:
            typer.echo(f"making {BASE_IMAGE} (mmdebstrap from {_mirror()}) …")
            make_base(env)
        seconds["base"] = time.monotonic() - start
        tag = image_tag()
        typer.echo(f"building {tag} …")
        start = time.monotonic()
        build = ["podman", "build", "--network", "host", "--format", "docker", "--build-arg", f"BASE={BASE_IMAGE}"]
        run_tool([*build, "-t", tag, str(config.PROJECT_ROOT)], "building the image", env)
        seconds["build"] = time.monotonic() - start
        port = free_port()
        start = time.monotonic()
        with _container(tag, port, env):
            url = f"http://127.0.0.1:{port}"
            wait_for_health(url)
            seconds["start to /health"] = time.monotonic() - start
            start = time.monotonic()
            equal = check_answers(url)
            seconds["check"] = time.monotonic() - start
        size = int(run_tool(["podman", "image", "inspect", "--format", "{{.Size}}", tag], "inspect", env).strip())
    for name, same in equal.items():
        if name.startswith("GET "):
            typer.echo(f"{name}: {'200' if same else 'not 200'}")
        else:
            typer.echo(f"{name}: the container's answer {'equals' if same else 'DIFFERS FROM'} this process's")
    typer.echo(f"image {tag}: {size / 1e6:.0f} MB; " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
    if not all(equal.values()):
        raise typer.Exit(1)


def image_tag() -> str:
    """The image `make image` builds from this commit."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return f"{IMAGE}:{done.stdout.strip() or 'dev'}"


@contextmanager
def podman_env() -> Iterator[dict[str, str]]:
    """The environment podman runs with here (runc, cgroupfs, ulimits: ``CONTAINERS_CONF``), after checking that
    the tools are installed."""
    for tool in ("podman", "mmdebstrap", "runc"):
        if subprocess.run(["which", tool], capture_output=True, check=False).returncode:
            raise DataError(f"{tool} is not installed: apt-get install -y podman runc mmdebstrap")
    with tempfile.TemporaryDirectory(prefix="adpipe-podman-") as folder:
        conf = Path(folder) / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        yield {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(conf))}
