"""Exercise 2's prompt from parts, and the notebook's variants with parts left out.

`build_prompt` joins the parts the way the notebook's prompts read; with the notebook's parts it
gives exactly its four prompts (`NOTEBOOK_VARIANTS`, tested).
"""

from __future__ import annotations

NOTEBOOK_TONE = "in a professional tone"
NOTEBOOK_SUMMARY = "summarize at the end in three bullet points"
NOTEBOOK_TOPIC = "advantages of using Git in generative AI projects"
# The notebook samples every variant with these (its `gen` helper).
NOTEBOOK_ABLATION_CONFIG = {"strategy": "sampling", "temperature": 0.7, "top_p": 0.9, "max_new_tokens": 500}


def build_prompt(topic: str, tone: str | None = None, summary: str | None = None) -> str:
    """'Answer <tone>, and <summary>. Topic: <topic>.'; with neither instruction, just the topic."""
    if not tone and not summary:
        return topic[:1].upper() + topic[1:] + "."
    head = "Answer" + (f" {tone}" if tone else "") + (f", and {summary}" if summary else "")
    return f"{head}. Topic: {topic}."


def notebook_variants(topic: str = NOTEBOOK_TOPIC, tone: str = NOTEBOOK_TONE,
                      summary: str = NOTEBOOK_SUMMARY) -> dict[str, str]:
    """The full prompt and the notebook's three ablations (cells 2.1 and 2.2)."""
    return {
        "full": build_prompt(topic, tone, summary),
        "without_bullets": build_prompt(topic, tone, None),
        "without_tone": build_prompt(topic, None, summary),
        "topic_only": build_prompt(topic),
    }
