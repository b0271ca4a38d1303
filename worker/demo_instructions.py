"""Documents where the lab's instructions are followed: how the demo model meets exercise 2's prompts.

Manuals hold no instruction followed by what it asks ("summarize at the end in three bullet points",
then three bullets), so a model that has read only manuals follows no instruction at all, and exercise 2
has nothing to find. These documents are made from the demo text's own sections: the lab's prompt
(`shared.teaching.ablation.build_prompt`, the same builder the dashboard's ablation uses, with the
section's heading as the topic, and a Spanish mirror of it for the Spanish sources), then an answer made
of that section's sentences that does what the prompt asked:

- a tone: the answer is the section's prose (the manuals are written in one tone; the tone is asked,
  never shown, as a base model would meet it);
- "summarize at the end in three bullet points": a sentence or two, then three `- ` lines (the section's
  own list items, or the first words of three of its sentences);
- "avoid technical jargon": only sentences without the jargon words the check looks for;
- "use concrete examples": the answer holds a sentence with an example ("for example", "such as", a
  number with its unit), or the instruction is not asked of this section;
- "respond in JSON format": the answer is a JSON object (`topic`, `answer`, and `points` if asked);
- "answer in N words": at most N words;
- no instruction (a question alone): plain prose, no summary. The topic alone ("Reading the history.")
  is not made: it is how every section of the text begins, then runs on as prose.

Every document ends where its answer does (the tokenizer's `<|endoftext|>` follows it in training), so the
model also learns to stop. What the model then does with the notebook's topic, which no document names, is
what exercise 2 measures (docs/demo-model.md). A model trained with `--instruction-share 0` has none of
these, as distilgpt2: it follows no instruction.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable

from shared.teaching.ablation import INSTRUCTIONS, NOTEBOOK_SUMMARY, NOTEBOOK_TONE, build_prompt
from shared.teaching.checks import has_example, no_jargon
from shared.teaching.metrics import words

TONES = {"en": (NOTEBOOK_TONE, "in a friendly tone", "in a formal tone", "in a simple tone"),
         "es": ("en un tono profesional", "en un tono cercano", "en un tono formal", "en un tono sencillo")}
SUMMARIES = {"en": (NOTEBOOK_SUMMARY, NOTEBOOK_SUMMARY, "summarize in three bullet points",
                    "end with three bullet points"),
             "es": ("resume al final en tres viñetas", "resume al final en tres viñetas",
                    "resume en tres viñetas", "termina con tres viñetas")}
EXTRAS = {"en": INSTRUCTIONS,
          "es": {"jargon": "evita la jerga técnica", "examples": "usa ejemplos concretos",
                 "json": "responde en formato JSON", "words": "responde en {n} palabras"}}
WORD_LIMITS = (20, 30, 50)
DOCUMENTS_PER_SECTION = 3
QUESTION_SHARE = 0.25        # "What are the <topic>? Answer ..." instead of "Answer .... Topic: <topic>."
QUESTION_ALONE_SHARE = 0.3   # of the questions, those asked alone: prose, no summary
TONE_SHARE, SUMMARY_SHARE, EXTRA_SHARE, JSON_SHARE = 0.6, 0.6, 0.2, 0.1
ANSWER_WORDS = {"en": (25, 50), "es": (20, 40)}   # the answer's prose (Spanish takes more tokens a word)
SUMMARY_LEAD_WORDS = (8, 20)  # before a summary, a sentence or two: the points come soon, and are learned
POINT_WORDS = 8              # a bullet point: the first words of a sentence or list item
MAX_TOPIC_WORDS = 10
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"«“¿¡A-ZÁÉÍÓÚÑ])")


def instruction_documents(sections: Iterable[str], language: str, seed: int) -> list[str]:
    """Prompt + answer documents made from `sections` (each a heading line, then its paragraphs)."""
    rng = random.Random(seed)
    documents = []
    for section in sections:
        topic, sentences, items = parts_of(section)
        if not topic or len(sentences) < 2:
            continue
        for _ in range(DOCUMENTS_PER_SECTION):
            documents.append(document(topic, sentences, items, language, rng))
    return documents


def parts_of(section: str) -> tuple[str, list[str], list[str]]:
    """(topic, prose sentences, list items) of a section; the topic is "" when the heading is no topic."""
    heading, *lines = section.split("\n")
    topic = heading.rstrip(".").strip()
    if topic.isupper():
        topic = topic.lower()
    elif topic[1:2].islower():
        topic = topic[:1].lower() + topic[1:]
    if not 2 <= len(topic.split()) <= MAX_TOPIC_WORDS or not re.search(r"[A-Za-zÁÉÍÓÚáéíóúñ]{3}", topic):
        topic = ""  # one word ("Examples", "Descripción") is a manual's heading, not a topic
    items = [line[2:].strip() for line in lines if line.startswith("- ")]
    sentences = [s.strip() for line in lines if line and not line.startswith("- ")
                 for s in SENTENCE_END.split(line) if len(s.split()) >= 4 and not s.rstrip().endswith(":")]
    return topic, sentences, items


def document(topic: str, sentences: list[str], items: list[str], language: str, rng: random.Random) -> str:
    """One prompt and its answer, the instructions drawn at random (those the section cannot meet are not asked)."""
    question = rng.random() < QUESTION_SHARE
    if question and rng.random() < QUESTION_ALONE_SHARE:  # (the topic alone is the sections' own form: not made)
        return prompt(topic, None, None, [], language, question) + "\n" + prose(sentences, answer_words(language, rng))
    tone = rng.choice(TONES[language]) if rng.random() < TONE_SHARE else None
    summary = rng.choice(SUMMARIES[language]) if rng.random() < SUMMARY_SHARE else None
    asked = {key for key in ("jargon", "examples", "words") if rng.random() < EXTRA_SHARE}
    asked |= {"json"} if rng.random() < JSON_SHARE else set()
    pool = sentences
    if "jargon" in asked:  # only what names none of the jargon: sentences, list items, and the topic itself
        pool, items = [s for s in pool if no_jargon(s).passed], [i for i in items if no_jargon(i).passed]
        if len(pool) < 2 or not no_jargon(topic).passed:
            pool, asked = sentences, asked - {"jargon"}
    if "examples" in asked and not any(has_example(s).passed for s in pool):
        asked.discard("examples")
    limit = rng.choice(WORD_LIMITS) if "words" in asked else None
    if not (tone or summary or asked):
        summary = rng.choice(SUMMARIES[language])
    extras = [EXTRAS[language][key].format(n=limit) for key in ("jargon", "examples", "json", "words") if key in asked]
    point_words = POINT_WORDS if limit is None else min(POINT_WORDS, limit // 5)
    points = summary_points(items, pool, rng, point_words) if summary else []
    budget = limit or (rng.randint(*SUMMARY_LEAD_WORDS) if points else answer_words(language, rng))
    while True:  # under a word limit, the prose shrinks until the whole answer fits (as the check counts words)
        body = prose(pool, budget, example_first="examples" in asked)
        answer = (json.dumps({"topic": topic, "answer": body, **({"points": points} if points else {})},
                             ensure_ascii=False) if "json" in asked else body + "".join(f"\n- {p}" for p in points))
        if limit is None or len(words(answer)) <= limit or budget <= 1:
            return prompt(topic, tone, summary, extras, language, question) + "\n" + answer
        budget -= 1


def prompt(topic: str, tone: str | None, summary: str | None, extras: list[str], language: str,
           question: bool) -> str:
    """The lab's prompt (`build_prompt`) in English; its mirror in Spanish."""
    structure = "question" if question else "instruction"
    if language == "en":
        return build_prompt(topic, tone, summary, tuple(extras), structure)
    clauses = [c for c in (summary, *extras) if c]
    if not tone and not clauses:
        return f"¿Qué es {topic}?" if question else topic[:1].upper() + topic[1:] + "."
    head = "Responde" + (f" {tone}" if tone else "") + "".join(f", y {c}" for c in clauses)
    return f"¿Qué es {topic}? {head}." if question else f"{head}. Tema: {topic}."


def answer_words(language: str, rng: random.Random) -> int:
    low, high = ANSWER_WORDS[language]
    return rng.randint(low, high)


def prose(sentences: list[str], max_words: int, example_first: bool = False) -> str:
    """Whole sentences, in order, up to `max_words` words (the first one cut if it alone is longer)."""
    max_words = max(1, max_words)
    order = list(sentences)
    if example_first:
        first = next(s for s in order if has_example(s).passed)
        order.remove(first)
        order.insert(0, first)
    chosen: list[str] = []
    for sentence in order:
        if sum(len(s.split()) for s in chosen) + len(sentence.split()) > max_words:
            break
        chosen.append(sentence)
    if not chosen:
        cut = order[0].split()[:max_words]
        chosen = [" ".join(cut).rstrip(",;:") + ("" if cut[-1].endswith(".") else ".")]
    return " ".join(chosen)


def summary_points(items: list[str], sentences: list[str], rng: random.Random, most: int) -> list[str]:
    """Three points: the section's list items if it has three, else the first words of three sentences."""
    source = items if len(items) >= 3 else sentences
    picked = sorted(rng.sample(range(len(source)), 3)) if len(source) >= 3 else [0, 1, len(source) - 1]
    return [point(source[i], most) for i in picked]


def point(text: str, most: int) -> str:
    """A sentence's first clause when it is short, else its first `most` words."""
    clause = re.split(r"[,:;(]", text, maxsplit=1)[0].split()
    cut = clause if 3 <= len(clause) <= most else text.split()[:most]
    return " ".join(cut).rstrip(".,;:")
