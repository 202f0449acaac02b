"""``gateway serve`` refuses bad command-line overrides the way it refuses bad files."""

from __future__ import annotations

from pathlib import Path

from tests.test_settings import run_cli


def test_bad_port_on_the_command_line_exits_2_without_traceback(tmp_path: Path) -> None:
    result = run_cli("serve", "--port", "70000", cwd=tmp_path)
    assert result.returncode == 2
    assert "server.port: 70000" in result.stderr
    assert "Traceback" not in result.stderr
