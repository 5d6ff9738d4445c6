"""The simulator's own token count behaves like a BPE tokenizer, not like the client's estimate."""

from __future__ import annotations

import pytest

from devflow_tui.context.tokens import estimate_tokens
from devflow_tui.sim.tokens import count_tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("The quick brown fox", 4),  # common words: one token each, space included
        ("internationalization", 3),  # a long rare word splits
        ("1234567", 3),  # digits in groups of three
        ("東京の天気", 5),  # one token per CJK character
        ("Привет", 3),  # about half a token per Cyrillic letter
        ("perché", 2),
        ("   \n\n  ", 1),  # a whitespace run is one token
        ("don't", 2),
        ("x = {}", 3),
        ("snake_case_name", 2),
    ],
)
def test_counts_like_a_bpe_tokenizer(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


def test_is_not_the_client_estimator() -> None:
    code = "def f(x):\n    return {'a': [x, x + 1]}\n" * 30
    assert count_tokens(code) != estimate_tokens(code)
    assert count_tokens("   \n\n  ") != estimate_tokens("   \n\n  ")
