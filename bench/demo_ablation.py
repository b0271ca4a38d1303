"""Exercise 2 on the demo model: does it answer the notebook's prompt, and do its instructions matter?

`make demo-check` runs this after the exercise 1 table. Through the project's engine, with the notebook's
ablation config (T 0.7, top-p 0.9, its repetition_penalty 1.1), it samples the full prompt and its three
variants (shared/teaching/ablation.py), and prompts that do not name the topic, and prints:

- per variant: the share of outputs that mention the topic (name Git, the topic's subject) and the pass
  rate of each check (shared/teaching/checks.py, as the worker runs them on a student's ablation);
- `topic_mention`: that share over every output whose prompt names the topic (target >= 0.3);
- `check_spread_points`: the largest difference, in points, of a check's pass rate between the full
  prompt and `topic_only` (target >= 20: activity 2.3.3 has something to find);
- `memorized_8gram_share`: over the outputs of the unrelated prompts, the largest share that contains
  one same 8-word sequence of the training text (target <= 0.1: no passage learned by heart and recited
  whatever the prompt).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from shared.contract.decoding import DecodingConfig
from shared.teaching.ablation import NOTEBOOK_ABLATION_CONFIG, NOTEBOOK_TOPIC, PromptParts, check_specs, variants
from shared.teaching.checks import run_checks
from shared.teaching.metrics import ngrams, words
from worker.engine import Engine, GenerationRequest
from worker.model import LoadedModel

DEFAULT_NEW_TOKENS = 150  # the notebook samples 500; 150 keeps `make demo-check` within minutes on 2 busy cores
TOPIC_SUBJECT = "git"   # an output that names Git talks about the notebook's topic
MEMORY_WORDS = 8        # an 8-word sequence shared with the training text is recited, not composed
# The activity's other instructions (2.3.2), checked on every output too: what a student would add.
EXTRA_CHECKS = [{"id": "no_jargon"}, {"id": "has_example"}, {"id": "word_limit", "max_words": 100},
                {"id": "valid_json"}]


def ablation_config(max_new_tokens: int) -> DecodingConfig:
    return DecodingConfig.from_dict({**NOTEBOOK_ABLATION_CONFIG, "max_new_tokens": max_new_tokens}).effective()


def generate(loaded: LoadedModel, prompts: dict[str, str], samples: int, max_new_tokens: int) -> dict[tuple, str]:
    """(prompt name, seed) -> text: every prompt sampled with seeds 0..samples-1, in one engine run."""
    config = ablation_config(max_new_tokens)
    requests = [GenerationRequest((name, seed), loaded.tokenizer(prompt).input_ids, config, seed)
                for name, prompt in prompts.items() for seed in range(samples)]
    engine = Engine(loaded.model, loaded.eos_token_id, max_batch=len(requests), device=loaded.device)
    return {r.key: loaded.tokenizer.decode(r.token_ids, skip_special_tokens=True) for r in engine.run(requests)}


def mentions_topic(text: str) -> bool:
    return TOPIC_SUBJECT in words(text)


def variant_rows(texts: dict[tuple, str], prompts: dict[str, str]) -> dict[str, dict[str, float]]:
    """Variant -> {"topic mention": share, check id: pass rate} over its samples."""
    specs = check_specs(PromptParts()) + EXTRA_CHECKS
    rows: dict[str, dict[str, float]] = {}
    for name, prompt in prompts.items():
        outputs = [text for (variant, _), text in texts.items() if variant == name]
        results = [run_checks(specs, text, prompt, NOTEBOOK_TOPIC) for text in outputs]
        row = {"topic mention": share(map(mentions_topic, outputs))}
        row.update({spec["id"]: share(r[spec["id"]]["passed"] for r in results) for spec in specs})
        rows[name] = row
    return rows


def share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def check_spread_points(rows: dict[str, dict[str, float]]) -> float:
    """Largest |pass rate(full) - pass rate(topic_only)| over the checks, in points."""
    full, topic_only = rows["full"], rows["topic_only"]
    return max(abs(full[check] - topic_only[check]) * 100 for check in full if check != "topic mention")


def check_differences(rows: dict[str, dict[str, float]], samples: int) -> dict[str, tuple[float, float]]:
    """Check -> (pass rate(full) - pass rate(topic_only), its 95 % margin), in points: with 20 samples a
    difference under about 20-30 points is within what two sets of seeds give for the same prompt."""
    full, topic_only = rows["full"], rows["topic_only"]
    return {check: ((full[check] - topic_only[check]) * 100,
                    196 * math.sqrt((full[check] * (1 - full[check]) + topic_only[check] * (1 - topic_only[check]))
                                    / samples))
            for check in full if check != "topic mention"}


def memorized_8gram_share(outputs: list[str], training_texts: Iterable[str]) -> tuple[float, str]:
    """The largest share of `outputs` that contain one same 8-word sequence of the training text, and it."""
    in_outputs = Counter(gram for text in outputs for gram in set(ngrams(words(text), MEMORY_WORDS)))
    recited = set()
    for text in training_texts:
        recited.update(gram for gram in ngrams(words(text), MEMORY_WORDS) if gram in in_outputs)
    if not recited:
        return 0.0, ""
    top = max(recited, key=lambda gram: in_outputs[gram])
    return in_outputs[top] / len(outputs), " ".join(top)


def notebook_prompts() -> dict[str, str]:
    """The notebook's full prompt and its three variants (cells 2.1 and 2.2)."""
    return variants(PromptParts())


def print_ablation(rows: dict[str, dict[str, float]], unrelated_mention: float) -> None:
    checks = list(next(iter(rows.values())))
    print("| variant | " + " | ".join(checks) + " |")
    print("|---|" + "---|" * len(checks))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.0%}" for c in checks) + " |")
    print(f"| (prompts that do not name the topic) | {unrelated_mention:.0%} |" + " |" * (len(checks) - 1))


def report(loaded: LoadedModel, unrelated_prompts: list[str], training_texts: list[str], samples: int,
           max_new_tokens: int) -> None:
    """Print the ablation table, samples, and the three closing lines."""
    prompts = notebook_prompts()
    unrelated = {f"unrelated {i}": prompt for i, prompt in enumerate(unrelated_prompts)}
    texts = generate(loaded, {**prompts, **unrelated}, samples, max_new_tokens)
    rows = variant_rows({k: v for k, v in texts.items() if k[0] in prompts}, prompts)
    unrelated_texts = [text for (name, _), text in texts.items() if name in unrelated]
    print(f"\nExercise 2 (the notebook's ablation: {samples} samples per prompt, {ablation_config(max_new_tokens).label()};"
          f" the notebook samples 500 tokens):")
    print_ablation(rows, share(map(mentions_topic, unrelated_texts)))
    for name in ("full", "topic_only"):
        print(f"- {name}, seed 0: {texts[(name, 0)][:300]!r}")
    differences = check_differences(rows, samples)
    print("full - topic_only, per check, points (± 95 % margin with these samples): " + ", ".join(
        f"{check} {value:+.0f} (±{margin:.0f})" for check, (value, margin) in differences.items()))
    memorized, gram = memorized_8gram_share(unrelated_texts, training_texts)
    print(f"most repeated 8-word sequence of the training text in the {len(unrelated_texts)} outputs of prompts "
          f"that do not name the topic: {gram!r}")
    mentioned = [text for (name, _), text in texts.items() if name in prompts]
    print(f"topic_mention: {share(map(mentions_topic, mentioned)):.2f}")
    print(f"check_spread_points: {check_spread_points(rows):.0f}")
    print(f"memorized_8gram_share: {memorized:.2f}")
