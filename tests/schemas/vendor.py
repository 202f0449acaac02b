"""Copy component schemas out of OpenAI's OpenAPI description into tests/schemas/openai.json.

Run from the repository root when a root is added (or the source is updated):

    .venv/bin/python -m tests.schemas.vendor /work/shared/specs/openai-openapi.yaml

Each root in ROOTS is copied with every schema it references, unchanged. The
source is github.com/openai/openai-openapi (MIT licence); SOURCE_COMMIT names
the commit the copy came from (see /work/shared/specs/README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

SOURCE = "https://github.com/openai/openai-openapi"
SOURCE_COMMIT = "f85dbe2"
OUTPUT = Path(__file__).with_name("openai.json")
PREFIX = "#/components/schemas/"
ROOTS = (
    # chat completions, embeddings, models, errors (issue 15)
    "CreateChatCompletionRequest",
    "CreateChatCompletionResponse",
    "CreateChatCompletionStreamResponse",
    "CreateEmbeddingRequest",
    "CreateEmbeddingResponse",
    "ListModelsResponse",
    "Model",
    "ErrorResponse",
    # the Responses API (issue 16)
    "CreateResponse",
    "Response",
    "ResponseStreamEvent",
)


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(PREFIX):
                found.add(value.removeprefix(PREFIX))
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def closure(schemas: dict[str, Any], roots: tuple[str, ...]) -> dict[str, Any]:
    """The roots and every schema they reference, transitively."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(schemas[name], found)
        todo.extend(found - seen)
    return {name: schemas[name] for name in sorted(seen)}


def main(spec_path: str) -> None:
    with open(spec_path, encoding="utf-8") as handle:
        spec = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    document = {
        "source": SOURCE,
        "commit": SOURCE_COMMIT,
        "file": "openapi.yaml",
        "roots": list(ROOTS),
        "components": {"schemas": closure(spec["components"]["schemas"], ROOTS)},
    }
    OUTPUT.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{OUTPUT}: {len(document['components']['schemas'])} schemas")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/specs/openai-openapi.yaml")
