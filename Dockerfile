# syntax=docker/dockerfile:1
# Three stages: build wheels; a development image (make-like autoreload, used by
# docker-compose.yml); and the slim production runtime, which is the default target.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_SERVER__HOST=0.0.0.0 \
    GATEWAY_SERVER__PORT=8080
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /app --shell /usr/sbin/nologin gateway
WORKDIR /app
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/llm_gateway-*.whl
COPY config ./config
RUN mkdir -p /app/providers.d /app/data && chown gateway:gateway /app/providers.d /app/data
EXPOSE 8080
VOLUME ["/app/config", "/app/providers.d", "/app/data"]
# Standard library only: the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('GATEWAY_SERVER__PORT', '8080') + '/api/v1/health', timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["gateway"]

FROM base AS development
RUN pip install --no-cache-dir "watchfiles==1.3.0"
ENV GATEWAY_ENV=development
USER 10001:10001
CMD ["serve"]

FROM base AS runtime
ENV GATEWAY_ENV=production
USER 10001:10001
CMD ["serve"]
