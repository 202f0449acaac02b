# syntax=docker/dockerfile:1
# Stages: "deps" (a virtualenv holding the dependencies only, rebuilt when
# pyproject.toml changes), "build" (the gateway installed beside it), a development
# image (autoreload, used by docker-compose.yml) and the slim production runtime,
# the default target. Plain COPY --from, no BuildKit-only syntax: docker, podman
# and buildah build it alike.
#
# The base comes from a build argument, so a machine without registry access can
# pass a locally built Python 3.11 image. Pin it by digest for reproducible builds:
#   --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest>
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml ./
# The dependencies listed in pyproject.toml, before any source is copied: a code
# change reuses this layer instead of downloading every dependency again.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && /opt/venv/bin/pip install --no-compile -r requirements.txt

FROM deps AS build
COPY README.md ./
COPY gateway ./gateway
# Into a separate prefix, copied over the virtualenv in the runtime: a small layer.
RUN /opt/venv/bin/pip install --no-compile --no-deps --prefix /opt/app .

FROM ${PYTHON_IMAGE} AS base
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="llm-gateway" \
      org.opencontainers.image.description="OpenAI-compatible reverse-proxy gateway for LLM providers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# server.shutdown_timeout (the drain) stays below the stop timeout: run with
# `docker run --stop-timeout 35` (compose: stop_grace_period: 35s).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    GATEWAY_SERVER__HOST=0.0.0.0 \
    GATEWAY_SERVER__PORT=8080 \
    GATEWAY_SERVER__SHUTDOWN_TIMEOUT=30
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /app --shell /usr/sbin/nologin gateway
WORKDIR /app
COPY --from=deps /opt/venv /opt/venv
COPY --from=build /opt/app/ /opt/venv/
COPY config ./config
RUN mkdir -p /app/providers.d /app/data && chown gateway:gateway /app/data
EXPOSE 8080
# Only the data is a volume. Mount your configuration and provider files over
# /app/config and /app/providers.d (read-only is fine); they are not volumes, so a
# rebuilt image's configuration is never hidden by an old anonymous volume.
VOLUME ["/app/data"]
# Reads the same settings as the server (a port set in YAML included); stdlib HTTP.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["gateway", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["gateway"]

FROM base AS development
RUN /opt/venv/bin/pip install --no-cache-dir "watchfiles==1.3.0"
ENV GATEWAY_ENV=development
USER 10001:10001
CMD ["serve"]

FROM base AS runtime
ENV GATEWAY_ENV=production
USER 10001:10001
CMD ["serve"]
