"""`make demo-model`: train the demo model offline on 2 CPU cores in 8.5 minutes, everything included.

A small GPT-2 (real GPT-2 tokenizer, 4 layers, 192 wide) learned from scratch on technical prose that
Debian ships as packages (docs/demo-model.md lists them with their licences): Git's own documentation
(`git-doc`; the notebook's exercise 2 asks about Git), the Debian Reference in English and Spanish
(`debian-reference-en`, `-es`) and the Spanish manual pages (`manpages-es`). Training follows the clock:
`--minutes 30` trains longer, and a slower or busier machine learns less in the same minutes
(`--tokens N` trains a fixed amount instead).
It is saved with `save_pretrained` in data/models/demo, with its loss curve (data/models/demo/loss.png)
and training record (training.json). Then `DECODELAB_MODEL=demo make run`, and `make demo-check`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from worker.demo_corpus import asciidoc_sections, drop_boilerplate, html_sections, read_text, roff_sections
from worker.demo_instructions import instruction_documents
from worker.demo_training import Corpus, TrainingPlan, export, perplexity, save, tokenize_documents, train
from worker.model import DEMO_MODEL_DIR, gpt2_tokenizer

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Source:
    """One Debian package's text: where its files are, how to read them, how often training draws it."""
    language: str
    share: float                 # share of training windows drawn from it
    package: str                 # the Debian package (`make demo-text` installs it)
    licence: str
    files: tuple[str, ...]       # glob patterns under /
    reader: Callable[[str], list[str]]
    topics: bool = True          # its headings name topics (the instruction documents use them)

    def sections(self) -> list[str]:
        paths = sorted(p for pattern in self.files for p in Path("/").glob(pattern.lstrip("/")))
        if not paths:
            raise SystemExit(f"{self.package} is missing: `make demo-text` (as root) installs the demo's text")
        return drop_boilerplate([s for path in paths for s in self.reader(read_text(path))])


# --- settings -------------------------------------------------------------------------------------
# name -> Source. Each source is drawn in proportion to its training tokens, so no text is seen more often
# than another (measured, docs/demo-model.md "What each source adds": when the Debian Reference in English,
# 7 % of the tokens, was drawn 25 % of the time, 48-49 of 100 greedy texts still looped at
# repetition_penalty 1.3, against 9-26 with it drawn 7-15 % of the time).
SOURCES = {
    "git-doc": Source("en", 0.46, "git-doc", "GPL-2", (
        "/usr/share/doc/git-doc/*.txt", "/usr/share/doc/git-doc/howto/*.txt",
        "/usr/share/doc/git-doc/technical/*.txt"), asciidoc_sections),
    "debian-reference-en": Source("en", 0.07, "debian-reference-en", "GPL-2+",
                                  ("/usr/share/debian-reference/*.en.html",), html_sections),
    "debian-reference-es": Source("es", 0.11, "debian-reference-es", "GPL-2+",
                                  ("/usr/share/debian-reference/*.es.html",), html_sections),
    "manpages-es": Source("es", 0.36, "manpages-es", "GPL-3+ (and the original pages' licences)",
                          ("/usr/share/man/es/man*/*.gz",), roff_sections, topics=False),  # "Descripción"
}
# Prompt-and-answer documents in the lab's format (worker/demo_instructions.py), made from the sections
# above: this share of the training windows (the sources share the rest in their proportions). With none
# the model follows no instruction, as distilgpt2; docs/demo-model.md measures both.
INSTRUCTIONS = "instructions"
INSTRUCTION_SHARE = 0.3
INSTRUCTION_SEED = 0         # the documents are the same at every run (demo-check remakes them)
HELD_OUT_EVERY = 50          # every 50th section is held out: never trained on, used for perplexity
PLAN = TrainingPlan(
    n_layer=4, n_head=3, n_embd=192,  # ~6M parameters in training (most of them the seen tokens' embeddings)
    context=128, batch=8,             # 1,024 tokens per step: with minutes of CPU, many small steps learn more
    seconds=510.0,                    # the whole command's budget (8.5 min); training gets what reading leaves
    learning_rate=2e-3, warmup_steps=20,
)
AFTER_TRAINING_SECONDS = 90.0  # kept from the budget for export, perplexity and saving (45-115 s measured)
THREADS = max(1, (os.cpu_count() or 2) // 2)  # torch threads: 1 on 2 cores, where two threads that wait on
# each other while other processes run are 5x slower than one (measured: 440 vs 2,800 tokens/s)
PERPLEXITY_WINDOWS = 8       # held-out windows of 256 tokens per source: a quick figure (the check reads 32)
SAMPLE_PROMPT = "In a distant future, humans and AI"  # one greedy sample printed at the end


def documents(names: list[str] | None = None) -> dict[str, list[str]]:
    """The chosen sources' cleaned sections (all sources by default)."""
    return {name: SOURCES[name].sections() for name in names or SOURCES}


def corpus(names: list[str] | None = None, texts: dict[str, list[str]] | None = None,
           instruction_share: float = INSTRUCTION_SHARE) -> Corpus:
    """The sources tokenized, every HELD_OUT_EVERY-th section held out (`texts`: sections already read),
    and the instruction documents made from the sections trained on, drawn `instruction_share` of the time."""
    texts = texts or documents(names)
    total = sum(SOURCES[name].share for name in texts)
    shares = {name: SOURCES[name].share / total * (1 - instruction_share) for name in texts}
    description = {name: {"language": SOURCES[name].language, "debian_package": SOURCES[name].package,
                          "licence": SOURCES[name].licence, "sections": len(sections), "share": shares[name]}
                   for name, sections in texts.items()}
    streams = dict(texts)
    if instruction_share > 0:
        streams[INSTRUCTIONS] = instruction_texts(texts)
        shares[INSTRUCTIONS] = instruction_share
        description[INSTRUCTIONS] = {"made_from": [n for n in texts if SOURCES[n].topics],
                                     "documents": len(streams[INSTRUCTIONS]), "share": instruction_share}
    return tokenize_documents(streams, shares, HELD_OUT_EVERY, description, aligned={INSTRUCTIONS: PLAN.context + 1})


def instruction_texts(texts: dict[str, list[str]]) -> list[str]:
    """Prompt-and-answer documents made from the trained sections of the sources whose headings are topics."""
    return [doc for name, sections in texts.items() if SOURCES[name].topics
            for doc in instruction_documents(training_sections({name: sections}), SOURCES[name].language,
                                             INSTRUCTION_SEED)]


def training_sections(texts: dict[str, list[str]]) -> list[str]:
    """The sections that training sees (`tokenize_documents` holds out the others)."""
    return [section for sections in texts.values() for i, section in enumerate(sections) if i % HELD_OUT_EVERY]


def held_out_sections(texts: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per source, the sections that training never sees (`tokenize_documents` holds them out)."""
    return {name: sections[::HELD_OUT_EVERY] for name, sections in texts.items()}


def loss_curve(history: dict, path: Path) -> None:
    """Print the curve (a few points) and save it as a PNG."""
    steps, losses = history["tokens"], history["loss"]
    print("[train] loss curve (training loss, mean of each tenth; held-out loss at each evaluation):")
    tenth = max(1, len(losses) // 10)
    for i in range(0, len(losses), tenth):
        chunk = losses[i:i + tenth]
        mean = sum(chunk) / len(chunk)
        print(f"    {steps[i] / 1000:8.1f}k tokens  {mean:6.3f}  {'#' * int(mean * 6)}")
    for tokens, loss in history["held_out"]:
        print(f"    held-out at {tokens / 1000:8.1f}k tokens: {loss:.3f}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    axes.plot([t / 1000 for t in steps], losses, lw=0.6, alpha=0.6, label="training batch")
    axes.plot([t / 1000 for t, _ in history["held_out"]], [v for _, v in history["held_out"]], "o-",
              label="held-out sections")
    axes.set(xlabel="thousands of training tokens", ylabel="cross-entropy (nats)", title="demo model: loss")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    print(f"[train] loss curve saved to {path}")


def training_seconds(budget: float, spent: float) -> float:
    """What the budget leaves for training once the text is read and the export is set aside (>= 1 minute)."""
    return max(60.0, budget - spent - AFTER_TRAINING_SECONDS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEMO_MODEL_DIR)
    parser.add_argument("--minutes", type=float, default=PLAN.seconds / 60,
                        help="the whole command's wall-clock budget (default %(default)g): reading the text, training, "
                             "saving; a busy machine reads slower and so trains less")
    parser.add_argument("--tokens", type=float, default=None,
                        help="or stop after this many training tokens: the same model on a fast or a busy machine")
    parser.add_argument("--seed", type=int, default=PLAN.seed, help="initial weights and the windows drawn")
    parser.add_argument("--instruction-share", type=float, default=INSTRUCTION_SHARE,
                        help="share of training windows drawn from the prompt-and-answer documents (default "
                             "%(default)g; 0: none, a model that follows no instruction)")
    parser.add_argument("--sources", default=",".join(SOURCES),
                        help="comma-separated sources to train on (default: all); to measure what each adds")
    args = parser.parse_args()
    names = [name.strip() for name in args.sources.split(",") if name.strip()]
    if unknown := [name for name in names if name not in SOURCES]:
        parser.error(f"unknown source(s) {unknown}; known: {', '.join(SOURCES)}")
    import torch

    torch.set_num_threads(THREADS)
    began = time.monotonic()
    if not 0 <= args.instruction_share < 1:
        parser.error("--instruction-share is a share: from 0 to less than 1")
    data = corpus(names, instruction_share=args.instruction_share)
    plan = replace(PLAN, seconds=training_seconds(args.minutes * 60, time.monotonic() - began), seed=args.seed)
    if args.tokens:  # the learning rate then follows the steps, not the clock
        plan = replace(plan, max_steps=max(1, int(args.tokens) // (plan.batch * plan.context)))
    print(f"[train] corpus: {', '.join(f'{m} {len(t):,} tokens' for m, t in data.train.items())} "
          f"(+ held-out {sum(map(len, data.held_out.values())):,}), read in {time.monotonic() - began:.0f} s; "
          f"torch threads: {torch.get_num_threads()}")
    model, active, history = train(data, plan)
    full = export(model, active, plan)
    for module, tokens in data.held_out.items():
        value = perplexity(full, tokens, max_windows=PERPLEXITY_WINDOWS)
        history.setdefault("held_out_perplexity", {})[module] = round(value, 2)
    print(f"[train] held-out perplexity (whole 50,257-token vocabulary, first {PERPLEXITY_WINDOWS * 256:,} tokens "
          f"of each source; `make demo-check` reads more): {history['held_out_perplexity']}")
    save(full, args.out, history, plan, data)
    loss_curve(history, args.out / "loss.png")
    tokenizer = gpt2_tokenizer()
    prompt = tokenizer(SAMPLE_PROMPT, return_tensors="pt")
    with torch.no_grad():
        out = full.generate(**prompt, max_new_tokens=40, do_sample=False, repetition_penalty=1.3, pad_token_id=50256)
    print(f"[train] greedy sample (repetition_penalty 1.3): {tokenizer.decode(out[0], skip_special_tokens=True)!r}")
    print(f"[train] saved to {args.out} in {time.monotonic() - began:.0f} s; "
          f"now: DECODELAB_MODEL=demo make run, or make demo-check")
    return 0


if __name__ == "__main__":
    sys.exit(main())
