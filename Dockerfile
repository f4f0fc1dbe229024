# syntax=docker/dockerfile:1
# One node of the dating bot: `docker build -t dating-bot .`, run with the settings of
# config/settings.py in its environment (docker-compose.yml does that from .env).

# ---- build: the pinned runtime dependencies, into a virtualenv the runtime stage copies ----
FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /tmp/requirements.lock
# The lock holds the whole dependency tree with exact versions: --no-deps installs exactly it,
# wheels only (no compiler in this image), and pip check proves nothing is missing.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-deps --only-binary=:all: -r /tmp/requirements.lock \
    && /opt/venv/bin/pip check

# ---- runtime: the interpreter, the virtualenv and the application code, as a non-root user ----
FROM python:3.11.13-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    METRICS_PORT=9100
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin bot
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Owned by root and read-only to the bot user; .dockerignore keeps secrets, tests and tooling out.
COPY . /app
USER 10001:10001
EXPOSE 9100
STOPSIGNAL SIGTERM
# /healthz answers while the node's event loop runs (python's urllib: the slim image has no curl).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('METRICS_PORT') or '9100'), timeout=4)"]
CMD ["python", "bot.py"]
