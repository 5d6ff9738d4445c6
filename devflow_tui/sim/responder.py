"""Deterministic, plausible answers for the simulated server, and its token arithmetic.

The reply depends only on the prompt text (it seeds the random choices) and the model id: a
fenced code block for code questions, a short poem, a bullet analysis, numbered steps for
reasoning or maths, a short reply for chat; in Italian when the prompt is Italian. Every answer
starts with `[simulated answer from <model>]` so it can never pass for a real one.

Prompt tokens are counted by the simulator's own rough BPE (`sim.tokens`), not the client's
estimator, so the demo and the tests see the drift between an estimate and a real count (a
request fitted to a window by the estimate can still be too long, as with a real provider).
Answers are cut into 4-character "tokens" (`answer_tokens`) so the streamed pieces and the
reported completion usage always match exactly.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Any, Literal

from devflow_tui.sim.tokens import MESSAGE_TOKENS, REPLY_PRIMING, count_tokens

PromptKind = Literal["code", "poem", "analysis", "reasoning", "chat"]
Language = Literal["en", "it"]

CHARS_PER_TOKEN = 4  # size of a simulated answer "token"
# A low-detail image part, as OpenAI bills it. The context estimator counts no image tokens
# (assembly only places text), so image requests carry this on top of what assembly counted;
# real providers bill images too, and the simulator should not hide that.
IMAGE_TOKENS = 85


def answer_tokens(text: str) -> int:
    """Completion tokens of a simulated answer: its 4-character pieces, rounded up."""
    return -(-len(text) // CHARS_PER_TOKEN)


def split_tokens(text: str) -> list[str]:
    """Cut `text` into the 4-character pieces counted by `answer_tokens`."""
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)]


def content_text(content: Any) -> str:
    """The text of a message `content` (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Prompt tokens of a message list as the simulated provider bills them: reply priming,
    framing per message, each text part on its own, plus `IMAGE_TOKENS` per image part."""
    total = REPLY_PRIMING
    for message in messages:
        total += MESSAGE_TOKENS
        content = message.get("content")
        if isinstance(content, str):
            total += count_tokens(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                text = part.get("text")
                if isinstance(text, str):
                    total += count_tokens(text)
                if part.get("type") == "image_url":
                    total += IMAGE_TOKENS
    return total


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message (what the answer responds to)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return content_text(messages[-1].get("content")) if messages else ""


_ITALIAN = {
    "il", "lo", "la", "gli", "le", "un", "una", "che", "di", "per", "con", "non", "sono",
    "come", "questo", "questa", "scrivi", "spiega", "perché", "cosa", "del", "della", "nel",
    "funzione", "codice", "poesia", "ciao", "grazie", "analizza", "quanto", "quali", "mi",
}  # fmt: skip
_ENGLISH = {
    "the", "a", "an", "is", "are", "of", "to", "for", "with", "not", "this", "that", "write",
    "explain", "what", "how", "why", "function", "code", "poem", "hello", "thanks", "please",
    "analyze", "analyse", "my", "me", "and", "in", "it", "can", "you",
}  # fmt: skip

_KIND_WORDS: list[tuple[PromptKind, tuple[str, ...]]] = [
    ("poem", ("poem", "poesia", "haiku", "sonnet", "sonetto", "verse", "versi", "rhyme", "rima")),
    (
        "code",
        (
            "code", "codice", "function", "funzione", "implement", "implementa", "bug", "debug",
            "refactor", "class ", "script", "python", "javascript", "typescript", "rust", "golang",
            "sql", "regex", "compile", "stack trace", "traceback", "```", "def ", "api endpoint",
        ),
    ),
    (
        "reasoning",
        (
            "prove", "dimostra", "calculate", "calcola", "solve", "risolvi", "math", "equation",
            "equazione", "step by step", "passo passo", "how many", "quanti", "probability",
            "probabilità", "puzzle", "logic", "logica",
        ),
    ),
    (
        "analysis",
        (
            "analy", "analizza", "analisi", "compare", "confronta", "pros and cons", "pro e contro",
            "review", "evaluate", "valuta", "trade-off", "tradeoff", "assess", "summarize",
            "riassumi",
        ),
    ),
]  # fmt: skip

_LANG_HINTS: list[tuple[str, tuple[str, ...]]] = [
    ("sql", ("sql", "query", "select ", "database table")),
    ("rust", ("rust", "cargo")),
    ("go", ("golang", " go ", "goroutine")),
    ("typescript", ("typescript", " ts ", "react", "angular")),
    ("javascript", ("javascript", " js ", "node", "npm")),
    ("bash", ("bash", "shell", "script di shell", "command line")),
    ("java", ("java ", "spring")),
    ("python", ("python", "pip", "django", "pytest", "def ")),
]


def _mentions(lowered: str, word: str) -> bool:
    # Keywords match at the start of a word ("analy" fits "analyse"; "sql" not "postgresql").
    prefix = r"\b" if word[0].isalnum() else ""
    return re.search(prefix + re.escape(word), lowered) is not None


def classify_prompt(text: str) -> PromptKind:
    """The kind of answer a prompt asks for, by keywords (chat when nothing matches)."""
    lowered = text.lower()
    for kind, words in _KIND_WORDS:
        if any(_mentions(lowered, word) for word in words):
            return kind
    if re.search(r"\d+\s*[-+*/^]\s*\d+", lowered):
        return "reasoning"
    return "chat"


def detect_language(text: str) -> Language:
    """Italian when the prompt has more Italian than English function words."""
    words = re.findall(r"[a-zàèéìòù]+", text.lower())
    italian = sum(1 for word in words if word in _ITALIAN)
    english = sum(1 for word in words if word in _ENGLISH)
    return "it" if italian > english else "en"


def guess_code_language(text: str) -> str:
    """The programming language a code question is about (Python by default)."""
    lowered = f" {text.lower()} "
    for language, hints in _LANG_HINTS:
        if any(hint in lowered for hint in hints):
            return language
    return "python"


def _topic(text: str) -> str:
    # The last content word is usually the object of the request ("a poem about the sea").
    words = [w for w in re.findall(r"[A-Za-zÀ-ÿ]{4,}", text) if w.lower() not in _STOP_WORDS]
    return words[-1].lower() if words else "this"


_STOP_WORDS = (
    _ITALIAN
    | _ENGLISH
    | {word.strip() for _, words in _KIND_WORDS for word in words}
    | {
        "write", "scrivi", "please", "explain", "spiega", "about", "there", "think", "hello",
        "tell", "dimmi", "sulla", "sullo", "sugli", "short", "breve", "small", "piccola",
        "using", "usando", "that", "which", "your", "have", "from", "into", "some", "count",
        "conta", "contare", "returns", "ritorna", "given", "data", "dato", "times", "volte",
        "step", "steps", "passo",
    }
)  # fmt: skip


_CODE: dict[str, str] = {
    "python": (
        "def process(items: list[str]) -> dict[str, int]:\n"
        '    """Count how often each {topic} item appears."""\n'
        "    counts: dict[str, int] = {{}}\n"
        "    for item in items:\n"
        "        counts[item] = counts.get(item, 0) + 1\n"
        "    return counts\n"
    ),
    "javascript": (
        "export function process(items) {{\n"
        "  // count how often each {topic} item appears\n"
        "  const counts = new Map();\n"
        "  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);\n"
        "  return counts;\n"
        "}}\n"
    ),
    "typescript": (
        "export function process(items: string[]): Map<string, number> {{\n"
        "  // count how often each {topic} item appears\n"
        "  const counts = new Map<string, number>();\n"
        "  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);\n"
        "  return counts;\n"
        "}}\n"
    ),
    "rust": (
        "use std::collections::HashMap;\n\n"
        "/// Count how often each {topic} item appears.\n"
        "pub fn process(items: &[&str]) -> HashMap<String, usize> {{\n"
        "    let mut counts = HashMap::new();\n"
        "    for item in items {{\n"
        "        *counts.entry(item.to_string()).or_insert(0) += 1;\n"
        "    }}\n"
        "    counts\n"
        "}}\n"
    ),
    "go": (
        "// Process counts how often each {topic} item appears.\n"
        "func Process(items []string) map[string]int {{\n"
        "\tcounts := make(map[string]int)\n"
        "\tfor _, item := range items {{\n"
        "\t\tcounts[item]++\n"
        "\t}}\n"
        "\treturn counts\n"
        "}}\n"
    ),
    "sql": (
        "-- how often each {topic} item appears\n"
        "SELECT item, COUNT(*) AS occurrences\n"
        "FROM items\n"
        "GROUP BY item\n"
        "ORDER BY occurrences DESC;\n"
    ),
    "bash": (
        "#!/usr/bin/env bash\n"
        "# count how often each {topic} item appears\n"
        'sort "$1" | uniq -c | sort -rn\n'
    ),
    "java": (
        "public static Map<String, Integer> process(List<String> items) {{\n"
        "    // count how often each {topic} item appears\n"
        "    Map<String, Integer> counts = new HashMap<>();\n"
        "    for (String item : items) counts.merge(item, 1, Integer::sum);\n"
        "    return counts;\n"
        "}}\n"
    ),
}

_TEXT: dict[Language, dict[str, list[str]]] = {
    "en": {
        "code_intro": [
            "Here is a compact implementation:",
            "A straightforward way to do it:",
            "This version keeps it simple and testable:",
        ],
        "code_outro": [
            "It runs in linear time and has no side effects, so it is easy to unit test.",
            "Add a test with an empty input and one with repeated items to pin the behaviour.",
        ],
        "poem": [
            "Soft light on {topic} at the edge of day,",
            "a quiet thought that will not fade away;",
            "the hours lean in, the shadows learn to stay,",
            "and {topic} hums the words we meant to say.",
            "Between the lines a patient rhythm grows,",
            "as {topic} turns where every river goes.",
        ],
        "analysis": [
            "- **Context**: {topic} matters because it shapes cost and speed together.",
            "- **Strengths**: clear scope, predictable behaviour, easy to measure.",
            "- **Weaknesses**: hidden coupling and edge cases that appear only under load.",
            "- **Risks**: optimistic estimates; validate with a small experiment first.",
            "- **Recommendation**: start small, measure, then expand what works.",
        ],
        "steps": [
            "1. Restate the problem: identify what is known about {topic} and what is asked.",
            "2. Break it into smaller parts and solve each one separately.",
            "3. Combine the partial results and check the units and edge cases.",
            "4. Verify the result against a simple special case.",
        ],
        "answer": ["**Answer:** the result follows from step 3; the check in step 4 holds."],
        "chat": [
            "Sure, happy to help with {topic}.",
            "Good question about {topic}.",
            "Thanks for asking about {topic}.",
        ],
        "chat_more": [
            "In short: it depends on your constraints, but the simple option is usually right.",
            "Tell me a bit more about your goal and I can be more specific.",
        ],
        "thinking": [
            "The user asks about {topic}. Let me identify the key constraints first.",
            "Consider the simplest approach, then check whether an edge case breaks it.",
            "The plan looks sound; now write the answer clearly and briefly.",
        ],
        "filler": [
            "More detail on {topic} follows the same pattern.",
            "Each part can be checked on its own before the parts are combined.",
            "A small example usually shows where {topic} needs more care.",
            "Measure before and after every change, so the effect is clear.",
            "Edge cases deserve a test of their own, written before the fix.",
            "The simple version is often fast enough; keep it until numbers say otherwise.",
        ],
    },
    "it": {
        "code_intro": [
            "Ecco un'implementazione compatta:",
            "Un modo semplice per farlo:",
            "Questa versione resta semplice e facile da testare:",
        ],
        "code_outro": [
            "Ha costo lineare e nessun effetto collaterale, quindi è facile da testare.",
            "Aggiungi un test con input vuoto e uno con elementi ripetuti.",
        ],
        "poem": [
            "Luce leggera su {topic} al tramonto,",
            "un pensiero quieto che non ha confronto;",
            "le ore si piegano, l'ombra resta accanto,",
            "e {topic} sussurra il nostro canto.",
            "Tra le righe cresce un ritmo paziente,",
            "mentre {topic} scorre come una corrente.",
        ],
        "analysis": [
            "- **Contesto**: {topic} conta perché incide insieme su costi e velocità.",
            "- **Punti di forza**: obiettivo chiaro, comportamento prevedibile, misurabile.",
            "- **Debolezze**: dipendenze nascoste e casi limite che emergono sotto carico.",
            "- **Rischi**: stime ottimistiche; conviene validare con un piccolo esperimento.",
            "- **Raccomandazione**: partire in piccolo, misurare, poi estendere ciò che funziona.",
        ],
        "steps": [
            "1. Riformula il problema: cosa si sa di {topic} e cosa si chiede.",
            "2. Scomponi in parti più piccole e risolvi ciascuna separatamente.",
            "3. Combina i risultati parziali e controlla unità e casi limite.",
            "4. Verifica il risultato su un caso particolare semplice.",
        ],
        "answer": ["**Risposta:** il risultato segue dal passo 3; la verifica del passo 4 regge."],
        "chat": [
            "Certo, volentieri: parliamo di {topic}.",
            "Bella domanda su {topic}.",
            "Grazie per la domanda su {topic}.",
        ],
        "chat_more": [
            "In breve: dipende dai vincoli, ma di solito l'opzione semplice è quella giusta.",
            "Dimmi qualcosa in più sull'obiettivo e posso essere più preciso.",
        ],
        "thinking": [
            "L'utente chiede di {topic}. Prima individuo i vincoli principali.",
            "Considero l'approccio più semplice e controllo se un caso limite lo rompe.",
            "Il piano regge; ora scrivo la risposta in modo chiaro e breve.",
        ],
        "filler": [
            "Altri dettagli su {topic} seguono lo stesso schema.",
            "Ogni parte si può verificare da sola prima di combinarle.",
            "Un piccolo esempio mostra spesso dove {topic} richiede più attenzione.",
            "Misura prima e dopo ogni modifica, così l'effetto è chiaro.",
            "I casi limite meritano un test dedicato, scritto prima della correzione.",
            "La versione semplice spesso basta; tienila finché i numeri non dicono altro.",
        ],
    },
}


@dataclass(frozen=True)
class Answer:
    """A composed reply: visible content, hidden reasoning, and how it was chosen."""

    content: str
    reasoning: str
    kind: PromptKind
    language: Language


def label(model: str) -> str:
    """The first line of every simulated answer."""
    return f"[simulated answer from {model}]"


def _body(kind: PromptKind, lang: Language, prompt: str, rng: random.Random, topic: str) -> str:
    text = _TEXT[lang]
    if kind == "code":
        code_lang = guess_code_language(prompt)
        code = _CODE[code_lang].format(topic=topic)
        intro = rng.choice(text["code_intro"])
        outro = rng.choice(text["code_outro"])
        return f"{intro}\n\n```{code_lang}\n{code}```\n\n{outro}"
    if kind == "poem":
        lines = text["poem"][: rng.choice((4, 6))]
        return "\n".join(line.format(topic=topic) for line in lines)
    if kind == "analysis":
        return "\n".join(line.format(topic=topic) for line in text["analysis"])
    if kind == "reasoning":
        steps = "\n".join(line.format(topic=topic) for line in text["steps"])
        return f"{steps}\n\n{text['answer'][0]}"
    opening = rng.choice(text["chat"]).format(topic=topic)
    return f"{opening} {rng.choice(text['chat_more'])}"


def _fit(text: str, tokens: int, sentences: list[str], rng: random.Random) -> str:
    # Pad with paragraphs of filler sentences separated by blank lines, as a long real answer
    # is written (one endless paragraph would be an unrealistic worst case for renderers),
    # then cut on a token boundary, for an exact token count.
    size = tokens * CHARS_PER_TOKEN
    parts = [text]
    length = len(text)
    while length < size:
        paragraph = " ".join(rng.choice(sentences) for _ in range(rng.randint(3, 6)))
        parts.append(paragraph)
        length += len(paragraph) + 2
    return "\n\n".join(parts)[:size]


def compose_answer(
    prompt: str,
    model: str,
    *,
    reasoning: bool = False,
    exact_tokens: int | None = None,
) -> Answer:
    """The deterministic answer of `model` to `prompt` (same inputs, same answer)."""
    seed = int.from_bytes(hashlib.sha256(f"{model}\n{prompt}".encode()).digest()[:8], "big")
    rng = random.Random(seed)
    kind = classify_prompt(prompt)
    lang = detect_language(prompt)
    topic = _topic(prompt)
    content = f"{label(model)}\n\n{_body(kind, lang, prompt, rng, topic)}"
    if exact_tokens is not None:
        filler = [line.format(topic=topic) for line in _TEXT[lang]["filler"]]
        content = _fit(content, exact_tokens, filler, rng)
    thoughts = ""
    if reasoning:
        thoughts = " ".join(line.format(topic=topic) for line in _TEXT[lang]["thinking"])
        if kind == "reasoning":
            # Hard problems think longer, as real reasoning models do.
            thoughts = f"{thoughts} {thoughts}"
    return Answer(content=content, reasoning=thoughts, kind=kind, language=lang)
