"""Gemini generateContent / streamGenerateContent <-> OpenAI chat completions.

Request rules: system/developer messages -> ``systemInstruction``; image and file
parts with data URLs (a PDF, say) -> ``inlineData``; assistant ->
role ``model`` with ``functionCall`` parts; tool messages -> ``functionResponse``
parts (the function name is looked up from the earlier assistant tool call with
that id), consecutive ones in one user turn. ``generationConfig`` takes
temperature, top_p, max(_completion)_tokens, stop, seed, presence/frequency
penalties and ``response_format`` (json_object / json_schema ->
``responseMimeType`` and ``responseJsonSchema``). ``n`` other than 1 is refused;
everything else is dropped. Gemini function calls come whole and without ids,
so ids (``call_<random>``) and indexes are made here; a call's thought signature
travels as ``extra_content.google.thought_signature`` (as in Google's own OpenAI
layer) so that a client echoing the tool call hands it back. Keys travel only in the
Target's headers (``x-goog-api-key``), never in a URL.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway.adapters import shapes
from gateway.adapters.base import JSON, ModelPage, StreamUsage, Target, UpstreamRequest
from gateway.errors import InvalidRequest, UpstreamError

GENERATE = ":generateContent"
MODELS_PAGE_SIZE = 1000

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}

TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _model_name(model: str) -> str:
    return model.removeprefix("models/")


def _method_url(target: Target, model: str, method: str) -> str:
    """The chat URL with ``:generateContent`` swapped for another method."""
    path = target.paths.chat
    path = path.replace(GENERATE, method) if GENERATE in path else path + method
    return target.url(path, _model_name(model))


# ----------------------------------------------------------------- request


def _image(part: JSON, param: str) -> JSON:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise InvalidRequest("image_url.url must be a non-empty string", param=param)
    if url.startswith("data:"):
        mime, data = shapes.parse_data_url(url, param)
        return {"inlineData": {"mimeType": mime, "data": data}}
    mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _parts(content: Any, param: str) -> list[JSON]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest("content must be a string or a list of parts", param=param)
    parts: list[JSON] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"text": str(part.get("text", ""))})
        elif kind == "image_url":
            parts.append(_image(part, f"{param}[{j}]"))
        elif kind == "file":
            parts.append(_file(part, f"{param}[{j}]"))
        else:
            raise InvalidRequest(
                f"content part type {kind!r} is not supported by this provider",
                param=f"{param}[{j}].type",
            )
    return parts


def _file(part: JSON, param: str) -> JSON:
    """A file part with inline data (a PDF, say) -> inlineData; file ids mean nothing here."""
    file = part.get("file")
    data = file.get("file_data") if isinstance(file, dict) else None
    if not isinstance(data, str) or not data.startswith("data:"):
        raise InvalidRequest(
            "this provider takes files as base64 data URLs in file.file_data", param=f"{param}.file"
        )
    mime, encoded = shapes.parse_data_url(data, f"{param}.file.file_data")
    return {"inlineData": {"mimeType": mime, "data": encoded}}


def _function_response(content: Any, param: str) -> JSON:
    """Gemini wants an object: a JSON object result as is, anything else wrapped."""
    text = shapes.text_of(content, param)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"content": text}
    return value if isinstance(value, dict) else {"content": value}


def _signature(call: Any) -> Any:
    """The thought signature we attached to a tool call, echoed back by the client."""
    extra = call.get("extra_content") if isinstance(call, dict) else None
    google = extra.get("google") if isinstance(extra, dict) else None
    return google.get("thought_signature") if isinstance(google, dict) else None


def _contents(messages: list[JSON]) -> tuple[list[JSON], list[JSON]]:
    """OpenAI messages -> (contents, systemInstruction parts)."""
    contents: list[JSON] = []
    system: list[JSON] = []
    names: dict[str, str] = {}
    """tool_call_id -> function name, from earlier assistant messages."""
    last_tool_turn: JSON | None = None
    for i, message in enumerate(messages):
        role = message.get("role")
        param = f"messages[{i}].content"
        if role != "tool":
            last_tool_turn = None
        if role in ("system", "developer"):
            system.append({"text": shapes.text_of(message.get("content"), param)})
        elif role == "user":
            contents.append({"role": "user", "parts": _parts(message.get("content"), param)})
        elif role == "assistant":
            text = shapes.text_of(message.get("content"), param)
            parts: list[JSON] = [{"text": text}] if text else []
            for j, call in enumerate(message.get("tool_calls") or ()):
                call_param = f"messages[{i}].tool_calls[{j}]"
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                    raise InvalidRequest("tool call needs a function name", param=call_param)
                names[str(call.get("id"))] = function["name"]
                args = shapes.load_arguments(
                    function.get("arguments"), f"{call_param}.function.arguments"
                )
                part: JSON = {"functionCall": {"name": function["name"], "args": args}}
                signature = _signature(call)
                if signature:
                    part["thoughtSignature"] = signature
                parts.append(part)
            contents.append({"role": "model", "parts": parts})
        elif role == "tool":
            name = names.get(str(message.get("tool_call_id")))
            if name is None:
                raise InvalidRequest(
                    "tool_call_id matches no earlier assistant tool call",
                    param=f"messages[{i}].tool_call_id",
                )
            response = {
                "functionResponse": {
                    "name": name,
                    "response": _function_response(message.get("content"), param),
                }
            }
            if last_tool_turn is None:
                last_tool_turn = {"role": "user", "parts": []}
                contents.append(last_tool_turn)
            last_tool_turn["parts"].append(response)
        else:
            raise InvalidRequest(f"unknown role {role!r}", param=f"messages[{i}].role")
    return contents, system


def _generation_config(body: JSON) -> JSON:
    config: JSON = {}
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if body.get(ours) is not None:
            config[theirs] = body[ours]
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        config["maxOutputTokens"] = max_tokens
    stop = shapes.stop_list(body.get("stop"))
    if stop:
        config["stopSequences"] = stop
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind in ("json_object", "json_schema"):
            config["responseMimeType"] = "application/json"
        schema = response_format.get("json_schema")
        if kind == "json_schema" and isinstance(schema, dict) and schema.get("schema"):
            config["responseJsonSchema"] = schema["schema"]
    return config


def _tools(body: JSON) -> tuple[list[JSON], JSON | None]:
    declarations = []
    for i, tool in enumerate(body["tools"]):
        function = tool.get("function") if isinstance(tool, dict) else None
        if tool.get("type") != "function" or not isinstance(function, dict):
            raise InvalidRequest("only function tools are supported", param=f"tools[{i}].type")
        declaration: JSON = {"name": function.get("name")}
        if function.get("description"):
            declaration["description"] = function["description"]
        if function.get("parameters"):
            declaration["parameters"] = function["parameters"]
        declarations.append(declaration)
    choice = body.get("tool_choice")
    config: JSON | None = None
    if isinstance(choice, str):
        if choice not in TOOL_MODES:
            raise InvalidRequest("unsupported tool_choice", param="tool_choice")
        config = {"functionCallingConfig": {"mode": TOOL_MODES[choice]}}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        config = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    elif choice is not None:
        raise InvalidRequest("unsupported tool_choice", param="tool_choice")
    return [{"functionDeclarations": declarations}], config


def to_generate_request(body: JSON) -> JSON:
    """The generateContent body for an OpenAI chat body (the model goes in the URL)."""
    shapes.reject_n(body)
    contents, system = _contents(body.get("messages") or [])
    request: JSON = {"contents": contents}
    if system:
        request["systemInstruction"] = {"parts": system}
    config = _generation_config(body)
    if config:
        request["generationConfig"] = config
    if body.get("tools"):
        request["tools"], tool_config = _tools(body)
        if tool_config:
            request["toolConfig"] = tool_config
    return request


# ---------------------------------------------------------------- response


def _usage(metadata: Any) -> StreamUsage:
    if not isinstance(metadata, dict):
        return StreamUsage()
    return StreamUsage(
        _int(metadata.get("promptTokenCount")),
        _int(metadata.get("candidatesTokenCount")) + _int(metadata.get("thoughtsTokenCount")),
    )


def _call(part: JSON, index: int | None = None) -> JSON:
    call = part["functionCall"]
    out: JSON = {
        "id": call.get("id") or shapes.new_id("call_"),
        "type": "function",
        "function": {
            "name": call.get("name"),
            "arguments": orjson.dumps(call.get("args") or {}).decode(),
        },
    }
    if part.get("thoughtSignature"):
        # Gemini 3 wants it back with the call; Google's own OpenAI layer uses this field.
        out["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
    if index is not None:
        out = {"index": index, **out}
    return out


def _candidate(answer: JSON) -> JSON | None:
    candidates = answer.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        return candidates[0]
    return None


def _finish(reason: Any, called: bool) -> str:
    mapped = FINISH_REASONS.get(reason, "stop") if isinstance(reason, str) else "stop"
    return "tool_calls" if called and mapped == "stop" else mapped


def _error(answer: JSON) -> JSON | None:
    error = answer.get("error")
    return error if isinstance(error, dict) else None


def to_completion(answer: JSON, model: str) -> JSON:
    """A GenerateContentResponse -> chat.completion."""
    error = _error(answer)
    if error:
        raise UpstreamError(str(error.get("message") or "upstream error"))
    candidate = _candidate(answer)
    if candidate is None and "promptFeedback" not in answer:
        raise UpstreamError("upstream answer has no candidates")
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JSON] = []
    content = (candidate or {}).get("content") or {}
    for part in content.get("parts") or ():
        if not isinstance(part, dict):
            continue
        if "functionCall" in part:
            calls.append(_call(part))
        elif "text" in part:
            (thoughts if part.get("thought") else texts).append(str(part["text"]))
    reply: JSON = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if thoughts:
        reply["reasoning_content"] = "".join(thoughts)
    if calls:
        reply["tool_calls"] = calls
    if candidate is None:  # the prompt itself was blocked
        finish = "content_filter"
    else:
        finish = _finish(candidate.get("finishReason"), bool(calls))
    counts = _usage(answer.get("usageMetadata"))
    response_id = answer.get("responseId")
    return shapes.completion(
        model,
        reply,
        finish,
        shapes.usage(counts.prompt_tokens, counts.completion_tokens),
        id_=f"chatcmpl-{response_id}" if isinstance(response_id, str) else None,
    )


async def to_chunks(
    events: AsyncIterator[bytes], model: str, include_usage: bool, usage: list[StreamUsage]
) -> AsyncIterator[bytes]:
    """streamGenerateContent SSE payloads -> chat.completion.chunk events."""
    writer: shapes.ChunkWriter | None = None
    calls = 0
    finished = False
    async for data in events:
        answer = shapes.load_object(data, "stream event")
        error = _error(answer)
        if error:
            yield shapes.error_event(
                str(error.get("message") or "upstream stream error"),
                code=error.get("status") if isinstance(error.get("status"), str) else None,
            )
            return
        if writer is None:
            response_id = answer.get("responseId")
            writer = shapes.ChunkWriter(
                model, f"chatcmpl-{response_id}" if isinstance(response_id, str) else None
            )
            yield writer.delta({"role": "assistant", "content": ""})
        if "usageMetadata" in answer:
            counts = _usage(answer["usageMetadata"])
            if not usage or usage[-1] != counts:
                usage.append(counts)
        candidate = _candidate(answer)
        if candidate is None:
            if "promptFeedback" in answer and not finished:
                finished = True
                yield writer.delta({}, "content_filter")
            continue
        content = candidate.get("content") or {}
        for part in content.get("parts") or ():
            if not isinstance(part, dict):
                continue
            if "functionCall" in part:
                yield writer.delta({"tool_calls": [_call(part, calls)]})
                calls += 1
            elif part.get("text"):
                key = "reasoning_content" if part.get("thought") else "content"
                yield writer.delta({key: part["text"]})
        reason = candidate.get("finishReason")
        if reason and not finished:
            finished = True
            yield writer.delta({}, _finish(reason, calls > 0))
    if include_usage and writer is not None and usage:
        yield writer.usage(usage[-1])


# -------------------------------------------------------------- embeddings


def _embedding_inputs(body: JSON) -> list[str]:
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidRequest("input must be a string or a list of strings", param="input")


class GeminiAdapter:
    name = "gemini"
    supports_embeddings = True

    def build_chat(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str, stream: bool
    ) -> UpstreamRequest:
        request = orjson.dumps(to_generate_request(body))
        if stream:
            url = _method_url(target, upstream_model, ":streamGenerateContent")
            params = {**target.query, "alt": "sse"}
            return UpstreamRequest("POST", url, target.json_headers, request, params)
        url = target.url(target.paths.chat, _model_name(upstream_model))
        return UpstreamRequest("POST", url, target.json_headers, request, target.query)

    def parse_chat(self, payload: bytes, model: str) -> JSON:
        return to_completion(shapes.load_object(payload, "answer"), model)

    def parse_error(self, status: int, payload: bytes) -> str:
        return shapes.error_message(status, payload)

    def stream_chat(
        self,
        events: AsyncIterator[bytes],
        model: str,
        include_usage: bool,
        usage: list[StreamUsage],
    ) -> AsyncIterator[bytes]:
        return to_chunks(events, model, include_usage, usage)

    def build_models(self, target: Target, cursor: str | None) -> UpstreamRequest:
        params = {**target.query, "pageSize": str(MODELS_PAGE_SIZE)}
        if cursor:
            params["pageToken"] = cursor
        path = target.paths.models or "/models"
        return UpstreamRequest("GET", target.url(path), target.headers, None, params)

    def parse_models(self, payload: bytes) -> ModelPage:
        listing = shapes.load_object(payload, "model list")
        models = listing.get("models", [])
        if not isinstance(models, list):
            raise UpstreamError("upstream model list has no models")
        ids = [
            _model_name(m["name"])
            for m in models
            if isinstance(m, dict)
            and isinstance(m.get("name"), str)
            and "generateContent" in (m.get("supportedGenerationMethods") or ())
        ]
        token = listing.get("nextPageToken")
        return ModelPage(ids, token if isinstance(token, str) and token else None)

    def build_embeddings(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str
    ) -> UpstreamRequest:
        name = "models/" + _model_name(upstream_model)
        requests = []
        for text in _embedding_inputs(body):
            request: JSON = {"model": name, "content": {"parts": [{"text": text}]}}
            if body.get("dimensions"):
                request["outputDimensionality"] = body["dimensions"]
            requests.append(request)
        url = _method_url(target, upstream_model, ":batchEmbedContents")
        payload = orjson.dumps({"requests": requests})
        return UpstreamRequest("POST", url, target.json_headers, payload, target.query)

    def parse_embeddings(self, payload: bytes, model: str) -> JSON:
        answer = shapes.load_object(payload, "embeddings answer")
        embeddings = answer.get("embeddings")
        if not isinstance(embeddings, list):
            raise UpstreamError("upstream embeddings answer has no embeddings")
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": e.get("values", [])}
                for i, e in enumerate(embeddings)
                if isinstance(e, dict)
            ],
            "model": model,
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }
