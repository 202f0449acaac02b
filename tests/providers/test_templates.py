"""Template loading: every shipped file validates; a broken extra file is skipped, named."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.providers.templates import load_templates
from tests.routes.test_templates import SHIPPED


def test_shipped_templates_are_valid(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        templates = load_templates()
    assert not caplog.records
    assert set(templates) == SHIPPED
    anthropic = templates["anthropic"]
    assert anthropic.adapter == "anthropic"
    assert anthropic.headers == {"anthropic-version": "2023-06-01"}
    assert anthropic.auth.header_value("k") == "k"
    assert templates["openai"].auth.header_value("k") == "Bearer k"
    assert templates["azure-openai"].base_url is None
    assert templates["azure-openai"].query == {"api-version": "2024-10-21"}
    for template in templates.values():
        assert template.docs_url and template.docs_url.startswith("https://")


def test_extra_folder_adds_overrides_and_skips_broken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extra = tmp_path / "templates"
    extra.mkdir()
    (extra / "custom.yaml").write_text(
        "id: custom\nname: Custom\nadapter: openai\nbase_url: https://llm.example/v1\n"
        "key_required: false\nmodels: [m1, m2]\n"
    )
    (extra / "openai.yaml").write_text(
        "id: openai\nname: OpenAI via proxy\nadapter: openai\nbase_url: https://proxy.example/v1\n"
    )
    (extra / "broken.yaml").write_text("id: broken\nname: Broken\nadapter: cobol\n")
    (extra / "badpath.yaml").write_text(
        "id: badpath\nname: Bad\nadapter: openai\npaths:\n  chat: no-slash\n"
    )
    (extra / "notyaml.yaml").write_text("id: [unclosed\n")
    with caplog.at_level(logging.ERROR):
        templates = load_templates(extra)
    assert templates["custom"].models == ["m1", "m2"]
    assert templates["openai"].base_url == "https://proxy.example/v1"
    assert "broken" not in templates and "badpath" not in templates
    errors = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{extra / 'broken.yaml'}: adapter:" in errors
    assert f"{extra / 'badpath.yaml'}: paths.chat:" in errors
    assert f"{extra / 'notyaml.yaml'}: not valid YAML" in errors
    assert set(templates) >= SHIPPED
