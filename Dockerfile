# The prediction service as a container: the same command the tests start (tests/test_service.py checks it).
#   make serve          # (or the tasks' train commands) first, so that models/ and reports/ hold what to serve
#   docker build -t adpipe-serve .
#   docker run --rm -p 8000:8000 adpipe-serve
# Models are copied in at build; to serve others without rebuilding, mount a folder over /app/models
# (and /app/reports for their validation figures): docker run -v "$PWD/models:/app/models:ro" ...
# BASE: any Debian image with Python 3.11 and its venv module; `make image` gives a locally made one (no registry).
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

# LightGBM needs the OpenMP runtime; podman runs a Kubernetes httpGet probe as `curl -f` inside the container.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 curl && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt ./
# The service's packages only: requirements.txt without the tools of development, tuning, the dashboard's browser
# test and the Dask engine (tests/test_deploy.py checks that each is pinned there; `make image` that the image
# answers as the tested service does). A virtual environment: Debian's own Python refuses system-wide pip
# installs (PEP 668); `python` is the venv's.
ARG NOT_SERVED="playwright optuna-dashboard optuna pytest ruff duckdb psycopg2-binary PyYAML dask distributed bokeh httpx2 xlsxwriter"
RUN python3 -m venv /opt/venv \
    && grep -v -i -E "^($(echo $NOT_SERVED | tr ' ' '|'))==" requirements.txt > /tmp/served.txt \
    && pip install -r /tmp/served.txt && pip uninstall -y pip && rm /tmp/served.txt

COPY model.py pyproject.toml ./
COPY adpipe/ adpipe/
COPY features/ features/
COPY params/ params/
COPY models/ models/
COPY reports/ reports/

RUN useradd --create-home --uid 10001 adpipe
USER adpipe

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
# Inside the container the service must listen on every interface for the port mapping to reach it; give it
# ADPIPE_API_KEYS (comma-separated, e.g. `docker run -e ADPIPE_API_KEYS=...`): without keys it serves anyone.
CMD ["python", "model.py", "serve", "--host", "0.0.0.0", "--port", "8000"]
