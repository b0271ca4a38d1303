"""`make demo-model`: train the demo model offline on 2 CPU cores in about 7 minutes.

A small GPT-2 (real GPT-2 tokenizer, 4 layers, 256 wide) learned from scratch on two public-domain
texts that Debian ships as packages: the World English Bible (`sword-text-web`) and the Spanish
Reina-Valera 1909 (`sword-text-sparv`), read with `diatheke`. It is saved with `save_pretrained` in
data/models/demo, with its loss curve (data/models/demo/loss.png) and training record (training.json).
Then `DECODELAB_MODEL=demo make run`, and `make demo-check` prints what it teaches.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from worker.demo_training import Corpus, TrainingPlan, export, perplexity, save, tokenize_documents, train
from worker.model import DEMO_MODEL_DIR, gpt2_tokenizer

ROOT = Path(__file__).resolve().parent.parent

# --- settings -------------------------------------------------------------------------------------
SOURCES = {  # SWORD module: (language, share of training windows, title, Debian package). Both public domain.
    "engWEB2015eb": ("en", 0.75, "World English Bible (2020 stable text)", "sword-text-web"),
    "spaRV1909eb": ("es", 0.25, "Reina-Valera 1909", "sword-text-sparv"),
}
HELD_OUT_EVERY = 50          # every 50th chapter is held out: never trained on, used for perplexity
CORPUS_DIR = ROOT / "data" / "corpus"  # the extracted plain text, cached between runs
PLAN = TrainingPlan(
    n_layer=4, n_head=3, n_embd=192,  # ~5M parameters in training (3M of them the seen tokens' embeddings)
    context=128, batch=8,             # 1,024 tokens per step: with minutes of CPU, many small steps learn more
    seconds=390.0,                    # 6.5 minutes of training; the whole command takes about 7.5
    learning_rate=2e-3, warmup_steps=20,
)
THREADS = max(1, (os.cpu_count() or 2) // 2)  # torch threads: 1 on 2 cores, where two threads that wait on
# each other while other processes run are 5x slower than one (measured: 440 vs 2,800 tokens/s)
SAMPLE_PROMPT = "In a distant future, humans and AI"  # one greedy sample printed at the end


def chapters(module: str) -> list[str]:
    """The module's text as one paragraph per chapter (verse numbers and Strong's numbers removed)."""
    cached = CORPUS_DIR / f"{module}.txt"
    if not cached.exists():
        if shutil.which("diatheke") is None:
            packages = " ".join(p for *_, p in SOURCES.values())
            raise SystemExit(f"diatheke is missing: apt-get install -y diatheke {packages} (or `make demo-model` as root)")
        raw = subprocess.run(["diatheke", "-b", module, "-f", "plain", "-k", "Genesis 1:1-Revelation 22:21"],
                             capture_output=True, text=True, check=True).stdout
        CORPUS_DIR.mkdir(parents=True, exist_ok=True)
        cached.write_text("\n\n".join(parse_chapters(raw)))
    return cached.read_text().split("\n\n")


VERSE = re.compile(r"^(.+?) (\d+):\d+: ?(.*)$")
STRONG = re.compile(r"\s*<[HG]\d+>")


def parse_chapters(raw: str) -> list[str]:
    """diatheke's plain output: 'Book C:V: text' lines (poetry goes on over several lines)."""
    chapters, current, key = [], [], None
    for line in raw.splitlines():
        match = VERSE.match(line)
        if match:
            if (match[1], match[2]) != key and current:
                chapters.append(" ".join(current))
                current = []
            key, line = (match[1], match[2]), match[3]
        elif line.startswith("(") or len(line) > 2000:  # the module's name; an appended glossary
            continue
        line = " ".join(STRONG.sub("", line).split())
        if line:
            current.append(line)
    if current:
        chapters.append(" ".join(current))
    return chapters


def corpus() -> Corpus:
    documents = {module: chapters(module) for module in SOURCES}
    shares = {module: share for module, (_, share, *_) in SOURCES.items()}
    description = {module: {"language": lang, "title": title, "debian_package": package, "licence": "public domain",
                            "chapters": len(documents[module])}
                   for module, (lang, _, title, package) in SOURCES.items()}
    return tokenize_documents(documents, shares, HELD_OUT_EVERY, description)


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
              label="held-out chapters")
    axes.set(xlabel="thousands of training tokens", ylabel="cross-entropy (nats)", title="demo model: loss")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    print(f"[train] loss curve saved to {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEMO_MODEL_DIR)
    parser.add_argument("--seconds", type=float, default=PLAN.seconds, help="training budget (wall clock)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(THREADS)
    began = time.monotonic()
    plan = replace(PLAN, seconds=args.seconds)
    data = corpus()
    print(f"[train] corpus: {', '.join(f'{m} {len(t):,} tokens' for m, t in data.train.items())} "
          f"(+ held-out {sum(map(len, data.held_out.values())):,}), read in {time.monotonic() - began:.0f} s; "
          f"torch threads: {torch.get_num_threads()}")
    model, active, history = train(data, plan)
    full = export(model, active, plan)
    for module, tokens in data.held_out.items():
        history.setdefault("held_out_perplexity", {})[module] = round(perplexity(full, tokens), 2)
    print(f"[train] held-out perplexity (whole 50,257-token vocabulary): {history['held_out_perplexity']}")
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
