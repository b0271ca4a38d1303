"""`make demo-check`: does the demo model show the notebook's decoding effects? A table, demo vs random.

Every generation goes through the project's own engine (`worker.engine.Engine`), as a student's would,
on the same prompts and seeds for both models:

- temperature 0.1 / 0.7 / 1.5 (sampling, top-k 50, the notebook's repetition_penalty 1.1):
  distinct-2 should rise with temperature;
- greedy at repetition_penalty 1.0 and 1.3: loops (shared/teaching/metrics.py `looping`) and the share of
  repeated 3-grams should fall with the penalty;
- T 1.0 and T 1.5 at the same seed: how many texts differ;
- perplexity of held-out sections (never trained on) over the whole 50,257-token vocabulary.

Prints a Markdown table (docs/demo-model.md's) and a few sample texts, then exercise 2's ablation
(bench/demo_ablation.py), ending with the lines `topic_mention: X`, `check_spread_points: Y` and
`memorized_8gram_share: Z`. Needs `make demo-model` first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from bench import demo_ablation
from shared.contract.decoding import GREEDY, NOTEBOOK_PROMPT, DecodingConfig
from shared.teaching.metrics import distinct_n, looping, repeated_share, words
from worker.demo_training import perplexity
from worker.engine import Engine, GenerationRequest
from worker.model import DEMO_MODEL, DEMO_MODEL_DIR, LoadedModel, load_model

PROMPTS = [  # exercise 1's prompt, two in the style of the training text, one in Spanish; none names Git
    NOTEBOOK_PROMPT,
    "The system administrator",
    "To configure the network,",
    "Para instalar un paquete,",
]
SEEDS = range(5)               # each sampled configuration runs once per prompt and seed
TEMPERATURES = (0.1, 0.7, 1.5)
MAX_NEW_TOKENS = 80            # the notebook's decoding exercise
RANDOM_MODEL = "random-tiny"   # what the README pointed to before the demo model


def configs() -> dict[str, DecodingConfig]:
    named = {f"T {t:g}": DecodingConfig(temperature=t, max_new_tokens=MAX_NEW_TOKENS) for t in TEMPERATURES}
    named["T 1"] = DecodingConfig(temperature=1.0, max_new_tokens=MAX_NEW_TOKENS)
    for penalty in (1.0, 1.3):
        named[f"greedy rep {penalty:g}"] = DecodingConfig(strategy=GREEDY, repetition_penalty=penalty,
                                                          max_new_tokens=MAX_NEW_TOKENS)
    return named


def generate_all(loaded: LoadedModel) -> dict[tuple, str]:
    """(config name, prompt, seed) -> text, every generation in one engine run."""
    requests = []
    for name, config in configs().items():
        seeds = [0] if config.strategy == GREEDY else SEEDS
        for prompt in PROMPTS:
            for seed in seeds:
                ids = loaded.tokenizer(prompt).input_ids
                requests.append(GenerationRequest((name, prompt, seed), ids, config.effective(), seed))
    engine = Engine(loaded.model, loaded.eos_token_id, max_batch=len(requests), device=loaded.device)
    return {r.key: loaded.tokenizer.decode(r.token_ids, skip_special_tokens=True) for r in engine.run(requests)}


def figures(texts: dict[tuple, str]) -> dict[str, str]:
    def texts_of(name):
        return [words(text) for (config, _, _), text in texts.items() if config == name]

    row = {}
    for t in TEMPERATURES:
        row[f"distinct-2, T {t:g}"] = f"{statistics.mean(distinct_n(w, 2) or 0 for w in texts_of(f'T {t:g}')):.2f}"
    for penalty in ("1", "1.3"):
        outputs = texts_of(f"greedy rep {penalty}")
        row[f"greedy, rep {penalty}: loops"] = f"{sum(map(looping, outputs))}/{len(outputs)}"
        row[f"greedy, rep {penalty}: repeated 3-grams"] = f"{statistics.mean(repeated_share(w) for w in outputs):.0%}"
    pairs = [(texts[("T 1", p, s)], texts[("T 1.5", p, s)]) for p in PROMPTS for s in SEEDS]
    row["T 1 vs T 1.5, same seed: texts that differ"] = f"{sum(a != b for a, b in pairs)}/{len(pairs)}"
    return row


def trained_corpus(model_dir: Path) -> tuple[list[str], float]:
    """From the model's training.json: the Debian sources it was trained on (so held-out text is really
    unseen), and the share of prompt-and-answer documents (0 for a model trained without them)."""
    from scripts.train_demo_model import INSTRUCTIONS, SOURCES

    corpus = json.loads((model_dir / "training.json").read_text())["corpus"]
    return [name for name in corpus if name in SOURCES], float(corpus.get(INSTRUCTIONS, {}).get("share", 0.0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", action="store_true", help="also print every text of the notebook prompt")
    parser.add_argument("--model-dir", type=Path, default=DEMO_MODEL_DIR, help="the demo model to check")
    parser.add_argument("--ablation-samples", type=int, default=20, help="samples per exercise 2 prompt")
    parser.add_argument("--ablation-tokens", type=int, default=demo_ablation.DEFAULT_NEW_TOKENS,
                        help="new tokens per exercise 2 sample (the notebook: 500)")
    parser.add_argument("--ablation-only", action="store_true", help="only exercise 2 (skip the table)")
    parser.add_argument("--loop-prompts", type=int, default=0,
                        help="also count greedy loops at repetition_penalty 1.0 / 1.3 over the 4 prompts and the "
                             "openings of this many held-out paragraphs per source (4 prompts alone are noisy)")
    args = parser.parse_args()
    began = time.monotonic()
    demo = load_model(DEMO_MODEL, device="cpu", demo_dir=args.model_dir)
    from scripts.train_demo_model import corpus, documents, instruction_texts, training_sections

    sources, share = trained_corpus(args.model_dir)
    sections = documents(sources)
    if not args.ablation_only:
        exercise_1_table(demo, corpus(texts=sections, instruction_share=share).held_out, args.samples)
    if args.loop_prompts:
        loop_counts(demo, PROMPTS + held_out_openings(sections, args.loop_prompts))
    trained_text = training_sections(sections) + (instruction_texts(sections) if share else [])
    demo_ablation.report(demo, PROMPTS, trained_text, args.ablation_samples, args.ablation_tokens)
    print(f"({time.monotonic() - began:.0f} s in all)")
    return 0


OPENING_WORDS = 5  # a held-out paragraph's first words: a prompt in the style of the text, never trained on


def held_out_openings(sections: dict[str, list[str]], per_source: int) -> list[str]:
    """The first words of `per_source` held-out paragraphs of each source (evenly spread, prose only)."""
    from scripts.train_demo_model import held_out_sections

    openings = []
    for texts in held_out_sections(sections).values():
        paragraphs = [p for text in texts for p in text.split("\n")[1:] if len(p.split()) >= 2 * OPENING_WORDS]
        step = max(1, len(paragraphs) // per_source)
        openings += [" ".join(p.split()[:OPENING_WORDS]) for p in paragraphs[::step][:per_source]]
    return openings


def loop_counts(loaded: LoadedModel, prompts: list[str]) -> dict[str, int]:
    """Greedy texts that loop, per repetition penalty, over many prompts; printed as `loops over N prompts`."""
    greedy = configs()
    requests = [GenerationRequest((penalty, prompt), loaded.tokenizer(prompt).input_ids,
                                  greedy[f"greedy rep {penalty:g}"].effective(), 0)
                for penalty in (1.0, 1.3) for prompt in prompts]
    engine = Engine(loaded.model, loaded.eos_token_id, max_batch=len(requests), device=loaded.device)
    counts = {f"rep {penalty:g}": 0 for penalty in (1.0, 1.3)}
    for result in engine.run(requests):
        counts[f"rep {result.key[0]:g}"] += looping(words(loaded.tokenizer.decode(result.token_ids,
                                                                                  skip_special_tokens=True)))
    print(f"\ngreedy loops over {len(prompts)} prompts (exercise 1's 4 and openings of held-out paragraphs): "
          + ", ".join(f"{name}: {count}/{len(prompts)}" for name, count in counts.items()))
    return counts


def exercise_1_table(demo: LoadedModel, held_out: dict[str, list[int]], everything: bool) -> None:
    """The table of exercise 1's effects, demo vs random models, and a few samples."""
    began = time.monotonic()
    models = {DEMO_MODEL: demo, RANDOM_MODEL: load_model(RANDOM_MODEL, device="cpu")}
    rows, texts = {}, {}
    for name, loaded in models.items():
        texts[name] = generate_all(loaded)
        rows[name] = figures(texts[name])
    for name, loaded in models.items():
        for source, tokens in held_out.items():
            with torch.no_grad():  # a random model's perplexity is ~50,000 on any text: a few windows show it
                value = perplexity(loaded.model, tokens, max_windows=32 if name == DEMO_MODEL else 4)
            rows.setdefault(name, {})[f"held-out perplexity, {source}"] = f"{value:,.0f}"
    print_table(rows)
    print_samples(texts[DEMO_MODEL], everything=everything)
    print(f"\n({time.monotonic() - began:.0f} s; prompts: {PROMPTS}; seeds {list(SEEDS)}; "
          f"{MAX_NEW_TOKENS} new tokens; sampling with top-k 50 and repetition_penalty 1.1 as the notebook; "
          f"perplexity on the sections the training held out)")


def print_table(rows: dict[str, dict[str, str]]) -> None:
    names = list(rows)
    measures = list(dict.fromkeys(m for row in rows.values() for m in row))
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for measure in measures:
        print(f"| {measure} | " + " | ".join(rows[n].get(measure, "") for n in names) + " |")


def print_samples(texts: dict[tuple, str], everything: bool) -> None:
    print(f"\nDemo model, prompt {NOTEBOOK_PROMPT!r}, seed 0:")
    for name in configs():
        if everything or name in ("greedy rep 1", "greedy rep 1.3", "T 0.1", "T 1.5"):
            print(f"- {name}: {texts[(name, NOTEBOOK_PROMPT, 0)]!r}")


if __name__ == "__main__":
    sys.exit(main())
