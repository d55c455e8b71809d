# syntax=docker/dockerfile:1
# Central's image (docs/operations.md, "Containers"). Built by CI elsewhere and pushed to
# the registry compose.yaml names (CENTRAL_IMAGE); `docker build -t central .` locally.
# One image for every process: the command chooses (central web / worker / beat / pbx /
# dialer / voice).

# --- build: a virtualenv with Central and the site-agent protocol package ---------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY src ./src
# The compiled translations (locale/*/django.mo) are committed and installed as package data.
RUN python -m venv /opt/central/venv \
    && /opt/central/venv/bin/pip install ./agent .

# --- runtime: no compiler, a system user, the venv only ----------------------------------
FROM python:3.11-slim-bookworm
# espeak-ng: offline text-to-speech of the voice attendant; postgresql-client: pg_dump and
# pg_restore for `central backup` / `central restore` (15, like the compose database).
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 central \
    && useradd --system --uid 10001 --gid central --home-dir /var/lib/central --shell /usr/sbin/nologin central \
    && mkdir -p /var/lib/central /var/log/central \
    && chown central:central /var/lib/central /var/log/central \
    && chmod 0700 /var/lib/central
COPY --from=build /opt/central/venv /opt/central/venv
COPY deploy/docker/healthcheck.py /opt/central/healthcheck.py
ENV PATH=/opt/central/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CENTRAL_ENV=production \
    CENTRAL_DATA_DIR=/var/lib/central \
    CENTRAL_METRICS_HOST=0.0.0.0 \
    CENTRAL_HEALTH_PORT=8000
USER central:central
WORKDIR /var/lib/central
VOLUME ["/var/lib/central"]
EXPOSE 8000
# /health of the web process, or of a per-process metrics endpoint: compose sets
# CENTRAL_HEALTH_PORT to 9811 (worker) ... 9815 (voice) for the other processes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "/opt/central/healthcheck.py"]
CMD ["central", "web", "--host", "0.0.0.0", "--port", "8000"]
