"""The requests of a Claude Code session, in the shapes its public docs and issue reports show.

Claude Code (``ANTHROPIC_BASE_URL`` + ``ANTHROPIC_API_KEY``) sends every call to
``/v1/messages?beta=true`` with ``anthropic-version``, a long ``anthropic-beta``
list and ``x-api-key``; streams everything; uses the small fast model for
conversation titles; and sends the main model a system prompt of several text
blocks (a billing line first, cache_control on some), a dozen and more tools
with JSON schemas, ``<system-reminder>`` text blocks in user turns, a long
``metadata.user_id``, and later tool_result blocks (errors flagged ``is_error``).
"""

from __future__ import annotations

from typing import Any

MAIN_MODEL = "claude-sonnet-4-5-20250929"
FAST_MODEL = "claude-3-5-haiku-20241022"

HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": (
        "claude-code-20250219,interleaved-thinking-2025-05-14,"
        "fine-grained-tool-streaming-2025-05-14,context-management-2025-06-27"
    ),
    "anthropic-dangerous-direct-browser-access": "true",
    "user-agent": "claude-cli/2.0.14 (external, cli)",
    "x-app": "cli",
    "x-stainless-lang": "js",
    "content-type": "application/json",
}
PATH = "/v1/messages?beta=true"
USER_ID = (
    "user_9f76af04f457a811f11a4d4c36986076c434db17d2d71d1abc8ac06bfb344ea3"
    "_account__session_3d44c07c-405f-4ae8-b6ec-fa28c5b91c45"
)
EPHEMERAL = {"type": "ephemeral"}

SYSTEM_PROMPT = "\n\n".join(
    [
        "You are an interactive CLI tool that helps users with software engineering tasks. "
        "Use the instructions below and the tools available to you to assist the user.",
        "# Tone and style\nYou should be concise, direct, and to the point. " * 20,
        "# Doing tasks\nThe user will primarily request you perform software engineering "
        "tasks. Use the TodoWrite tool to plan the task if required. " * 30,
        "# Tool usage policy\nWhen doing file search, prefer to use the Task tool. " * 20,
        "<env>\nWorking directory: /home/dev/project\nIs directory a git repo: Yes\n"
        "Platform: linux\nToday's date: 2025-10-10\n</env>",
    ]
)


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }


STRING = {"type": "string"}
TOOLS: list[dict[str, Any]] = [
    {"name": name, "description": description, "input_schema": schema}
    for name, description, schema in [
        ("Task", "Launch a new agent to handle complex, multi-step tasks.",
         _schema({"description": STRING, "prompt": STRING, "subagent_type": STRING},
                 ["description", "prompt", "subagent_type"])),
        ("Bash", "Executes a given bash command in a persistent shell session.",
         _schema({"command": STRING, "timeout": {"type": "number"}, "description": STRING,
                  "run_in_background": {"type": "boolean"}}, ["command"])),
        ("Glob", "Fast file pattern matching tool.",
         _schema({"pattern": STRING, "path": STRING}, ["pattern"])),
        ("Grep", "A powerful search tool built on ripgrep.",
         _schema({"pattern": STRING, "path": STRING, "glob": STRING,
                  "output_mode": {"type": "string",
                                  "enum": ["content", "files_with_matches", "count"]},
                  "-n": {"type": "boolean"}}, ["pattern"])),
        ("ExitPlanMode", "Prompts the user to exit plan mode.",
         _schema({"plan": STRING}, ["plan"])),
        ("Read", "Reads a file from the local filesystem.",
         _schema({"file_path": STRING, "offset": {"type": "number"},
                  "limit": {"type": "number"}}, ["file_path"])),
        ("Edit", "Performs exact string replacements in files.",
         _schema({"file_path": STRING, "old_string": STRING, "new_string": STRING,
                  "replace_all": {"type": "boolean", "default": False}},
                 ["file_path", "old_string", "new_string"])),
        ("Write", "Writes a file to the local filesystem.",
         _schema({"file_path": STRING, "content": STRING}, ["file_path", "content"])),
        ("NotebookEdit", "Replaces the contents of a cell in a Jupyter notebook.",
         _schema({"notebook_path": STRING, "new_source": STRING}, ["notebook_path", "new_source"])),
        ("WebFetch", "Fetches content from a URL and processes it.",
         _schema({"url": {"type": "string", "format": "uri"}, "prompt": STRING},
                 ["url", "prompt"])),
        ("TodoWrite", "Create and manage a structured task list.",
         _schema({"todos": {"type": "array", "items": {"type": "object", "properties": {
             "content": STRING, "status": {"type": "string",
                                           "enum": ["pending", "in_progress", "completed"]},
             "activeForm": STRING}, "required": ["content", "status", "activeForm"]}}},
             ["todos"])),
        ("WebSearch", "Allows Claude to search the web.",
         _schema({"query": {"type": "string", "minLength": 2},
                  "allowed_domains": {"type": "array", "items": STRING}}, ["query"])),
        ("BashOutput", "Retrieves output from a running background bash shell.",
         _schema({"bash_id": STRING, "filter": STRING}, ["bash_id"])),
        ("KillShell", "Kills a running background bash shell by its ID.",
         _schema({"shell_id": STRING}, ["shell_id"])),
        ("SlashCommand", "Execute a slash command within the main conversation.",
         _schema({"command": STRING}, ["command"])),
    ]
]  # fmt: skip

PROMPT = "The test in tests/test_app.py fails. Find out why."
USER_TURN: dict[str, Any] = {
    "role": "user",
    "content": [
        {
            "type": "text",
            "text": "<system-reminder>\nAs you answer the user's questions, you can use "
            "the following context: ...\n</system-reminder>",
        },
        {"type": "text", "text": PROMPT, "cache_control": EPHEMERAL},
    ],
}


def title_request() -> dict[str, Any]:
    """The small fast model names the conversation."""
    return {
        "model": FAST_MODEL,
        "max_tokens": 512,
        "messages": [{"role": "user", "content": PROMPT}],
        "system": [
            {
                "type": "text",
                "text": "Analyze if this message indicates a new conversation topic. If it "
                "does, extract a 2-3 word title that captures the new topic. Format your "
                "response as a JSON object with two fields: 'isNewTopic' (boolean) and "
                "'title' (string, or null if isNewTopic is false).",
            }
        ],
        "temperature": 0,
        "metadata": {"user_id": USER_ID},
        "stream": True,
    }


def main_request(history: list[dict[str, Any]]) -> dict[str, Any]:
    """A turn of the main loop: the whole system prompt and toolbox, streamed."""
    return {
        "model": MAIN_MODEL,
        "max_tokens": 32000,
        "messages": history,
        "system": [
            {"type": "text",
             "text": "x-anthropic-billing-header: cc_version=2.0.14; cc_entrypoint=cli"},
            {
                "type": "text",
                "text": "You are Claude Code, Anthropic's official CLI for Claude.",
                "cache_control": EPHEMERAL,
            },
            {"type": "text", "text": SYSTEM_PROMPT, "cache_control": EPHEMERAL},
        ],
        "tools": TOOLS,
        "metadata": {"user_id": USER_ID},
        "stream": True,
    }  # fmt: skip


def tool_results(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The user turn answering tool calls: the first succeeds, the second fails."""
    return {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": calls[0]["id"],
                "content": "     1\timport pytest\n     2\t\n     3\tdef test_health(): ...",
            },
            {
                "type": "tool_result",
                "tool_use_id": calls[1]["id"],
                "content": "<tool_use_error>Path does not exist: src/</tool_use_error>",
                "is_error": True,
            },
        ],
    }
