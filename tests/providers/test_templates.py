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


# What each real service expects (checked against the providers' API references):
# id: (adapter, default base_url, (auth header, scheme), chat path, key required)
BEARER = ("Authorization", "Bearer")
CHAT = "/chat/completions"
REAL_SERVICES: dict[str, tuple[str, str | None, tuple[str, str | None], str, bool]] = {
    "openai": ("openai", "https://api.openai.com/v1", BEARER, CHAT, True),
    "azure-openai": (
        "openai",
        None,
        ("api-key", None),
        "/deployments/{deployment}/chat/completions",
        True,
    ),
    "anthropic": (
        "anthropic",
        "https://api.anthropic.com",
        ("x-api-key", None),
        "/v1/messages",
        True,
    ),
    "gemini": (
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta",
        ("x-goog-api-key", None),
        "/models/{model}:generateContent",
        True,
    ),
    "ollama": ("openai", "http://127.0.0.1:11434/v1", BEARER, CHAT, False),
    "vllm": ("openai", "http://127.0.0.1:8000/v1", BEARER, CHAT, False),
    "lmstudio": ("openai", "http://127.0.0.1:1234/v1", BEARER, CHAT, False),
    "llamacpp": ("openai", "http://127.0.0.1:8080/v1", BEARER, CHAT, False),
    "openrouter": ("openai", "https://openrouter.ai/api/v1", BEARER, CHAT, True),
    "groq": ("openai", "https://api.groq.com/openai/v1", BEARER, CHAT, True),
    "mistral": ("openai", "https://api.mistral.ai/v1", BEARER, CHAT, True),
    "together": ("openai", "https://api.together.xyz/v1", BEARER, CHAT, True),
    "deepseek": ("openai", "https://api.deepseek.com/v1", BEARER, CHAT, True),
    "xai": ("openai", "https://api.x.ai/v1", BEARER, CHAT, True),
    "fireworks": ("openai", "https://api.fireworks.ai/inference/v1", BEARER, CHAT, True),
}


@pytest.mark.parametrize("template_id", sorted(REAL_SERVICES))
def test_shipped_template_matches_the_real_service(template_id: str) -> None:
    adapter, base_url, auth, chat, key_required = REAL_SERVICES[template_id]
    template = load_templates()[template_id]
    assert template.adapter == adapter
    assert template.base_url == base_url
    assert (template.auth.header, template.auth.scheme) == auth
    assert template.paths.chat == chat
    assert template.key_required is key_required
    assert template.paths.models is not None  # the health probe and catalog use it


def test_every_shipped_template_is_pinned() -> None:
    assert set(REAL_SERVICES) == SHIPPED
