"""The token estimate: deterministic, additive, and in the range real tokenizers give."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from devflow_tui.context.tokens import (
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMING_TOKENS,
    estimate_tokens,
    message_tokens,
)
from devflow_tui.openrouter.wire import ChatMessage

PROSE = (
    "The quick brown fox jumps over the lazy dog. Routing each prompt to the cheapest capable "
    "model keeps costs down without giving up quality on the hard questions."
)
CODE = "def total(items: list[int]) -> int:\n    return sum(x * 2 for x in items if x > 0)\n"


def test_empty_and_tiny() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1


# Real counts, measured once with OpenAI's cl100k_base and o200k_base vocabularies (the
# `bpe-openai` package, installed outside the project; see devflow_tui/context/tokens.py).
FIXTURE = Path(__file__).parent / "fixtures" / "claude-code-viewer-v1.0.98.jsonl"
MEASURED = [  # (text, cl100k, o200k)
    (PROSE, 30, 30),
    (CODE, 27, 27),
    (FIXTURE.read_text(encoding="utf-8"), 6593, 6603),
]


@pytest.mark.parametrize(("text", "cl100k", "o200k"), MEASURED)
def test_close_to_real_tokenizers_on_english_code_and_json(
    text: str, cl100k: int, o200k: int
) -> None:
    estimate = estimate_tokens(text)
    assert 0.8 * cl100k <= estimate <= 1.25 * cl100k
    assert 0.8 * o200k <= estimate <= 1.25 * o200k


def test_code_costs_more_per_character_than_prose() -> None:
    assert len(CODE) / estimate_tokens(CODE) < len(PROSE) / estimate_tokens(PROSE)


def test_non_ascii_errs_on_the_high_side() -> None:
    cyrillic = "Привет, как дела? Это проверка оценки." * 5  # cl100k 85, o200k 55
    cjk = "日本語のテキストを見積もる。" * 5  # cl100k 75, o200k 60
    assert 85 <= estimate_tokens(cyrillic) <= 2 * 85
    assert 0.9 * 75 <= estimate_tokens(cjk) <= 1.5 * 75
    assert estimate_tokens("🎉") == 3


def test_additive_up_to_rounding() -> None:
    rng = random.Random(7)
    alphabet = "abc XYZ 012 {}();=\n\tпр日"
    for _ in range(300):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert estimate_tokens(a + b) <= estimate_tokens(a) + estimate_tokens(b)
        assert estimate_tokens(a + b) == estimate_tokens(a + b)  # deterministic


def test_message_tokens_counts_framing_and_blocks() -> None:
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content=[{"type": "text", "text": PROSE}, {"type": "image_url"}]),
        ChatMessage(role="assistant", content=None),
    ]
    expected = (
        REPLY_PRIMING_TOKENS
        + 3 * MESSAGE_OVERHEAD_TOKENS
        + estimate_tokens("Be brief.")
        + estimate_tokens(PROSE)
    )
    assert message_tokens(messages) == expected
