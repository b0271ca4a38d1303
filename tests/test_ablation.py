"""shared/ablation.py: the notebook's prompts, rebuilt from their parts."""

from shared.ablation import build_prompt, notebook_variants


def test_notebook_variants_are_exactly_the_notebooks_prompts():
    assert notebook_variants() == {
        "full": "Answer in a professional tone, and summarize at the end in three bullet points. "
                "Topic: advantages of using Git in generative AI projects.",
        "without_bullets": "Answer in a professional tone. Topic: advantages of using Git in generative AI projects.",
        "without_tone": "Answer, and summarize at the end in three bullet points. "
                        "Topic: advantages of using Git in generative AI projects.",
        "topic_only": "Advantages of using Git in generative AI projects.",
    }


def test_another_topic_changes_every_variant():
    variants = notebook_variants(topic="ethical risks of generative AI")
    assert all("ethical risks of generative AI" in p or "Ethical risks" in p for p in variants.values())
    assert build_prompt("MLOps best practices") == "MLOps best practices."
