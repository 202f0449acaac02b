"""GET /api/v1/templates and /api/v1/templates/{id}."""

from __future__ import annotations

from tests.test_app import assert_openai_error

SHIPPED = {
    "openai", "azure-openai", "anthropic", "gemini", "ollama", "vllm", "lmstudio", "llamacpp",
    "openrouter", "groq", "mistral", "together", "deepseek", "xai", "fireworks",
}  # fmt: skip


async def test_list_and_get(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/templates")
    assert response.status == 200
    listing = await response.json()
    assert listing["object"] == "list"
    assert {t["id"] for t in listing["data"]} >= SHIPPED

    gemini = await (await client.get("/api/v1/templates/gemini")).json()
    assert gemini["adapter"] == "gemini"
    assert gemini["base_url"] == "https://generativelanguage.googleapis.com/v1beta"
    assert gemini["auth"] == {"header": "x-goog-api-key", "scheme": None}
    assert gemini["paths"]["chat"] == "/models/{model}:generateContent"

    ollama = await (await client.get("/api/v1/templates/ollama")).json()
    assert ollama["key_required"] is False
    assert ollama["base_url"] == "http://127.0.0.1:11434/v1"

    missing = await client.get("/api/v1/templates/nope")
    assert missing.status == 404
    assert_openai_error(await missing.json(), "not_found")
