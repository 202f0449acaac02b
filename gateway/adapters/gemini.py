"""Gemini generateContent / streamGenerateContent <-> OpenAI chat completions.

Request rules: system/developer messages -> ``systemInstruction``; image and file
parts with data URLs (a PDF, say) -> ``inlineData``; assistant ->
role ``model`` with ``functionCall`` parts; tool messages -> ``functionResponse``
parts (the function name is looked up from the earlier assistant tool call with
that id), consecutive ones in one user turn; turns without parts are left out
(Gemini refuses ``parts: []``); ``file`` parts with data URLs (PDFs) -> ``inlineData``.
``generationConfig`` takes temperature, top_p, max(_completion)_tokens, stop, seed,
presence/frequency penalties, ``n`` (``candidateCount``), ``logprobs``/``top_logprobs``
(``responseLogprobs``/``logprobs``), ``response_format`` (``responseMimeType`` and
``responseJsonSchema``) and ``reasoning_effort`` (``thinkingConfig``, from the
template's families). ``functions``/``function_call``, audio output and
``web_search_options`` are refused (400); docs/parameters.md has the whole table.

Tool schemas go in ``parametersJsonSchema``, the field Gemini provides for full
JSON Schema (``$ref``/``$defs``, type lists, ``const``, ``additionalProperties``...;
https://ai.google.dev/api/caching#FunctionDeclaration), not in the OpenAPI-subset
``parameters``; only ``$schema``, a dialect marker, is taken out (JSON_SCHEMA_DROPPED).

Gemini function calls come whole and without ids, so ids (``call_<random>``) and
indexes are made here; a call's thought signature travels as
``extra_content.google.thought_signature`` (as in Google's own OpenAI layer) so that
a client echoing the tool call hands it back. Keys travel only in the Target's
headers (``x-goog-api-key``), never in a URL.

Finish reasons: content-policy ones -> ``content_filter`` with ``finishMessage`` as
the refusal; MALFORMED_FUNCTION_CALL with nothing else to return is a 502 with
``finishMessage``; unknown ones are logged once each and become ``stop``. In a
stream the finish chunk is sent when the upstream's stream ends, so nothing ever
follows it; a stream that ends without a finish reason ends with an error event.

Embeddings: Gemini reports no token counts for them, so ``usage`` is an estimate
of one token per four bytes of input (EMBEDDING_BYTES_PER_TOKEN), never 0.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson

from gateway.adapters import shapes
from gateway.adapters.base import (
    JSON,
    ModelPage,
    StreamUsage,
    Target,
    UpstreamRequest,
    token_count,
)
from gateway.errors import InvalidRequest, UpstreamError

logger = logging.getLogger("gateway.adapters.gemini")

GENERATE = ":generateContent"
EMBEDDING_BYTES_PER_TOKEN = 4
LISTED_METHODS = frozenset({"generateContent", "embedContent", "batchEmbedContents"})
"""Models offering one of these appear in /v1/models (chat and embeddings)."""
JSON_SCHEMA_DROPPED = frozenset({"$schema"})

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "OTHER": "stop",
    "LANGUAGE": "stop",
    "NO_IMAGE": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
    "MALFORMED_FUNCTION_CALL": "stop",
    "UNEXPECTED_TOOL_CALL": "stop",
    "TOO_MANY_TOOL_CALLS": "stop",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}
MALFORMED_CALLS = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"})
"""Finish reasons that mean the model failed to call a tool: an error when nothing came."""
_UNKNOWN_SEEN: set[str] = set()

TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def _model_name(model: str) -> str:
    return model.removeprefix("models/")


def _method_url(target: Target, model: str, method: str) -> str:
    """The chat URL with ``:generateContent`` swapped for another method."""
    path = target.paths.chat
    path = path.replace(GENERATE, method) if GENERATE in path else path + method
    return target.url(path, _model_name(model))


# ----------------------------------------------------------------- request


def _image(part: JSON, param: str) -> JSON:
    url = shapes.image_url(part, param)
    if url.startswith("data:"):
        mime, data = shapes.parse_data_url(url, param)
        return {"inlineData": {"mimeType": mime, "data": data}}
    mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _parts(content: Any, param: str) -> list[JSON]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return shapes.translate_parts(content, param, _PARTS)


def _text(part: JSON, param: str) -> JSON:
    return {"text": str(part.get("text", ""))}


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


_PARTS: dict[str, shapes.PartTranslator] = {"text": _text, "image_url": _image, "file": _file}


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
    parts: list[JSON]
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
            parts = _parts(message.get("content"), param)
            if parts:  # Gemini refuses a turn without parts
                contents.append({"role": "user", "parts": parts})
        elif role == "assistant":
            text = shapes.text_of(message.get("content"), param)
            parts = [{"text": text}] if text else []
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
            if parts:
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


def json_schema(schema: JSON) -> JSON:
    """A client's JSON Schema as Gemini's JSON-Schema fields take it."""
    return {k: v for k, v in schema.items() if k not in JSON_SCHEMA_DROPPED}


def _generation_config(body: JSON, target: Target, model: str) -> JSON:
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
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        config["candidateCount"] = n
    if body.get("logprobs"):
        config["responseLogprobs"] = True
        if isinstance(body.get("top_logprobs"), int):
            config["logprobs"] = body["top_logprobs"]
    wanted = shapes.response_schema(body)
    if wanted is not None:
        config["responseMimeType"] = "application/json"
        if wanted[0] != "json_object":
            config["responseJsonSchema"] = json_schema(wanted[1])
    effort = shapes.reasoning_value(body, target, model)
    if effort is not None:
        family = target.family(model)
        key = (
            "thinkingLevel"
            if family is not None and family.reasoning == "level"
            else "thinkingBudget"
        )
        config["thinkingConfig"] = {key: effort, "includeThoughts": effort != 0}
    return config


def _tools(body: JSON) -> tuple[list[JSON], JSON | None]:
    declarations = []
    for function in shapes.functions(body["tools"]):
        declaration: JSON = {"name": function.get("name")}
        if function.get("description"):
            declaration["description"] = function["description"]
        parameters = function.get("parameters")
        if isinstance(parameters, dict) and parameters:
            declaration["parametersJsonSchema"] = json_schema(parameters)
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


def to_generate_request(body: JSON, target: Target | None = None, model: str = "") -> JSON:
    """The generateContent body for an OpenAI chat body (the model goes in the URL)."""
    shapes.refuse_untranslated(body)
    contents, system = _contents(body.get("messages") or [])
    request: JSON = {"contents": contents}
    if system:
        request["systemInstruction"] = {"parts": system}
    config = _generation_config(body, target or Target("", "", {}), model)
    if config:
        request["generationConfig"] = config
    if body.get("tools"):
        request["tools"], tool_config = _tools(body)
        if tool_config:
            request["toolConfig"] = tool_config
    return request


# ---------------------------------------------------------------- response


def _usage(metadata: Any) -> StreamUsage:
    """Thinking tokens count as completion tokens (OpenAI's rule) and as reasoning tokens."""
    if not isinstance(metadata, dict):
        return StreamUsage()
    thoughts = token_count(metadata.get("thoughtsTokenCount"))
    return StreamUsage(
        token_count(metadata.get("promptTokenCount")),
        token_count(metadata.get("candidatesTokenCount")) + thoughts,
        cached_tokens=token_count(metadata.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
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


def _candidates(answer: JSON) -> list[JSON]:
    candidates = answer.get("candidates")
    if not isinstance(candidates, list):
        return []
    return [c for c in candidates if isinstance(c, dict)]


def _finish(reason: Any, called: bool) -> str:
    if not isinstance(reason, str):
        return "tool_calls" if called else "stop"
    mapped = FINISH_REASONS.get(reason)
    if mapped is None:
        if reason not in _UNKNOWN_SEEN:
            _UNKNOWN_SEEN.add(reason)
            logger.warning("unknown Gemini finishReason %r mapped to stop", reason[:100])
        mapped = "stop"
    return "tool_calls" if called and mapped == "stop" else mapped


def _refusal(candidate: JSON, finish: str) -> str | None:
    """The upstream's own words when it filtered the answer."""
    if finish != "content_filter":
        return None
    message = candidate.get("finishMessage")
    reason = candidate.get("finishReason")
    return message if isinstance(message, str) and message else f"Blocked by Gemini ({reason})."


def _malformed(candidate: JSON) -> UpstreamError:
    message = candidate.get("finishMessage")
    detail = message if isinstance(message, str) and message else "no details given"
    return UpstreamError(f"Gemini failed to call a tool ({candidate['finishReason']}): {detail}")


def _error(answer: JSON) -> JSON | None:
    error = answer.get("error")
    return error if isinstance(error, dict) else None


def _logprob(entry: Any) -> JSON:
    token = str(entry.get("token", "")) if isinstance(entry, dict) else ""
    value = entry.get("logProbability") if isinstance(entry, dict) else None
    return {
        "token": token,
        "logprob": float(value) if isinstance(value, int | float) else 0.0,
        "bytes": list(token.encode()),
    }


def _logprobs(candidate: JSON) -> JSON | None:
    """Gemini's ``logprobsResult`` in OpenAI's ``choice.logprobs`` shape."""
    result = candidate.get("logprobsResult")
    if not isinstance(result, dict):
        return None
    chosen = result.get("chosenCandidates") or []
    tops = result.get("topCandidates") or []
    content = []
    for i, entry in enumerate(chosen):
        item = _logprob(entry)
        top = tops[i].get("candidates") if i < len(tops) and isinstance(tops[i], dict) else None
        item["top_logprobs"] = [_logprob(t) for t in top or ()]
        content.append(item)
    return {"content": content, "refusal": None}


def _choice(candidate: JSON, index: int) -> JSON:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JSON] = []
    content = candidate.get("content") or {}
    for part in content.get("parts") or ():
        if not isinstance(part, dict):
            continue
        if "functionCall" in part:
            calls.append(_call(part))
        elif "text" in part:
            (thoughts if part.get("thought") else texts).append(str(part["text"]))
    reason = candidate.get("finishReason")
    if reason in MALFORMED_CALLS and not texts and not calls:
        raise _malformed(candidate)
    finish = _finish(reason, bool(calls))
    reply: JSON = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if thoughts:
        reply["reasoning_content"] = "".join(thoughts)
    if calls:
        reply["tool_calls"] = calls
    reply["refusal"] = _refusal(candidate, finish)
    return {
        "index": index,
        "message": reply,
        "logprobs": _logprobs(candidate),
        "finish_reason": finish,
    }


def to_completion(answer: JSON, model: str) -> JSON:
    """A GenerateContentResponse -> chat.completion (one choice per candidate)."""
    error = _error(answer)
    if error:
        raise UpstreamError(str(error.get("message") or "upstream error"))
    candidates = _candidates(answer)
    if not candidates and "promptFeedback" not in answer:
        raise UpstreamError("upstream answer has no candidates")
    if candidates:
        choices = [_choice(c, token_count(c.get("index")) or i) for i, c in enumerate(candidates)]
    else:  # the prompt itself was blocked
        feedback = answer.get("promptFeedback") or {}
        reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
        blocked = {"role": "assistant", "content": None}
        blocked["refusal"] = f"The prompt was blocked by Gemini ({reason or 'no reason given'})."
        choices = [
            {"index": 0, "message": blocked, "logprobs": None, "finish_reason": "content_filter"}
        ]
    response_id = answer.get("responseId")
    completion = shapes.completion(
        model,
        choices[0]["message"],
        choices[0]["finish_reason"],
        _usage(answer.get("usageMetadata")),
        id_=f"chatcmpl-{response_id}" if isinstance(response_id, str) else None,
    )
    completion["choices"] = choices
    return completion


class _Candidate:
    """One candidate's progress in a stream: its tool call count and held finish."""

    __slots__ = ("calls", "finish", "logprobs", "reason", "refusal", "sent")

    def __init__(self) -> None:
        self.calls = 0
        self.sent = False
        """Anything (text, thought or call) went out for this candidate."""
        self.reason: str | None = None
        self.finish: str | None = None
        self.refusal: str | None = None
        self.logprobs: JSON | None = None


async def to_chunks(
    events: AsyncIterator[bytes], model: str, include_usage: bool, usage: list[StreamUsage]
) -> AsyncGenerator[bytes, None]:
    """streamGenerateContent SSE payloads -> chat.completion.chunk events.

    Finish chunks are held until the upstream's stream ends, so content that
    Gemini sends after a finishReason still reaches the client before it.
    """
    writer: shapes.ChunkWriter | None = None
    states: dict[int, _Candidate] = {}
    blocked = False
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
        candidates = _candidates(answer)
        if not candidates and "promptFeedback" in answer:
            blocked = True
        for position, candidate in enumerate(candidates):
            index = token_count(candidate.get("index")) or position
            state = states.setdefault(index, _Candidate())
            content = candidate.get("content") or {}
            for part in content.get("parts") or ():
                if not isinstance(part, dict):
                    continue
                if "functionCall" in part:
                    call = _call(part, state.calls)
                    state.calls += 1
                    state.sent = True
                    yield writer.delta({"tool_calls": [call]}, index=index)
                elif part.get("text"):
                    key = "reasoning_content" if part.get("thought") else "content"
                    state.sent = True
                    yield writer.delta({key: part["text"]}, index=index)
            reason = candidate.get("finishReason")
            if reason:
                state.reason = reason
                state.finish = _finish(reason, state.calls > 0)
                state.refusal = _refusal(candidate, state.finish)
                if state.reason in MALFORMED_CALLS and not state.sent:
                    raise _malformed(candidate)
    if writer is None:
        raise UpstreamError("upstream stream ended without an answer")
    if blocked and not states:
        yield writer.delta({"refusal": "The prompt was blocked by Gemini."}, "content_filter")
    elif not states or any(state.finish is None for state in states.values()):
        yield shapes.error_event("The provider's stream ended before the answer was complete.")
        return
    for index, state in sorted(states.items()):
        if state.refusal:
            yield writer.delta({"refusal": state.refusal}, index=index)
        yield writer.delta({}, state.finish, index=index)
    if include_usage and usage:
        yield writer.usage(usage[-1])


# -------------------------------------------------------------- embeddings


def _embedding_inputs(body: JSON) -> list[str]:
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidRequest(
        "this provider embeds text only: token arrays belong to OpenAI's tokenizer, "
        "send the text instead (LangChain: check_embedding_ctx_length=False)",
        param="input",
    )


def embedding_tokens(body: JSON) -> int:
    """An estimate for ``usage``: Gemini does not count embedding tokens."""
    texts = _embedding_inputs(body)
    return sum(-(-len(text.encode()) // EMBEDDING_BYTES_PER_TOKEN) for text in texts)


class GeminiAdapter:
    name = "gemini"
    supports_embeddings = True

    def build_chat(
        self, target: Target, body: JSON, raw: bytes, upstream_model: str, stream: bool
    ) -> UpstreamRequest:
        request = orjson.dumps(to_generate_request(body, target, upstream_model))
        if stream:
            url = _method_url(target, upstream_model, ":streamGenerateContent")
            params = {**target.query, "alt": "sse"}
            return UpstreamRequest("POST", url, target.json_headers, request, params)
        url = target.url(target.paths.chat, _model_name(upstream_model))
        return UpstreamRequest("POST", url, target.json_headers, request, target.query)

    def parse_chat(self, payload: bytes, model: str) -> JSON:
        return to_completion(shapes.load_object(payload, "answer"), model)

    parse_error = staticmethod(shapes.error_message)
    stream_chat = staticmethod(to_chunks)

    def build_models(self, target: Target, cursor: str | None) -> UpstreamRequest:
        return shapes.models_request(target, cursor, size="pageSize", after="pageToken")

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
            and not LISTED_METHODS.isdisjoint(m.get("supportedGenerationMethods") or ())
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

    def parse_embeddings(self, payload: bytes, model: str, body: JSON) -> JSON:
        answer = shapes.load_object(payload, "embeddings answer")
        embeddings = answer.get("embeddings")
        if not isinstance(embeddings, list):
            raise UpstreamError("upstream embeddings answer has no embeddings")
        tokens = embedding_tokens(body)
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": e.get("values", [])}
                for i, e in enumerate(embeddings)
                if isinstance(e, dict)
            ],
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
