"""The built-in model, without sockets: text, reasoning, tool choice, arguments, budgets."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from juhe_core.testing._model import answer, prompt_tokens
from juhe_core.testing._text import count_tokens, pieces, truncate_tokens, words
from juhe_core.testing._turn import ChatQuery, PromptMessage, ToolSpec

WEATHER = ToolSpec(
    "get_weather",
    "Get the current weather at a location.",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location", "unit"],
    },
)
ADD = ToolSpec(
    "add_numbers",
    "Add two integers.",
    {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)
SEARCH = ToolSpec("searchDocuments", "Search the knowledge base for documents.", {})


def ids() -> Any:
    counter = iter(range(1000))
    return lambda: f"call_{next(counter)}"


def ask(text: str, **kwargs: Any) -> ChatQuery:
    return ChatQuery(
        model=kwargs.pop("model", "gpt-4o-mini"), messages=(PromptMessage("user", text),), **kwargs
    )


def test_text_quotes_the_last_user_message_and_notes_attachments() -> None:
    query = ChatQuery(
        model="gpt-4o",
        messages=(
            PromptMessage("user", "first question"),
            PromptMessage("assistant", "first answer"),
            PromptMessage("user", "Describe this picture", images=1, audio=2),
        ),
    )
    turn = answer(query, ids())
    assert "Describe this picture" in turn.text
    assert "first question" not in turn.text
    assert "1 image" in turn.text and "2 audio clips" in turn.text
    assert turn.finish_reason == "stop" and turn.tool_calls == ()


def test_answer_is_deterministic() -> None:
    query = ask("What is the weather in Paris?", tools=(WEATHER,))
    assert answer(query, ids()) == answer(query, ids())


def test_usage_counts_prompt_and_completion_tokens() -> None:
    query = ask("one two three", max_tokens=None)
    turn = answer(query, ids())
    assert turn.prompt_tokens == prompt_tokens(query) == 3 + 3  # three words + message overhead
    assert turn.completion_tokens == count_tokens(turn.text) > 0
    assert turn.reasoning_tokens == 0


@pytest.mark.parametrize(
    "model", ["deepseek-reasoner", "o3-mini", "o1", "claude-3-7-sonnet-thinking"]
)
def test_reasoning_text_when_asked(model: str) -> None:
    turn = answer(ask("Why is the sky blue?", model=model, reasoning=True), ids())
    assert "Why is the sky blue?" in turn.reasoning
    assert turn.reasoning_tokens == count_tokens(turn.reasoning) > 0
    assert turn.completion_tokens == turn.reasoning_tokens + count_tokens(turn.text)


def test_auto_calls_the_matching_tool_with_values_from_the_request() -> None:
    turn = answer(
        ask("What is the weather in San Francisco, CA in fahrenheit?", tools=(ADD, WEATHER)), ids()
    )
    assert turn.finish_reason == "tool_calls" and turn.text == ""
    (call,) = turn.tool_calls
    assert call.name == "get_weather" and call.id == "call_0"
    assert json.loads(call.arguments) == {"location": "San Francisco, CA", "unit": "fahrenheit"}


def test_auto_answers_in_text_without_overlap() -> None:
    turn = answer(ask("Hello there!", tools=(ADD, WEATHER)), ids())
    assert turn.tool_calls == () and turn.text


def test_required_calls_even_without_overlap_and_fills_required_fields() -> None:
    turn = answer(ask("Hello!", tools=(ADD, WEATHER), tool_choice="required"), ids())
    (call,) = turn.tool_calls
    args = json.loads(call.arguments)
    jsonschema.validate(
        args, dict(ADD.parameters if call.name == "add_numbers" else WEATHER.parameters)
    )


def test_forced_tool_wins_over_a_better_match() -> None:
    query = ask(
        "What is the weather in Rome?",
        tools=(ADD, WEATHER),
        tool_choice="required",
        forced_tool="add_numbers",
    )
    (call,) = answer(query, ids()).tool_calls
    assert call.name == "add_numbers"


def test_tool_choice_none_never_calls() -> None:
    turn = answer(ask("What is the weather in Rome?", tools=(WEATHER,), tool_choice="none"), ids())
    assert turn.tool_calls == ()


def test_name_split_on_camel_case_matches() -> None:
    (call,) = answer(
        ask("Please search the documents about llamas", tools=(ADD, SEARCH)), ids()
    ).tool_calls
    assert call.name == "searchDocuments" and json.loads(call.arguments) == {}


def test_several_named_tools_are_called_in_parallel_with_values_in_order() -> None:
    query = ask(
        "Use add_numbers with 2 and 3, then get_weather for Oslo in celsius.", tools=(ADD, WEATHER)
    )
    calls = answer(query, ids()).tool_calls
    assert [c.name for c in calls] == ["add_numbers", "get_weather"]
    assert json.loads(calls[0].arguments) == {"a": 2, "b": 3}
    assert json.loads(calls[1].arguments) == {"location": "Oslo", "unit": "celsius"}
    single = answer(ChatQuery(**{**query.__dict__, "parallel_tool_calls": False}), ids())
    assert len(single.tool_calls) == 1


def test_after_a_tool_result_answers_in_text_citing_it() -> None:
    query = ChatQuery(
        model="gpt-4o",
        messages=(
            PromptMessage("user", "What is the weather in Paris?"),
            PromptMessage("assistant", "", tool_calls=("get_weather",)),
            PromptMessage("tool", "It's sunny, 21 degrees.", tool_name="get_weather"),
        ),
        tools=(WEATHER,),
        tool_choice="required",
    )
    turn = answer(query, ids())
    assert turn.tool_calls == ()
    assert "get_weather" in turn.text and "It's sunny, 21 degrees." in turn.text


def test_structured_output_is_an_instance_of_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 0}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    turn = answer(ask("Berlin has 3645000 people.", json_schema=schema), ids())
    value = json.loads(turn.text)
    jsonschema.validate(value, schema)
    assert value == {"city": "Berlin", "population": 3645000}


def test_json_mode_uses_the_keys_named_in_quotes() -> None:
    text = "Tell me a joke about cats. Return JSON with 'setup' and 'punchline' keys."
    value = json.loads(answer(ask(text, json_object=True), ids()).text)
    assert set(value) == {"setup", "punchline"} and all(
        isinstance(v, str) and v for v in value.values()
    )
    plain = json.loads(answer(ask("Give me JSON please", json_object=True), ids()).text)
    assert set(plain) == {"answer"}


def test_stop_cuts_at_the_first_stop_string() -> None:
    full = answer(ask("alpha beta gamma"), ids()).text
    turn = answer(ask("alpha beta gamma", stop=("zzz", "beta")), ids())
    assert turn.text == full[: full.index("beta")] and turn.finish_reason == "stop"


def test_max_tokens_truncates_and_reports_length() -> None:
    turn = answer(ask("one two three four five six seven", max_tokens=4), ids())
    assert count_tokens(turn.text) == 4 and turn.finish_reason == "length"
    roomy = answer(ask("one two", max_tokens=1000), ids())
    assert roomy.finish_reason == "stop"


def test_max_tokens_spends_the_budget_on_reasoning_first() -> None:
    turn = answer(ask("Explain everything in detail", reasoning=True, max_tokens=3), ids())
    assert count_tokens(turn.reasoning) == 3 and turn.text == "" and turn.finish_reason == "length"


def test_pieces_rejoin_to_the_text_and_truncation_counts_tokens() -> None:
    text = "Hello, wörld! 你好 123  end \n"
    assert "".join(pieces(text)) == text
    assert len(pieces(text)) == count_tokens(text)
    assert truncate_tokens(text, 2) == ("Hello,", True)
    assert words("getWeather_now cats") == ["get", "weather", "now", "cat"]
