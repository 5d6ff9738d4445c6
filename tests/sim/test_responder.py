"""Answer composition and token arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from devflow_tui.context.tokens import message_tokens
from devflow_tui.openrouter.wire import ChatMessage
from devflow_tui.sim.responder import (
    answer_tokens,
    classify_prompt,
    compose_answer,
    content_text,
    detect_language,
    guess_code_language,
    last_user_text,
    prompt_tokens,
    split_tokens,
)
from devflow_tui.sim.tokens import count_tokens


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        ("Write a Python function that parses a CSV file", "code"),
        ("Scrivi una funzione che ordina una lista", "code"),
        ("Write a short poem about autumn", "poem"),
        ("Scrivi una poesia sul mare", "poem"),
        ("Analyze the pros and cons of microservices", "analysis"),
        ("Confronta due database relazionali per un'app mobile", "analysis"),
        ("Compare PostgreSQL with MySQL", "analysis"),
        ("Solve x^2 - 4 = 0 step by step", "reasoning"),
        ("what is 17 * 23", "reasoning"),
        ("hello, how are you today?", "chat"),
    ],
)
def test_classify_prompt(prompt: str, kind: str) -> None:
    assert classify_prompt(prompt) == kind


@pytest.mark.parametrize(
    ("prompt", "language"),
    [
        ("Write a function in rust", "rust"),
        ("Fix this SQL query please", "sql"),
        ("A React component in TypeScript", "typescript"),
        ("node script in javascript", "javascript"),
        ("a bash script to rotate logs", "bash"),
        ("goroutine leak in golang", "go"),
        ("java spring controller", "java"),
        ("implement a binary search", "python"),
    ],
)
def test_guess_code_language(prompt: str, language: str) -> None:
    assert guess_code_language(prompt) == language


def test_language_detection() -> None:
    assert detect_language("Scrivi una funzione per il parsing del file") == "it"
    assert detect_language("Write a function for the parser") == "en"
    assert detect_language("") == "en"


def test_code_answer_has_label_and_a_fenced_block_in_the_guessed_language() -> None:
    answer = compose_answer("Write a rust function to count words", "x-ai/grok-code-fast-1")
    assert answer.content.startswith("[simulated answer from x-ai/grok-code-fast-1]\n")
    assert "```rust\n" in answer.content
    assert answer.content.count("```") == 2
    assert answer.kind == "code"
    assert answer.reasoning == ""


def test_italian_poem_is_italian_and_about_the_topic() -> None:
    answer = compose_answer("Scrivi una poesia sul mare", "openai/gpt-5-mini")
    assert answer.language == "it"
    assert answer.kind == "poem"
    body = answer.content.split("\n\n", 1)[1]
    assert "mare" in body
    assert 4 <= len(body.splitlines()) <= 6


def test_analysis_is_bullets_and_reasoning_is_steps() -> None:
    analysis = compose_answer("Analyze the trade-offs of caching", "m/a").content
    assert sum(line.startswith("- ") for line in analysis.splitlines()) >= 4
    steps = compose_answer("Solve 12 + 30 step by step", "m/a").content
    assert "1. " in steps and "4. " in steps and "**Answer:**" in steps


def test_answers_are_deterministic_and_depend_on_the_prompt() -> None:
    first = compose_answer("hello there friend", "openai/gpt-4o-mini")
    again = compose_answer("hello there friend", "openai/gpt-4o-mini")
    assert first == again
    assert compose_answer("hello there stranger", "openai/gpt-4o-mini") != first


def test_reasoning_text_is_longer_for_reasoning_prompts() -> None:
    chat = compose_answer("hello there", "deepseek/deepseek-r1", reasoning=True)
    maths = compose_answer("calculate 3 + 4", "deepseek/deepseek-r1", reasoning=True)
    assert chat.reasoning
    assert len(maths.reasoning) > len(chat.reasoning)


def test_exact_tokens_gives_exactly_that_many_tokens() -> None:
    for tokens in (1, 7, 50, 1234):
        answer = compose_answer("hi", "openai/gpt-4o-mini", exact_tokens=tokens)
        assert answer_tokens(answer.content) == tokens
        assert len(split_tokens(answer.content)) == tokens


def test_answer_tokens_and_split_agree() -> None:
    assert answer_tokens("") == 0
    assert answer_tokens("abcd") == 1
    assert answer_tokens("abcde") == 2
    text = "a fairly ordinary sentence, with punctuation."
    assert "".join(split_tokens(text)) == text
    assert len(split_tokens(text)) == answer_tokens(text)


def test_prompt_tokens_counts_text_overhead_and_images() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "abcdefgh"},  # one word: 1 token, + 3 framing
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "abcd"},  # 1 token + 3 framing
                {"type": "image_url", "image_url": {"url": "data:,"}},  # 85
                "not a part",  # ignored
            ],
        },
        {"role": "assistant", "content": None},  # framing only
    ]
    assert prompt_tokens(messages) == 3 + (3 + 1) + (3 + 1 + 85) + 3
    assert content_text(None) == ""
    assert last_user_text(messages) == "abcd"
    assert last_user_text([{"role": "assistant", "content": "only"}]) == "only"
    assert last_user_text([]) == ""


PROMPTS = [
    "The quick brown fox jumps over the lazy dog. " * 40,
    "def f(x):\n    return {'a': [x, x + 1]}\n" * 30,
    '{"key": [1, 2, 3], "nested": {"v": null}}' * 25,
    "Perché la funzione non è più veloce? Ça coûte très cher. " * 20,
    "東京の天気はどうですか 🙂 " * 15,
]


@pytest.mark.parametrize("text", PROMPTS)
def test_prompt_tokens_are_the_simulators_own_count(text: str) -> None:
    """The simulator bills its own count, not the client's estimate of it."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": text[: len(text) // 3]},
        {
            "role": "user",
            "content": [{"type": "text", "text": text}, {"type": "text", "text": "?"}],
        },
    ]
    own = 3 + 3 + count_tokens(text[: len(text) // 3]) + 3 + count_tokens(text) + 1
    assert prompt_tokens(messages) == own


def test_the_simulator_disagrees_with_the_estimator_as_a_real_tokenizer_would() -> None:
    chat_counts = [
        (
            prompt_tokens([{"role": "user", "content": t}]),
            message_tokens([ChatMessage(role="user", content=t)]),
        )
        for t in PROMPTS
    ]
    assert any(sim != estimate for sim, estimate in chat_counts)
    # Same order of magnitude: both approximate a BPE tokenizer.
    assert all(0.5 < sim / estimate < 2 for sim, estimate in chat_counts)


def test_long_answers_are_padded_with_paragraphs_deterministically() -> None:
    for prompt in ("tell me a very long story", "raccontami una storia molto lunga per favore"):
        answer = compose_answer(prompt, "openai/gpt-4o-mini", exact_tokens=5000)
        assert answer_tokens(answer.content) == 5000
        assert "".join(split_tokens(answer.content)) == answer.content
        paragraphs = answer.content.split("\n\n")
        # Several short paragraphs separated by blank lines, not one 20,000-character block.
        assert len(paragraphs) > 20
        assert max(len(p) for p in paragraphs) < 600
        assert len(set(paragraphs[2:])) > 1
        again = compose_answer(prompt, "openai/gpt-4o-mini", exact_tokens=5000)
        assert again.content == answer.content
    english = compose_answer("tell me a very long story", "openai/gpt-4o-mini", exact_tokens=5000)
    other = compose_answer("tell me a very long story", "x-ai/grok-4", exact_tokens=5000)
    assert other.content.split("\n\n")[2:] != english.content.split("\n\n")[2:]
