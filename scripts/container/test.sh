#!/usr/bin/env bash
# make test-container: prepare the engine and base images, then run every check.
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(scripts/container/setup.sh)"
if [ -n "$CONTAINERS_CONF" ]; then export CONTAINERS_CONF; fi
exec .venv/bin/python -m tests.container.check \
  --engine "$ENGINE" --python-image "$PYTHON_IMAGE" --redis-image "$REDIS_IMAGE"
