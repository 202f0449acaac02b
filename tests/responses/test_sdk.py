"""The official openai SDK's Responses API against every kind of provider, end to end.

Each Response object and each stream event is checked against OpenAI's published schemas.
"""

from __future__ import annotations

from typing import Any

import openai
import orjson
import pytest

from tests.fakes.base import Reply
from tests.openai_schema import assert_valid
from tests.responses.conftest import MODELS, Fakes

WEATHER_TOOL: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def valid(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = response.model_dump(mode="json", by_alias=True, exclude_unset=True)
    data.pop("output_text", None)  # an SDK-only convenience
    assert_valid("Response", data)
    return data


def sent(fakes: Fakes, model: str) -> Any:
    """The JSON body the provider of ``model`` last received."""
    return fakes.of(model).requests[-1].json


@pytest.mark.parametrize("model", MODELS)
async def test_text_with_instructions(sdk: openai.AsyncOpenAI, fakes: Fakes, model: str) -> None:
    response = await sdk.responses.create(
        model=model, input="Say hi", instructions="Be brief.", max_output_tokens=50
    )
    valid(response)
    assert response.output_text == "Hello there, friend."
    assert response.model == model and response.status == "completed"
    assert response.id.startswith("resp_") and response.instructions == "Be brief."
    assert response.usage is not None and response.usage.input_tokens == 12
    assert response.usage.output_tokens == 7 and response.usage.total_tokens == 19
    assert "Be brief." in orjson.dumps(sent(fakes, model)).decode()


@pytest.mark.parametrize("model", MODELS)
async def test_function_tool_round_trip(sdk: openai.AsyncOpenAI, fakes: Fakes, model: str) -> None:
    fake = fakes.of(model)
    fake.reply = Reply(text="", tool_calls=[("get_weather", {"city": "Paris"})])
    first = await sdk.responses.create(model=model, input="Weather in Paris?", tools=[WEATHER_TOOL])
    valid(first)
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.name, orjson.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    fake.reply = Reply(text="It is sunny in Paris.")
    follow_up: list[Any] = [
        {"role": "user", "content": "Weather in Paris?"},
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21C"},
    ]
    second = await sdk.responses.create(model=model, input=follow_up, tools=[WEATHER_TOOL])
    valid(second)
    assert second.output_text == "It is sunny in Paris."
    upstream = orjson.dumps(sent(fakes, model)).decode()
    assert "sunny, 21C" in upstream
    if model != "gem":  # Gemini pairs calls and results by name; the others by call id
        assert calls[0].call_id in upstream or calls[0].call_id.removeprefix("call_") in upstream


@pytest.mark.parametrize("model", MODELS)
async def test_json_schema_format(sdk: openai.AsyncOpenAI, fakes: Fakes, model: str) -> None:
    fakes.of(model).reply = Reply(text='{"city": "Paris"}')
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    response = await sdk.responses.create(
        model=model,
        input="Which city?",
        text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}},
    )
    valid(response)
    assert orjson.loads(response.output_text) == {"city": "Paris"}
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"
    upstream = orjson.dumps(sent(fakes, model)).decode()
    assert '"city"' in upstream and "required" in upstream  # the schema reached the provider


@pytest.mark.parametrize("model", ["compat", "claude", "gem"])
async def test_previous_response_id_rebuilds_the_conversation(
    sdk: openai.AsyncOpenAI, fakes: Fakes, model: str
) -> None:
    first = await sdk.responses.create(model=model, input="My name is Ada.")
    fakes.of(model).reply = Reply(text="Your name is Ada.")
    second = await sdk.responses.create(
        model=model, input="What is my name?", previous_response_id=first.id
    )
    valid(second)
    assert second.previous_response_id == first.id
    upstream = orjson.dumps(sent(fakes, model)).decode()
    for said in ("My name is Ada.", "Hello there, friend.", "What is my name?"):
        assert said in upstream


async def test_previous_response_id_passes_through_to_native(
    sdk: openai.AsyncOpenAI, fakes: Fakes
) -> None:
    await sdk.responses.create(model="native", input="hi", previous_response_id="resp_elsewhere")
    assert sent(fakes, "native")["previous_response_id"] == "resp_elsewhere"


@pytest.mark.parametrize("model", MODELS)
async def test_stream_helper_events_and_final_response(
    sdk: openai.AsyncOpenAI, fakes: Fakes, model: str
) -> None:
    events: list[Any] = []
    async with sdk.responses.stream(model=model, input="Say hi") as stream:
        async for event in stream:
            events.append(event)
        final = await stream.get_final_response()
    for event in events:
        data = event.model_dump(mode="json", by_alias=True, exclude_unset=True)
        data.pop("snapshot", None)  # helper-only field
        if data.get("response"):
            data["response"].pop("output_text", None)
        assert_valid("ResponseStreamEvent", data)
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "Hello there, friend." == final.output_text
    valid(final)
    assert final.usage is not None and final.usage.output_tokens == 7


@pytest.mark.parametrize("model", ["compat", "claude"])
async def test_streamed_tool_calls_and_reasoning(
    sdk: openai.AsyncOpenAI, fakes: Fakes, model: str
) -> None:
    fakes.of(model).reply = Reply(
        text="", reasoning="Think first.", tool_calls=[("get_weather", {"city": "Paris"})]
    )
    async with sdk.responses.stream(model=model, input="Weather?", tools=[WEATHER_TOOL]) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    valid(final)
    calls = [item for item in final.output if item.type == "function_call"]
    assert orjson.loads(calls[0].arguments) == {"city": "Paris"}
    assert "response.function_call_arguments.done" in kinds
    if model == "claude":
        assert "response.reasoning_summary_text.delta" in kinds
        assert final.output[0].type == "reasoning"


@pytest.mark.parametrize("model", ["native", "claude"])
async def test_retrieve_input_items_and_delete(
    sdk: openai.AsyncOpenAI, fakes: Fakes, model: str
) -> None:
    created = await sdk.responses.create(model=model, input="Remember me")
    again = await sdk.responses.retrieve(created.id)
    valid(again)
    assert again.output_text == created.output_text and again.id == created.id
    items = await sdk.responses.input_items.list(created.id)
    assert [item.type for item in items.data] == ["message"]
    await sdk.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(created.id)


async def test_errors_name_the_field(sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as builtin:
        await sdk.responses.create(model="claude", input="hi", tools=[{"type": "web_search"}])
    assert isinstance(builtin.value.body, dict) and builtin.value.body["param"] == "tools[0].type"
    assert "web_search" in builtin.value.message
    with pytest.raises(openai.BadRequestError) as unknown:
        await sdk.responses.create(model="compat", input=[{"type": "hologram"}])  # type: ignore[list-item]
    assert isinstance(unknown.value.body, dict) and unknown.value.body["param"] == "input[0].type"
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.create(model="claude", input="hi", previous_response_id="resp_nope")


async def test_a_translated_chain_continues_on_a_native_provider(
    sdk: openai.AsyncOpenAI, fakes: Fakes
) -> None:
    loose_tool: Any = {"type": "function", "name": "noop", "parameters": {"type": "object"}}
    first = await sdk.responses.create(model="claude", input="My name is Ada.", tools=[loose_tool])
    assert valid(first)["tools"][0]["strict"] is None  # echoed as OpenAI does, null when unset
    await sdk.responses.create(model="native", input="Name?", previous_response_id=first.id)
    body = sent(fakes, "native")
    assert "previous_response_id" not in body  # the native upstream never saw that id
    assert [item.get("role") for item in body["input"]] == ["user", "assistant", "user"]
    assert all("id" not in item for item in body["input"])
