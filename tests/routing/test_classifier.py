"""TaskClassifier: accuracy on labelled English and Italian prompts, history, context, signals.

`labelled_prompts.jsonl` (146 prompts, 72 Italian) was written before the rules and the rules
were then tuned against it, so its figures are training figures. `holdout_prompts.jsonl` (40
prompts, 20 Italian) was written after the first version of the rules and scored once before
any further change (80 % type accuracy at that point); later general fixes were informed by
its misses, so it is not blind any more either. Both are also training data of the shipped
complexity model, so their complexity figures are fit, not generalisation; the honest figures
come from the Arena-Hard held-out split (`benchmarks/routing_accuracy.py`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from devflow_tui.routing import classifier as classifier_module
from devflow_tui.routing.classifier import Classification, TaskClassifier, _split, _word_first

HERE = Path(__file__).parent


def _load(name: str) -> list[dict[str, Any]]:
    lines = (HERE / name).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


LABELLED = _load("labelled_prompts.jsonl")
HOLDOUT = _load("holdout_prompts.jsonl")


@pytest.fixture(scope="module")
def classifier() -> TaskClassifier:
    return TaskClassifier()


def _accuracy(classifier: TaskClassifier, rows: list[dict[str, Any]]) -> dict[str, float]:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    complexity_hits = 0
    for row in rows:
        result = classifier.classify(row["prompt"])
        totals[row["lang"]] += 1
        hits[row["lang"]] += result.task_type == row["task_type"]
        complexity_hits += result.complexity == row["complexity"]
    figures = {lang: hits[lang] / totals[lang] for lang in totals}
    figures["overall"] = sum(hits.values()) / len(rows)
    figures["complexity"] = complexity_hits / len(rows)
    return figures


def test_labelled_set_is_big_varied_and_bilingual() -> None:
    assert len(LABELLED) >= 140
    langs = Counter(row["lang"] for row in LABELLED)
    assert langs["it"] >= 60 and langs["en"] >= 60
    types = Counter(row["task_type"] for row in LABELLED)
    assert set(types) == {"coding", "analysis", "creative", "reasoning", "chat"}
    assert min(types.values()) >= 20
    assert len({row["prompt"] for row in LABELLED}) == len(LABELLED)


def test_accuracy_on_the_labelled_set(classifier: TaskClassifier) -> None:
    figures = _accuracy(classifier, LABELLED)
    print(f"\nlabelled set: {figures}")
    assert figures["overall"] >= 0.90
    assert figures["en"] >= 0.90
    assert figures["it"] >= 0.90
    assert figures["complexity"] >= 0.70


def test_accuracy_on_the_holdout_set(classifier: TaskClassifier) -> None:
    figures = _accuracy(classifier, HOLDOUT)
    print(f"\nholdout set: {figures}")
    assert figures["overall"] >= 0.85
    assert figures["en"] >= 0.80 and figures["it"] >= 0.80
    assert figures["complexity"] >= 0.65


def test_language_detection(classifier: TaskClassifier) -> None:
    rows = LABELLED + HOLDOUT
    agree = sum(classifier.classify(r["prompt"]).language == r["lang"] for r in rows)
    assert agree / len(rows) >= 0.95


def test_signals_explain_the_decision(classifier: TaskClassifier) -> None:
    result = classifier.classify(
        'My app.py crashes:\nTraceback (most recent call last):\n  File "app.py", line 3\n'
        "ValueError: bad\n```python\nprint(1)\n```"
    )
    assert result.task_type == "coding"
    assert "code block" in result.signals
    assert "stack trace or error message" in result.signals
    assert "file name app.py" in result.signals
    assert "english" in result.signals
    assert result.scores["coding"] > result.scores["analysis"]
    proof = classifier.classify("Dimostra che esistono infiniti numeri primi.")
    assert (proof.task_type, proof.language) == ("reasoning", "it")
    assert "verb 'prove'" in proof.signals and "italian" in proof.signals
    assert proof.complexity == "high"


# The examples and the taxonomy's own: (prompt, task type, complexity or None).
TAXONOMY_EXAMPLES = [
    ("If a car travels 120 miles in 2 hours, what is its average speed?", "reasoning", "low"),
    (
        "David has three sisters. Each of them has one brother. How many brothers does David have?",
        "reasoning",
        None,
    ),
    (
        "Draft a professional email seeking your supervisor's feedback on the quarterly report",
        "creative",
        None,
    ),
    ("What are the most effective ways to deal with stress?", "chat", "low"),
    ("Write the tests for the parser we just changed", "coding", None),
    ("What's 17*23?", "reasoning", "low"),
    ("write a Python function that computes the nth prime", "coding", None),
    ("prove that there are infinitely many primes", "reasoning", "high"),
    ("write a poem about primes", "creative", None),
    ("explain why RSA depends on primes", "analysis", None),
    ("hi, are you there?", "chat", "low"),
    ("Quanto fa 17*23?", "reasoning", "low"),
    ("Scrivi un'email al mio capo per chiedere un giorno di ferie", "creative", None),
    ("Come posso gestire meglio lo stress?", "chat", "low"),
]


@pytest.mark.parametrize(("prompt", "task", "complexity"), TAXONOMY_EXAMPLES)
def test_taxonomy_examples(
    classifier: TaskClassifier, prompt: str, task: str, complexity: str | None
) -> None:
    result = classifier.classify(prompt)
    assert result.task_type == task, result.signals
    if complexity is not None:
        assert result.complexity == complexity, result.signals
    assert result.complexity != "high" or task == "reasoning"  # none of these is frontier work


# QA finding 13: everyday questions, in English and in Italian (the same question gets the same
# type and complexity in both), by the taxonomy's definitions. None: the level is a judgement
# call, the two languages must still agree.
EVERYDAY_PAIRS = [
    (
        "If a car travels 120 miles in 2 hours, what is its average speed?",
        "Se un'auto percorre 120 miglia in 2 ore, qual è la sua velocità media?",
        "reasoning",
        "low",
    ),
    (
        "What are the most effective ways to deal with stress?",
        "Quali sono i modi più efficaci per gestire lo stress?",
        "chat",
        "low",
    ),
    ("What is Docker?", "Cos'è Docker?", "analysis", "low"),
    ("What is Kubernetes?", "Cos'è Kubernetes?", "analysis", "low"),
    ("What is Redis used for?", "A cosa serve Redis?", "analysis", "low"),
    ("Should I learn Rust or Go first?", "Dovrei imparare prima Rust o Go?", "analysis", None),
    (
        "Is React better than Vue for a small team?",
        "React è migliore di Vue per un piccolo team?",
        "analysis",
        None,
    ),
    (
        "Compare Python and Go for backend services",
        "Confronta Python e Go per servizi backend",
        "analysis",
        None,
    ),
    (
        "Pros and cons of Kubernetes for a small startup",
        "Pro e contro di Kubernetes per una piccola startup",
        "analysis",
        None,
    ),
    (
        "What's the difference between TCP and UDP?",
        "Qual è la differenza tra TCP e UDP?",
        "analysis",
        "low",
    ),
    # About code, so still coding: a construct of one language, or code asked for.
    (
        "What's the difference between let and var in JavaScript?",
        "Qual è la differenza tra let e var in JavaScript?",
        "coding",
        "low",
    ),
    ("What is a closure in JavaScript?", "Cos'è una closure in JavaScript?", "coding", "low"),
    (
        "Compare Python and Go for backend services, with code examples of an HTTP handler",
        "Confronta Python e Go per servizi backend, con esempi di codice di un handler HTTP",
        "coding",
        None,
    ),
]


@pytest.mark.parametrize(
    ("english", "italian", "task", "complexity"),
    EVERYDAY_PAIRS,
    ids=[pair[0][:40] for pair in EVERYDAY_PAIRS],
)
def test_everyday_questions_in_english_and_italian(
    classifier: TaskClassifier, english: str, italian: str, task: str, complexity: str | None
) -> None:
    en, it = classifier.classify(english), classifier.classify(italian)
    assert (en.task_type, it.task_type) == (task, task), (en.signals, it.signals)
    assert en.complexity == it.complexity, (en.signals, it.signals)
    if complexity is not None:
        assert en.complexity == complexity, en.signals
    assert (en.language, it.language) == ("en", "it")


def test_a_question_about_technologies_says_why_it_is_not_code(
    classifier: TaskClassifier,
) -> None:
    found = classifier.classify("Should I learn Rust or Go first?")
    assert "judges technologies, no code asked" in found.signals
    for definition in ("What is Docker?", "Cos'è Kubernetes?"):
        signals = classifier.classify(definition).signals
        assert any(s == "asks what a technology is, no code asked" for s in signals)


def test_length_alone_is_not_complexity(classifier: TaskClassifier) -> None:
    pasted = "Summarise this text.\n\n" + "The council met on Monday and discussed roads. " * 60
    assert classifier.classify(pasted).complexity != "high"
    assert classifier.classify("Prove the Riemann hypothesis for function fields").complexity == (
        "high"
    )


def test_follow_ups_inherit_the_conversation_task(classifier: TaskClassifier) -> None:
    coding = ["Write a Python function that parses ISO dates"]  # the user's earlier prompts
    for follow_up in ("and add tests", "why?", "and now the same in Java?"):
        result = classifier.classify(follow_up, history=coding)
        assert result.task_type == "coding", follow_up
        assert "follow-up to a coding conversation" in result.signals
    poem = ["Write a poem about the winter sea"]
    for follow_up in ("make it shorter", "e in italiano?"):
        result = classifier.classify(follow_up, history=poem)
        assert result.task_type == "creative", follow_up
    assert classifier.classify("and now the same thing?").task_type != "coding"


@pytest.mark.parametrize(
    ("request_", "follow_ups"),
    [
        (
            "My Flask route returns 500 when the JSON body is empty, how do I fix it?",
            ("why?", "e in italiano?", "make it shorter"),
        ),
        (
            "La mia route Flask restituisce 500 quando il corpo JSON è vuoto, come la sistemo?",
            ("perché?", "and in English?", "rendilo più breve"),
        ),
        (
            "Summarise the key arguments for and against a carbon tax",
            ("why?", "make it shorter", "e in italiano?"),
        ),
    ],
    ids=["flask-en", "flask-it", "carbon-tax"],
)
def test_a_follow_up_takes_the_task_of_the_request_it_follows(
    classifier: TaskClassifier, request_: str, follow_ups: tuple[str, ...]
) -> None:
    """QA finding 14: after a coding question and "why?", "e in italiano?" went to analysis,
    the task of the last two messages' words; it is the conversation's task."""
    task = classifier.classify(request_).task_type
    history: list[str] = [request_]
    for follow_up in follow_ups:
        found = classifier.classify(follow_up, history=history)
        assert found.task_type == task, (follow_up, found.signals)
        assert f"follow-up to {'an' if task == 'analysis' else 'a'} {task} conversation" in (
            found.signals
        )
        history.append(follow_up)


def test_a_follow_up_after_a_new_request_follows_the_new_one(classifier: TaskClassifier) -> None:
    history = ["Write a Python function that parses ISO dates", "why?", "Write a poem about rain"]
    assert classifier.classify("make it shorter", history=history).task_type == "creative"


def test_a_follow_up_keeps_the_complexity_of_the_request_it_continues(
    classifier: TaskClassifier,
) -> None:
    """ "e in italiano?" after a medium question continues that deliverable: it needs as
    strong a model as the request did, not the "low" its own two words read as; a new request
    after it is read on its own."""
    request_ = "Summarise the key arguments for and against a carbon tax, with the evidence"
    asked = classifier.classify(request_)
    assert asked.complexity == "medium", asked.signals
    assert classifier.classify("e in italiano?").complexity == "low"  # on its own
    history = [request_]
    for follow_up in ("e in italiano?", "why?", "make it shorter", "rendilo più breve"):
        found = classifier.classify(follow_up, history=history)
        assert found.complexity == "medium", (follow_up, found.signals)
        history.append(follow_up)
    proof = ["Prove that every planar graph is 5-colourable, rigorously"]
    why = classifier.classify("why?", history=proof)
    assert why.complexity == "high", why.signals
    assert "continues a high-complexity request: high" in why.signals
    # A new request is not a continuation: its own complexity, whatever came before.
    new = classifier.classify("thanks! what's the capital of Australia?", history=proof)
    assert new.complexity == "low", new.signals
    assert not any(s.startswith("continues") for s in new.signals)
    # A follow-up that asks for more than the request did keeps its own, higher level.
    small = ["how do I reverse a list in Python?"]
    assert classifier.classify(small[0]).complexity == "low"
    assert classifier.classify("and in Java?", history=small).complexity == "low"


def test_a_new_request_is_classified_on_its_own(classifier: TaskClassifier) -> None:
    coding = ["Write a Python function that parses ISO dates"]  # the user's earlier prompts
    essay = classifier.classify("Write a long essay about the history of Rome", history=coding)
    assert essay.task_type != "coding"
    assert not any(s.startswith("follow-up") for s in essay.signals)
    assert classifier.classify("thanks!", history=coding).task_type == "chat"
    assert classifier.classify("Write a haiku about rain", history=coding).task_type == "creative"
    poem = classifier.classify("Now write a poem about cats", history=coding)
    assert poem.task_type == "creative"


def test_complexity_explains_itself(classifier: TaskClassifier) -> None:
    result = classifier.classify("prove that there are infinitely many primes")
    model_signal = next(s for s in result.signals if s.startswith("complexity: high"))
    assert "%" in model_signal and "(" in model_signal


def test_a_demanding_request_is_never_low(classifier: TaskClassifier) -> None:
    found = classifier.classify(
        "Design a distributed, fault-tolerant job scheduler in Go with exactly-once semantics"
    )
    assert found.complexity != "low", found.signals
    assert "a demanding request: medium at least" in found.signals or found.complexity == "high"
    assert classifier.classify("What's the capital of Australia?").complexity == "low"


@pytest.mark.parametrize(
    "prompt",
    [
        "Design a distributed job scheduler with leader election",
        "Progetta un sistema di cache distribuito per un e-commerce",
    ],
)
def test_a_system_design_is_coding_and_not_low(classifier: TaskClassifier, prompt: str) -> None:
    found = classifier.classify(prompt)  # short, so no other rule fired: it read as chat/low
    assert (found.task_type, found.complexity != "low") == ("coding", True), found.signals
    assert any(s.startswith("asks for a system design") for s in found.signals)


def test_rules_alone_when_there_is_no_model() -> None:
    rules = TaskClassifier(model=None)
    assert rules.model is None
    result = rules.classify("prove that there are infinitely many primes")
    assert (result.task_type, result.complexity) == ("reasoning", "high")
    assert not any(s.startswith("complexity:") for s in result.signals)
    assert rules.classify("hi!").complexity == "low"


def test_big_context_and_long_conversations_never_make_a_request_high(
    classifier: TaskClassifier,
) -> None:
    """QA finding 11: a big context needs a big window (the selector's filter), not a
    frontier model; it lifts a "low" to "medium" at most."""
    prompt = "What does this function do?"
    assert classifier.classify(prompt).complexity == "low"
    for tokens in (12_400, 60_000, 90_910):
        found = classifier.classify(prompt, context_tokens=tokens)
        assert found.complexity == "medium", found.signals
        assert f"large context ({tokens:,} tokens)" in found.signals
    for summarise in ("Summarise this file", "Riassumi questo file"):
        found = classifier.classify(summarise, context_tokens=90_910)
        assert (found.task_type, found.complexity) == ("analysis", "medium"), found.signals
    long_chat = classifier.classify(prompt, history=["q"] * 4)
    assert "long conversation (4 earlier prompts)" in long_chat.signals
    assert long_chat.complexity == "medium"
    proof = "Prove that every planar graph is 5-colourable, rigorously"
    assert classifier.classify(proof, context_tokens=60_000).complexity == "high"


COUNCIL_EN = "the council met on tuesday and agreed to repair the roads"
COUNCIL_IT = "il consiglio si è riunito martedì e ha deciso di riparare le strade"


@pytest.mark.parametrize(
    "prompt",
    [
        # One line, as pasted from a web page: no paragraph tells the request from the paste.
        "Summarise this: " + " ".join([COUNCIL_EN] * 120),
        "Summarise this:\n\n" + "\n\n".join([" ".join([COUNCIL_EN] * 6)] * 20),
        " ".join([COUNCIL_EN] * 120) + ". Can you summarize the above in five bullet points?",
        "Extract every date from this text: " + " ".join([COUNCIL_EN] * 120),
        "Translate into Italian: " + " ".join([COUNCIL_EN] * 120),
        "Riassumi questo: " + " ".join([COUNCIL_IT] * 120),
        "Puoi tradurre in inglese il testo seguente? " + " ".join([COUNCIL_IT] * 120),
        " ".join([COUNCIL_IT] * 120) + "\n\nEstrai tutte le date.",
    ],
    ids=[
        "summarise-one-line",
        "summarise-paragraphs",
        "summarize-after",
        "extract",
        "translate",
        "riassumi",
        "puoi-tradurre",
        "estrai-after",
    ],
)
def test_a_reading_request_over_a_long_paste_is_medium_at_most(
    classifier: TaskClassifier, prompt: str
) -> None:
    found = classifier.classify(prompt)
    assert found.complexity != "high", found.signals
    assert TaskClassifier(model=None).classify(prompt).complexity != "high"


def test_a_long_prompt_stays_high_for_hard_work(classifier: TaskClassifier) -> None:
    paste = " ".join([COUNCIL_EN] * 60)
    proof = f"{paste}\n\nProve that the council's voting rule always terminates, rigorously."
    assert classifier.classify(proof).complexity == "high"
    design = (
        "Design a distributed, fault-tolerant job scheduler in Go with exactly-once semantics. "
        + paste
    )
    assert classifier.classify(design).complexity != "low"


def test_long_prompt_signal_and_token_estimate(classifier: TaskClassifier) -> None:
    prompt = "Review this design document and list the risks. " + "The service " * 400
    result = classifier.classify(prompt)
    assert result.prompt_tokens > 400
    assert any(s.startswith("long prompt (") for s in result.signals)
    assert result.complexity != "low"  # a review with risks; its length alone does not make it high


def test_unrecognised_messages_fall_back(classifier: TaskClassifier) -> None:
    short = classifier.classify("purple elephants")
    assert short.task_type == "chat"
    assert "no strong signal (short message)" in short.signals
    long = classifier.classify(" ".join(["blue"] * 30))
    assert long.task_type == "analysis"


def test_empty_prompt_is_handled(classifier: TaskClassifier) -> None:
    result = classifier.classify("")
    assert isinstance(result, Classification)
    assert result.prompt_tokens == 0 and result.complexity == "low"


def test_deterministic(classifier: TaskClassifier) -> None:
    prompt = LABELLED[7]["prompt"]
    assert classifier.classify(prompt) == classifier.classify(prompt)


def test_huge_pastes_are_scanned_only_at_the_start_and_the_end(
    classifier: TaskClassifier,
) -> None:
    prompt = "Summarize this log for me.\n" + ("INFO ok\n" * 50_000) + "Write a poem"
    result = classifier.classify(prompt)
    # Both requests are read (head and tail), nothing of the 50,000 lines between them.
    assert {"asks for a summary", "creative form 'poem'"} <= set(result.signals)
    assert result.task_type in ("analysis", "creative")
    assert result.prompt_tokens > 50_000


def test_a_request_after_a_long_paste_is_read(classifier: TaskClassifier) -> None:
    article = "The council met on Monday and discussed the new cycle lanes downtown. " * 60
    result = classifier.classify(article + "\n\nSummarise the text above in three bullet points.")
    assert result.task_type == "analysis"
    assert "asks for a summary" in result.signals
    assert result.complexity != "high"


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        # Understanding, not code: a conceptual question about software is analysis.
        ("How does garbage collection affect latency in Java services?", "analysis"),
        ("What are the best practices for structuring a monorepo?", "analysis"),
        ("Come funziona la garbage collection in Go?", "analysis"),
        # Prose deliverables, prompts for an AI, role-play: creative.
        ("Write an introduction for my thesis on urban heat islands", "creative"),
        ("Scrivi l'introduzione di un articolo sulle isole di calore urbane", "creative"),
        ("Create a prompt that makes an AI act as a strict proofreader", "creative"),
        ("You are the dungeon master of our D&D campaign: describe the tavern", "creative"),
        # A derived value: reasoning.
        ("If you roll two dice, what is the chance that the sum is 7?", "reasoning"),
        (
            "Calculate the minimum possible cost to ship 40 crates with trucks of 12 and 7",
            "reasoning",
        ),
        # Code is still code.
        ("Write a Python script that scrapes product prices from a web page", "coding"),
    ],
)
def test_taxonomy_rules_for_concepts_prose_and_derived_values(
    classifier: TaskClassifier, prompt: str, task: str
) -> None:
    assert classifier.classify(prompt).task_type == task


@pytest.mark.parametrize(
    ("prompt", "not_fired"),
    [
        # Everyday Italian words that are English rule words, or mean something else too.
        ("Ci sono tre modi per arrivare in centro: quale consigli?", "software term 'ci'"),
        ("In tale caso conviene aprire una partita IVA?", "creative form 'tale'"),
        ("Qual è la storia della Rivoluzione francese?", "creative form 'storia'"),
        ("Il primo giorno di lavoro cosa devo portare?", "math term 'primo'"),
        ("Ho a disposizione tre server: come distribuisco il carico?", "combinatorics"),
        ("Quali prove servono in tribunale per un danno?", "verb 'prove'"),
        ("Quando compare questo avviso nel terminale?", "comparison"),
        ("Stiamo fermi da un'ora in autostrada: che faccio?", "estimation"),
        ("Rinomina i nomi delle variabili in questa funzione", "creative form 'nomi'"),
        ("Restituisci l'array originale senza modificarlo", "style word 'originale'"),
        (
            "Devo fare la dichiarazione dei redditi: da dove comincio?",
            "coding term 'dichiarazione'",
        ),
        ("Un progetto su larga scala: quali rischi?", "software term 'scala'"),
    ],
)
def test_everyday_italian_words_do_not_fire_english_rules(prompt: str, not_fired: str) -> None:
    assert not_fired not in TaskClassifier(model=None).classify(prompt).signals


@pytest.mark.parametrize(
    ("prompt", "not_fired"),
    [
        # Words and numbers that mean something else than code or arithmetic.
        ("What is likely to be on the test for the cardiology board exam?", "coding term 'test'"),
        ("Which blood tests should a 40 year old ask for?", "coding term 'tests'"),
        ("Dove trovo il modulo per il cambio di residenza?", "coding term 'modulo'"),
        ("How good a hedge have bonds been against equities in 2000-2023?", "math"),
        ("On 9/25/2023 the sentiment score was 0.99: what does that say?", "math"),
        ("How do I reserve stack space in x86-64 assembly?", "math"),
        ("Suggest ingredient combinations for a tuna salad", "combinatorics"),
    ],
)
def test_words_in_another_sense_do_not_fire_rules(prompt: str, not_fired: str) -> None:
    assert not_fired not in TaskClassifier(model=None).classify(prompt).signals


@pytest.mark.parametrize(
    ("prompt", "fired"),
    [
        ("We need unit tests for the date handling", "coding term 'unit tests'"),
        ("The tests fail after the upgrade, why?", "coding term 'tests fail'"),
        ("I want to write tests for the date handling", "coding term 'write tests'"),
        ("What is -5 + 3?", "math"),
        ("Quanto fa 1500-200?", "math"),
        ("How many combinations of 3 letters can be made from 5?", "combinatorics"),
        ("Quante combinazioni di 3 lettere si possono fare con 5 lettere?", "combinatorics"),
    ],
)
def test_the_same_words_count_with_their_company(prompt: str, fired: str) -> None:
    assert fired in TaskClassifier(model=None).classify(prompt).signals


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        # The English words those rules were for still count, with their company.
        ("Prove that there are infinitely many primes", "reasoning"),
        ("Prove Fermat's little theorem", "reasoning"),
        ("Write a fairy tale about a fox who learns to share", "creative"),
        ("Fermi estimate: how many piano tuners work in Chicago?", "reasoning"),
        ("Trova tutti i numeri primi minori di 50", "reasoning"),
        ("Scrivi una storia per bambini su un drago timido", "creative"),
        ("Dammi una progressione di accordi per chitarra in la minore", "creative"),
        # Polite Italian requests use the infinitive or a pronoun: "puoi scrivere", "scrivimi".
        ("Scrivimi una funzione Python che inverte una lista", "coding"),
        ("Mi aiuti a creare uno script bash che comprime i log vecchi?", "coding"),
        ("Potresti scrivere l'introduzione della mia tesi sulle isole di calore?", "creative"),
        # A script for the screen is prose; a script that renames files is code.
        ("Write a 60 second YouTube video script about budgeting apps", "creative"),
        ("Scrivi il copione per uno spot radiofonico di 30 secondi", "creative"),
        ("Write a bash script to back up my video folder", "coding"),
        # Reviewing code is work on code (taxonomy).
        ("Can you review my code and suggest improvements?", "coding"),
        ("Puoi rivedere il mio codice e dirmi cosa migliorare?", "coding"),
        # Jokes, story-telling and names are creative (taxonomy); a sum of quantities is derived.
        ("Tell me a joke", "creative"),
        ("Dimmi una barzelletta", "creative"),
        ("Raccontami la storia di Cappuccetto Rosso in versione moderna", "creative"),
        ("Trova un nome per una startup di droni", "creative"),
        ("Il primo numero è 5 e il secondo è 7: qual è la somma?", "reasoning"),
        ("How many r's are in the word strawberry?", "reasoning"),
        ("Quali sono le cause principali della Rivoluzione francese?", "analysis"),
        # "why does my ..." is a problem with the user's own thing, not a concept.
        ("Why does my useEffect run twice in development?", "coding"),
        ("Perché il mio useEffect viene eseguito due volte in sviluppo?", "coding"),
        ("How to kill the process listening on port 3000 on a Mac?", "coding"),
        ("Give me 10 name ideas for a podcast about personal finance", "creative"),
        ("Make this sentence more formal: gonna need that report asap", "creative"),
        ("Rendi questa frase più formale: mi serve quel report subito", "creative"),
    ],
)
def test_rules_read_words_in_context(prompt: str, task: str) -> None:
    assert TaskClassifier(model=None).classify(prompt).task_type == task


@pytest.mark.parametrize(
    "pattern",
    [
        r"\bdef \w+\(|\bfunction\s*\w*\s*\(|=>",
        r"^\W*(?:how does|why does)\b|\bbest practices\b",
        r"\bwords?\b|[a|\bfoo]|(?<=\w)\bfor \(",
        r"\bor an? .{1,40}\bbetter\b|\b(?:const|let) \w+",
        r"\b(?:write|give me|make)\b[^.?!\n,:]{0,30}?\b(?:plan|report)\b|\b(?:a+|b)x",
        r"\bin Go\b|\bGo\b (?:code|program)|\bè meglio\b",
        r"\d+ ?%|\b\d+[xyn]\b",
    ],
)
def test_word_first_rewrite_finds_the_same_matches(pattern: str) -> None:
    fast = _word_first(pattern)
    assert fast != pattern or "\\b" not in pattern
    texts = [
        "def add(a, b)",
        "undef x(",
        "how does it work",
        "showhow does",
        "best practices for x",
        "thebest practices",
        "a word and words",
        "swords",
        "x.for (i",
        "for (",
        "this or an apple is better",
        "color an x better",
        "const x = 1",
        "aconst y",
        "a|b foo",
        "please write a short plan",
        "rewrite the plan",
        "give me the report",
        "forgive me the report",
        "aax bx",
        "written in Go code",
        "a Go program",
        "bingo program",
        "perché è meglio",
        "cioè meglio",
        "50% of it",
        "a50 % off",
        "if 3n is odd",
        "x3n and 12y",
    ]
    for text in texts:
        slow_match = re.search(pattern, text)
        fast_match = re.search(fast, text)
        assert (slow_match and slow_match.span()) == (fast_match and fast_match.span()), text


@pytest.mark.parametrize(
    "pattern",
    [
        r"Traceback \(x\)|^\s+at [\w.]+\(|(?<=\w)(?:Error|Exception)\b|\bpanic:|[Cc]annot",
        r"\bdef \w+\(|=>|[|]x|\bfor \w+ in \w+|\\\||\d+ ?%",
        r"^\W*(?:how does|why)\b|\bbest practices\b|\b(?:a|b)x",
    ],
)
def test_split_search_finds_what_the_whole_pattern_finds(pattern: str) -> None:
    """A pattern searched by blocks of its alternatives gives the whole pattern's leftmost
    match, and at one position the earliest alternative's."""
    split = _split(pattern)
    assert split is not None and len(split.blocks) > 1
    assert _split(r"\bone two") is None  # one alternative: the pattern's own search
    texts = [
        "Traceback (x) and ValueError",
        "  at foo.bar(1)",
        "TypeError at x",
        "a panic: cannot do",
        "def f(x) => y",
        "a |x or \\| here",
        "for i in range and 50 % of",
        "why best practices ax",
        "how does it bx",
        "nothing to see",
        "xError Exception",
        "b and a, then ax",  # a group's gate: "a" or "b"
        "\\| and 5 %",
    ]
    for text in texts:
        whole, found = re.search(pattern, text), split.search(text)
        assert (whole and (whole.span(), whole.group(0))) == (
            found and (found.span(), found.group(0))
        ), text


def test_the_complexity_model_reads_the_structure_of_a_request() -> None:
    rules = TaskClassifier(model=None)
    snippet = rules.complexity_features("Write a Python function that reverses a string", "coding")
    assert {"s:small-output", "s:order", "s:chars<80", "s:limits<1"} <= snippet
    assert "s:large-output" not in snippet
    app = rules.complexity_features(
        "Build a web application with login.\n- it must use OAuth\n- it should be scalable to "
        "10000 users\n- logs must be kept 30 days\n- exactly one admin",
        "coding",
    )
    assert {"s:large-output", "s:order", "s:algorithmic", "s:limits>=6"} <= app
    italian = rules.complexity_features(
        "Dimostra rigorosamente che la funzione è continua", "reasoning"
    )
    assert "s:proof" in italian
    question = rules.complexity_features("Come posso ordinare una lista in Python?", "coding")
    assert {"s:question", "s:questions<2"} <= question
    # Italian orders count in the polite infinitive and with a pronoun, as the rules read them.
    for order in ("Puoi scrivere una funzione che somma due numeri?", "Scrivimi un'app per note"):
        assert "s:order" in rules.complexity_features(order, "coding"), order
    persona = rules.complexity_features("Fingi di essere un avvocato e spiegami il recesso", "chat")
    assert "s:expert" in persona
    # No words, no stems: the model cannot memorise prompts.
    assert not any(name.startswith(("p:", "w:")) for name in snippet | app | italian)


@pytest.mark.parametrize(
    ("prompt", "task", "why"),
    [
        ("Prove that every planar graph is 5-colourable, rigorously", "reasoning", "a proof"),
        ("Dimostra che la radice quadrata di 2 è irrazionale", "reasoning", "a proof"),
        ("Implement a lock-free concurrent hash map in Rust", "coding", "a hard algorithm"),
        ("Implementa in C un algoritmo ottimale per il problema dello zaino", "coding", None),
    ],
)
def test_a_proof_or_a_hard_algorithm_is_high(
    classifier: TaskClassifier, prompt: str, task: str, why: str | None
) -> None:
    found = classifier.classify(prompt)
    assert (found.task_type, found.complexity) == (task, "high"), found.signals
    if why is not None:
        assert f"asks for {why}: high" in found.signals
    # A small order for code is not hard work.
    small = classifier.classify("Write a Python function that reverses a string")
    assert small.complexity == "low", small.signals


def test_a_follow_up_reads_each_earlier_prompt_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The conversation's task comes from the earlier prompts' own readings, worked out once
    each, not again for every follow-up after them; a new model reads them anew."""
    classifier = TaskClassifier()
    history = ["My Flask route returns 500 when the JSON body is empty, how do I fix it?", "why?"]
    read: list[str] = []
    first_stage = classifier._first_stage

    def counting(prompt: str, earlier: Sequence[str]) -> Any:
        read.append(prompt)
        return first_stage(prompt, earlier)

    monkeypatch.setattr(classifier, "_first_stage", counting)
    first = classifier.classify("e in italiano?", history=history)
    assert first.task_type == "coding"
    assert read.count(history[0]) == 1
    again = classifier.classify("and add tests", history=[*history, "e in italiano?"])
    assert again.task_type == "coding"
    assert read.count(history[0]) == 1  # read once for both follow-ups
    classifier.model = None  # the rules alone: what was read with the model no longer holds
    assert classifier.classify("why?", history=history).task_type == "coding"
    assert read.count(history[0]) == 2


@pytest.mark.parametrize(
    ("english", "italian"),
    [
        ("How can I learn to code in Python?", "Come posso imparare a programmare in Python?"),
        ("How do I learn Python?", "Come imparo Python?"),
        (
            "What's the best way to learn JavaScript?",
            "Qual è il modo migliore per imparare JavaScript?",
        ),
    ],
)
def test_how_to_learn_a_language_is_advice_in_both_languages(
    classifier: TaskClassifier, english: str, italian: str
) -> None:
    """Learning advice is a plan, not code (TAXONOMY.md: chat is casual advice): "learn to
    code" was coding by the word "code" while its Italian version was chat. Code asked for
    stays coding."""
    for prompt in (english, italian):
        found = classifier.classify(prompt)
        assert (found.task_type, found.complexity) == ("chat", "low"), (prompt, found.signals)
    assert classifier.classify("Write code to reverse a string in Python").task_type == "coding"
    assert classifier.classify("How do I code a binary search in C?").task_type == "coding"


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        # Word problems asking for a value, in both languages (taxonomy: reasoning).
        ("A shirt costs $40 after a 20% discount. What was the original price?", "reasoning"),
        ("A rectangle is 8 m by 5 m. What's its area and perimeter?", "reasoning"),
        ("My holiday starts on 3 May and lasts 17 days. On which day does it end?", "reasoning"),
        ("La vacanza inizia il 3 maggio e dura 17 giorni. In che giorno finisce?", "reasoning"),
        ("How can I split $250 between 3 people so one gets twice as much?", "reasoning"),
        ("Come divido 250 euro tra 3 persone in modo che una riceva il doppio?", "reasoning"),
        ("Come calcolo la rata di un mutuo da 200.000 euro al 4% in 25 anni?", "reasoning"),
        ("How many handshakes if 10 people each shake hands with everyone once?", "reasoning"),
        ("Tom is taller than Ann, and Ann is taller than Ben. Who is the shortest?", "reasoning"),
        ("Marco è più alto di Anna e Anna è più alta di Luca. Chi è il più basso?", "reasoning"),
        ("whats 17 times 23", "reasoning"),
        ("quanto fa 17 per 23", "reasoning"),
        ("What is 2 to the power of 10?", "reasoning"),
        ("What's the next number: 2, 6, 12, 20, 30, ?", "reasoning"),
        ("Convert 72 degrees Fahrenheit to Celsius", "reasoning"),
        ("Roughly how many litres of coffee are drunk in London each day?", "reasoning"),
        # Everyday personal decisions are casual advice (chat), not analysis.
        ("Should I bring an umbrella to London in May?", "chat"),
        ("Mi porto l'ombrello a Londra a maggio?", "chat"),
        ("Is it safe to eat eggs after the best-before date?", "chat"),
        ("what should I cook tonight with chicken and rice?", "chat"),
        ("How long should I boil an egg for a runny yolk?", "chat"),
        # Names, puns and brainstormed ideas are creative (taxonomy), in both languages.
        ("Give me a funny name for a golden retriever", "creative"),
        ("Dammi un nome simpatico per un golden retriever", "creative"),
        ("Tell me a pun about coffee", "creative"),
        ("Dimmi una battuta sul caffè", "creative"),
        ("Brainstorm 15 ideas for a team-building day for 20 people", "creative"),
        ("Proponi 15 idee per una giornata di team building per 20 persone", "creative"),
        (
            "Rewrite this in simple English for learners: The municipality has resolved to "
            "implement a comprehensive programme of infrastructural renewal.",
            "creative",
        ),
        # Everyday developer tools are code work.
        ("How do I exit vim?", "coding"),
        ("What does `chmod 755` do to a file?", "coding"),
        ("whats the shortcut to comment lines in vscode", "coding"),
    ],
)
def test_everyday_prompts_get_the_taxonomy_type(
    classifier: TaskClassifier, prompt: str, task: str
) -> None:
    """Prompts nobody tuned the rules on went to the "analysis" default or to chat (the
    issue's "reasoning -> analysis"): word problems asking for a value, an ordering from
    comparisons, an operation in words, personal everyday decisions, names and puns."""
    found = classifier.classify(prompt)
    assert found.task_type == task, found.signals


def test_a_short_request_the_model_reads_as_low_stays_low(classifier: TaskClassifier) -> None:
    """Under 80 characters a "low" stands from 50%, not 60%: a short request is mostly a small
    job (TAXONOMY.md). A long prompt keeps the 60% bar."""
    short = classifier.classify("Write a short poem about the autumn sea")
    assert short.complexity == "low", short.signals
    assert any(s.startswith("complexity: low 5") for s in short.signals), short.signals
    assert classifier_module._extreme_bar("low", "Write a short poem") == 0.5
    assert classifier_module._extreme_bar("low", "word " * 20) == 0.6
    assert classifier_module._extreme_bar("high", "Prove it") == 0.6


@pytest.mark.parametrize(
    ("prompt", "task"),
    [
        ("What does `ls -la` show?", "coding"),
        ("Cosa mostra `ls -la`?", "coding"),
        ("Do you think it's too late to start learning piano at 35?", "chat"),
        ("Secondo te è troppo tardi per iniziare il pianoforte a 35 anni?", "chat"),
    ],
)
def test_inline_code_is_code_and_asking_an_opinion_is_chat(
    classifier: TaskClassifier, prompt: str, task: str
) -> None:
    """Inline code as Markdown writes it is code; "do you think…" / "secondo te…" asks the
    assistant's own view, a conversational reply (TAXONOMY.md: chat)."""
    found = classifier.classify(prompt)
    assert found.task_type == task, found.signals


@pytest.mark.parametrize(
    "prompt",
    [
        "I'm driving 240 km at 80 km/h. How long will it take?",
        "Devo fare 240 km a 80 km/h. Quanto ci metto?",
        "Solve for x: 3x - 7 = 11",
        "Quanto fa il 12,5% di 640?",
    ],
)
def test_a_short_one_step_calculation_is_low(classifier: TaskClassifier, prompt: str) -> None:
    """One step of arithmetic is low (TAXONOMY.md), in both languages."""
    found = classifier.classify(prompt)
    assert (found.task_type, found.complexity) == ("reasoning", "low"), found.signals


def test_several_steps_or_many_quantities_are_not_one_step(classifier: TaskClassifier) -> None:
    for prompt in (
        "You roll two dice. What is the probability that the sum is at least 9?",
        "A room is 4 m by 3.5 m and tiles are 50 cm square. How many tiles, with 10% extra?",
        "Prove that 2 + 2 = 4 from the Peano axioms",
    ):
        found = classifier.classify(prompt)
        assert "a short one-step calculation: low" not in found.signals, (prompt, found.signals)


@pytest.mark.parametrize(
    "prompt",
    [
        "Tell me a joke about programmers",
        "Raccontami una barzelletta sui programmatori",
        "Write a haiku about the first snow",
        "Give me a catchy slogan for a bike repair shop",
        "Suggerisci un nome per il mio blog di escursioni",
    ],
)
def test_a_short_creative_form_is_low(classifier: TaskClassifier, prompt: str) -> None:
    """A joke, a haiku, a slogan or a name is a small job whatever the language."""
    found = classifier.classify(prompt)
    assert (found.task_type, found.complexity) == ("creative", "low"), found.signals


def test_a_time_of_day_is_one_quantity(classifier: TaskClassifier) -> None:
    """ "by 5:30pm" is one quantity, so the train question is one step (low), as in Italian."""
    for prompt in (
        "If a train leaves at 3pm going 60 km/h, how far has it gone by 5:30pm?",
        "Se un treno parte alle 15 a 60 km/h, quanta strada ha fatto alle 17:30?",
    ):
        found = classifier.classify(prompt)
        assert (found.task_type, found.complexity) == ("reasoning", "low"), found.signals


def test_everyday_words_that_are_java_or_networking_words(classifier: TaskClassifier) -> None:
    """ "public speaking" is no "public static void"; a public IP address is networking."""
    assert classifier.classify("How do I get better at public speaking?").task_type == "chat"
    assert "code syntax" in classifier.classify("public static void main(String[] a) {}").signals
    server = classifier.classify("How do I get a static IP address for my home server?")
    assert server.task_type == "coding", server.signals


def test_a_framework_name_is_not_a_file_name(classifier: TaskClassifier) -> None:
    """ "Node.js" and "Vue.js" are names; "app.js" is a file."""
    assert not any(
        s.startswith("file name") for s in classifier.classify("Is Node.js fast?").signals
    )
    assert "file name app.js" in classifier.classify("open app.js and fix it").signals


def test_reading_a_message_and_saying_what_it_means_is_analysis(
    classifier: TaskClassifier,
) -> None:
    """ "Read this email and tell me what the sender wants" judges a text (analysis), though
    it names an email; in both languages."""
    for prompt in (
        'Read this email and tell me what the sender wants: "Hi, we would like to revisit '
        'the payment terms from next quarter."',
        'Leggi questa mail e dimmi cosa vuole il mittente: "Buongiorno, vorremmo rivedere i '
        'termini di pagamento dal prossimo trimestre."',
    ):
        found = classifier.classify(prompt)
        assert found.task_type == "analysis", found.signals
    handshakes = classifier.classify("Quante strette di mano se 10 persone si salutano tutte?")
    assert handshakes.task_type == "reasoning", handshakes.signals
