"""worker/demo_instructions.py: every prompt-and-answer document does what its prompt asks, as the lab's own
checks judge it; its windows are seen whole in training; `make demo-model` mixes them in at their share."""

import random
import re

import pytest

from shared.teaching.ablation import INSTRUCTIONS, NOTEBOOK_SUMMARY, build_prompt
from shared.teaching.checks import has_example, no_jargon, three_bullets_at_end, valid_json, word_limit
from worker.demo_instructions import SUMMARIES, instruction_documents, parts_of

pytestmark = pytest.mark.fast

SECTIONS_EN = [
    "Recording changes.\nA commit records a snapshot of the project. Use git add to choose what the next snapshot "
    "holds. For example, you can add 3 files and leave the others out. The history then shows who changed what "
    "and when, so every earlier state can be restored.",
    "Reading the history.\nThe log shows earlier versions of each file, newest first. Each entry names its author "
    "and its date. You can limit the output to a path or to a range of dates.\n- one line per change\n- the full "
    "message\n- the names of the changed files\n- a graph of the history",
    "Sharing work with others.\nA remote is another copy of the same project on a server. Fetching brings its new "
    "versions here, and pushing sends yours there. Nothing is lost when two people change the same file, because "
    "both versions are kept until someone joins them.",
]
JARGON_SECTION = (  # a topic and list items that name jargon: asked to avoid it, the answer still must
    "Branches and merges.\nA branch is a line of work. Two lines of work can later be joined again. The "
    "people who joined them are named in the history. Nothing is lost when they are joined.\n- merge a "
    "branch\n- delete a branch\n- rename a branch")
SECTIONS_ES = [
    "Los paquetes de Debian.\nUn paquete contiene los archivos de un programa y la descripción de lo que necesita. "
    "La herramienta apt instala cada paquete con todo lo que necesita. Por ejemplo, instala 20 paquetes en un "
    "minuto si la red es rápida.",
    "El sistema de archivos.\nLos archivos se guardan en directorios anidados desde la raíz. Cada usuario tiene su "
    "propio directorio personal. Los permisos dicen quién puede leer o escribir cada archivo.",
]


def split(document: str) -> tuple[str, str]:
    prompt, answer = document.split("\n", 1)
    return prompt, answer


def test_every_answer_does_what_its_prompt_asks_by_the_labs_own_checks():
    documents = (instruction_documents((SECTIONS_EN + [JARGON_SECTION, JARGON_SECTION.replace("Branches and merges",
                                                                                             "Lines of work")]) * 20,
                                       "en", seed=1)
                 + instruction_documents(SECTIONS_ES * 20, "es", seed=1))
    asked = {"summary": 0, "json": 0, "jargon": 0, "examples": 0, "words": 0, "nothing": 0}
    for document in documents:
        prompt, answer = split(document)
        summary = any(s in prompt for s in SUMMARIES["en"] + SUMMARIES["es"])
        json_asked = "JSON" in prompt
        if json_asked:
            asked["json"] += 1
            assert valid_json(answer).passed, document
        if summary:
            asked["summary"] += 1
            assert three_bullets_at_end(answer).passed != json_asked, document  # in JSON, the points are a list
        else:
            assert not three_bullets_at_end(answer).passed, document
        if "jargon" in prompt or "jerga" in prompt:
            asked["jargon"] += 1
            assert no_jargon(answer).passed, document
        if "concrete examples" in prompt or "ejemplos concretos" in prompt:
            asked["examples"] += 1
            assert has_example(answer).passed, document
        if limit := re.search(r"answer in (\d+) words|responde en (\d+) palabras", prompt):
            asked["words"] += 1
            assert word_limit(answer, int(limit[1] or limit[2])).passed, document
        if not re.search(r"Answer|Responde", prompt):
            asked["nothing"] += 1
    assert all(count >= 5 for count in asked.values()), asked  # every kind of instruction is shown, and none


def test_english_prompts_are_the_labs_own_and_topics_come_from_headings():
    documents = instruction_documents(SECTIONS_EN * 10, "en", seed=2)
    topics = {"recording changes", "reading the history", "sharing work with others"}
    prompts = {split(d)[0] for d in documents}
    full = {build_prompt(topic, tone, NOTEBOOK_SUMMARY) for topic in topics
            for tone in ("in a professional tone", "in a friendly tone", "in a formal tone", "in a simple tone")}
    assert prompts & full                                        # the notebook's full prompt's shape, other topics
    assert {build_prompt(t, structure="question") for t in topics} & prompts  # a question, no instruction
    assert not {build_prompt(t) for t in topics} & prompts  # the topic alone is the sections' own form: prose
    assert all(any(t in p.lower() for t in topics) for p in prompts)
    assert all(INSTRUCTIONS["jargon"] in p or "jargon" not in p for p in prompts)


def test_headings_that_name_no_topic_and_sections_without_prose_make_no_document():
    assert parts_of("DESCRIPTION.\nOne sentence of four words. And another one here.")[0] == ""
    assert parts_of("Valid topic here.\nText")[0] == "valid topic here"
    assert parts_of("GIT INTERNALS.\nx")[0] == "git internals"
    assert instruction_documents(["Examples.\nUse it like this, with four words. Then this."], "en", 0) == []
    assert instruction_documents(["A real topic.\n- only\n- list\n- items"], "en", 0) == []


def test_the_same_seed_makes_the_same_documents():
    assert instruction_documents(SECTIONS_EN, "en", 5) == instruction_documents(SECTIONS_EN, "en", 5)
    assert instruction_documents(SECTIONS_EN * 5, "en", 5) != instruction_documents(SECTIONS_EN * 5, "en", 6)


def test_aligned_windows_start_at_a_document_and_documents_longer_than_a_window_are_left_out():
    import torch

    from worker.demo_training import EOS, TrainingPlan, tokenize_documents, windows

    short = [f"Topic number {i}.\nA short answer {i}." for i in range(60)]
    long = ["Long topic.\n" + "word " * 300]
    prose = ["plain prose that runs on and on " * 40]
    corpus = tokenize_documents({"prose": prose * 2, "instructions": short + long}, {"prose": 0.5, "instructions": 0.5},
                                held_out_every=50, aligned={"instructions": 33})
    stream = corpus.train["instructions"]
    assert len(corpus.train_starts["instructions"]) == 58 and len(corpus.held_out_starts["instructions"]) == 2
    assert all(start == 0 or stream[start - 1] == EOS for start in corpus.train_starts["instructions"])
    assert stream.count(EOS) == 58                                # the long document is not in the stream
    plan = TrainingPlan(context=32, n_positions=64)
    streams = {name: torch.tensor(ids) for name, ids in corpus.train.items()}
    batch, _ = windows(streams, {"instructions": 1.0}, plan, 200, random.Random(0), corpus.train_starts)
    starts = set(corpus.train_starts["instructions"])
    rows = {tuple(row.tolist()) for row in batch}
    assert len(rows) > 20 and all(any(tuple(stream[s:s + 33]) == row for s in starts) for row in rows)
    assert all(EOS in row for row in rows)                        # each window holds one whole document


def test_make_demo_model_mixes_the_documents_in_at_their_share_and_zero_trains_without_them():
    from scripts.train_demo_model import INSTRUCTION_SHARE, INSTRUCTIONS, SOURCES, corpus

    texts = {"git-doc": SECTIONS_EN * 60, "manpages-es": SECTIONS_ES * 60}
    mixed = corpus(texts=texts)
    assert mixed.shares[INSTRUCTIONS] == pytest.approx(INSTRUCTION_SHARE)
    assert sum(mixed.shares.values()) == pytest.approx(1)
    ratio = SOURCES["git-doc"].share / SOURCES["manpages-es"].share
    assert mixed.shares["git-doc"] / mixed.shares["manpages-es"] == pytest.approx(ratio)
    assert mixed.description[INSTRUCTIONS]["made_from"] == ["git-doc"]  # manual pages' headings are no topics
    assert mixed.train_starts[INSTRUCTIONS] and mixed.held_out[INSTRUCTIONS]
    plain = corpus(texts=texts, instruction_share=0)
    assert INSTRUCTIONS not in plain.train and INSTRUCTIONS not in plain.shares
