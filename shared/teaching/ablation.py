"""Exercise 2: a prompt built from named parts, its variants with parts left out, and the effect matrix.

With the notebook's parts, `variants` gives exactly its four prompts (tested): the full prompt,
`without_bullets`, `without_tone` and `topic_only`. Added instructions from `INSTRUCTIONS` join the
prompt the same way, and each also gets a variant of its own (topic + that instruction only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.contract.records import Output

NOTEBOOK_TONE = "in a professional tone"
NOTEBOOK_SUMMARY = "summarize at the end in three bullet points"
NOTEBOOK_TOPIC = "advantages of using Git in generative AI projects"
# The notebook samples every variant with these (its `gen` helper).
NOTEBOOK_ABLATION_CONFIG = {"strategy": "sampling", "temperature": 0.7, "top_p": 0.9, "max_new_tokens": 500}
DEFAULT_SAMPLES = 5

# The activity's instructions to add (2.3.2), by key; `{n}` is the word limit.
INSTRUCTIONS = {
    "jargon": "avoid technical jargon",
    "examples": "use concrete examples",
    "json": "respond in JSON format",
    "words": "answer in {n} words",
}
STRUCTURES = ("instruction", "question", "few_shot")  # activity 2.3.4
FEW_SHOT_EXAMPLE = ("Topic: benefits of writing unit tests.\n"
                    "Answer: Unit tests catch regressions early and document intent.\n"
                    "- Faster debugging\n- Safer refactoring\n- Living documentation\n\n")
# Which check tests which instruction (shared/teaching/checks.py ids).
CHECK_FOR = {"summary": "three_bullets", "json": "valid_json", "jargon": "no_jargon", "examples": "has_example",
             "words": "word_limit"}


@dataclass
class PromptParts:
    topic: str = NOTEBOOK_TOPIC
    tone: str | None = NOTEBOOK_TONE
    summary: str | None = NOTEBOOK_SUMMARY
    extras: list[str] = field(default_factory=list)  # keys of INSTRUCTIONS
    word_limit: int = 100
    structure: str = "instruction"

    def instruction(self, key: str) -> str:
        return INSTRUCTIONS[key].format(n=self.word_limit)


def build_prompt(topic: str, tone: str | None = None, summary: str | None = None,
                 extras: tuple[str, ...] = (), structure: str = "instruction") -> str:
    """'Answer <tone>, and <summary>, and <extra>. Topic: <topic>.'; with no instruction, the topic alone."""
    clauses = [c for c in (summary, *extras) if c]
    if not tone and not clauses:
        body = topic[:1].upper() + topic[1:] + "."
        return f"What are the {topic}?" if structure == "question" else _few_shot(body, structure)
    head = "Answer" + (f" {tone}" if tone else "") + "".join(f", and {c}" for c in clauses)
    if structure == "question":
        return f"What are the {topic}? {head}."
    return _few_shot(f"{head}. Topic: {topic}.", structure)


def _few_shot(prompt: str, structure: str) -> str:
    return FEW_SHOT_EXAMPLE + prompt if structure == "few_shot" else prompt


def variants(parts: PromptParts, custom: dict[str, str] | None = None) -> dict[str, str]:
    """Variant name -> exact prompt text: full, each part left out, topic only, each added instruction on
    its own, then the student's custom variants. Duplicated texts are kept once (first name wins)."""
    extras = {key: parts.instruction(key) for key in parts.extras}

    def prompt(tone=parts.tone, summary=parts.summary, keep=tuple(extras)):
        return build_prompt(parts.topic, tone, summary, tuple(extras[k] for k in keep), parts.structure)

    found = {"full": prompt()}
    if parts.summary:
        found["without_bullets"] = prompt(summary=None)
    if parts.tone:
        found["without_tone"] = prompt(tone=None)
    for key in extras:
        found[f"without_{key}"] = prompt(keep=tuple(k for k in extras if k != key))
    found["topic_only"] = prompt(tone=None, summary=None, keep=())
    for key in extras:
        found[f"only_{key}"] = prompt(tone=None, summary=None, keep=(key,))
    found.update({name: text for name, text in (custom or {}).items() if text.strip()})
    unique: dict[str, str] = {}
    for name, text in found.items():
        if text not in unique.values():
            unique[name] = text
    return unique


def notebook_variants(topic: str = NOTEBOOK_TOPIC) -> dict[str, str]:
    """The full prompt and the notebook's three ablations (cells 2.1 and 2.2)."""
    return variants(PromptParts(topic=topic))


def check_specs(parts: PromptParts, jargon: list[str] | None = None, custom: dict | None = None) -> list[dict]:
    """The checks every output of an ablation run gets: the topic's two, and one per instruction the full
    prompt contains (a check of an instruction nobody gave would only fill the matrix with noise)."""
    specs = [{"id": "topic_words"}, {"id": "not_an_echo"}]
    if parts.summary:
        specs.insert(0, {"id": "three_bullets"})
    optional = {"json": {"id": "valid_json"}, "jargon": {"id": "no_jargon", **({"jargon": jargon} if jargon else {})},
                "examples": {"id": "has_example"}, "words": {"id": "word_limit", "max_words": parts.word_limit}}
    specs += [spec for key, spec in optional.items() if key in parts.extras]
    if custom:
        specs.append({"id": "custom", "kind": custom["kind"], "pattern": custom["pattern"]})
    return specs


def effect_matrix(outputs: list[Output], variant_order: list[str], check_ids: list[str]) -> list[dict]:
    """Variants x checks: passes, samples, rate, and the change of rate against the full prompt."""
    cells: dict[tuple[str, str], list[bool]] = {}
    for output in outputs:
        for check_id, result in output.checks.items():
            cells.setdefault((output.variant, check_id), []).append(bool(result["passed"]))
    rows = []
    for variant in variant_order:
        row = {"variant": variant}
        for check_id in check_ids:
            results = cells.get((variant, check_id), [])
            full = cells.get(("full", check_id), [])
            rate = sum(results) / len(results) if results else None
            full_rate = sum(full) / len(full) if full else None
            row[check_id] = {"passed": sum(results), "samples": len(results), "rate": rate,
                             "delta": None if rate is None or full_rate is None else rate - full_rate}
        rows.append(row)
    return rows
