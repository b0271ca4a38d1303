"""shared/teaching/ablation.py: the notebook's prompts, rebuilt from their parts."""

from shared.teaching.ablation import build_prompt, notebook_variants


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


from shared.teaching.ablation import PromptParts, check_specs, effect_matrix, variants  # noqa: E402


def test_added_instructions_get_a_without_and_an_only_variant():
    parts = PromptParts(extras=["jargon", "words"], word_limit=50)
    found = variants(parts, custom={"mine": "Explain Git to a child."})
    assert list(found) == ["full", "without_bullets", "without_tone", "without_jargon", "without_words", "topic_only",
                           "only_jargon", "only_words", "mine"]
    assert found["full"] == ("Answer in a professional tone, and summarize at the end in three bullet points, and "
                             "avoid technical jargon, and answer in 50 words. Topic: advantages of using Git in "
                             "generative AI projects.")
    assert found["only_words"] == "Answer, and answer in 50 words. Topic: advantages of using Git in generative AI projects."


def test_structures_question_and_few_shot():
    question = variants(PromptParts(structure="question"))
    assert question["full"].startswith("What are the advantages of using Git in generative AI projects? Answer in")
    few_shot = variants(PromptParts(structure="few_shot"))
    assert few_shot["full"].startswith("Topic: benefits of writing unit tests.") and few_shot["full"].endswith(
        "Topic: advantages of using Git in generative AI projects.")


def test_effect_matrix_counts_and_changes_against_full():
    from devtools.factories import make_output

    outputs = [make_output(n, "c", lab="ablation", variant=v, checks={"three_bullets": p})
               for n, (v, p) in enumerate([("full", True), ("full", True), ("full", False), ("topic_only", False),
                                           ("topic_only", True), ("topic_only", False)])]
    rows = effect_matrix(outputs, ["full", "topic_only"], ["three_bullets"])
    assert rows[0]["three_bullets"] == {"passed": 2, "samples": 3, "rate": 2 / 3, "delta": 0.0}
    assert rows[1]["three_bullets"]["passed"] == 1 and abs(rows[1]["three_bullets"]["delta"] + 1 / 3) < 1e-9
    assert [s["id"] for s in check_specs(PromptParts(), custom={"kind": "contains", "pattern": "git"})][-1] == "custom"
