"""Train the demo model: a small GPT-2 learned from scratch, on a CPU, in minutes.

The model has GPT-2's architecture and the real GPT-2 tokenizer (50,257 tokens), so the worker, the
engine and transformers' `generate` treat it exactly like distilgpt2. One trick makes CPU training
fast enough: the output softmax is trained only over the tokens that occur in the corpus (about a
fifth of GPT-2's vocabulary; the full softmax over 50,257 tokens is most of the cost of a step).
On export the other tokens get a fixed logit of `UNSEEN_TOKEN_LOGIT` through one hidden dimension
that the final layer norm holds at 1, so the saved model is a plain `GPT2LMHeadModel` that never
picks a token it has never seen, and its perplexity is measured over the whole vocabulary.

The loop reads like nanoGPT's `train.py`: one plan (its config), random windows of the token streams
(`get_batch`), AdamW with decay only on matrices, linear warm-up then cosine decay of the learning rate
(`get_lr`), a held-out loss at intervals (`estimate_loss`); here the schedule follows the clock, so a
run always ends on time. `scripts/train_demo_model.py` holds the settings and the corpus; the tests
train a tiny plan here.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from worker.model import DEMO_CONFIG_FLAG, gpt2_tokenizer

GPT2_VOCAB = 50257
EOS = 50256                 # <|endoftext|>: separates documents, as in GPT-2's own training data
UNSEEN_TOKEN_LOGIT = -100.0  # logit of a token absent from the corpus: exp(-100) is never sampled
# The repetition penalty reads a logit's sign and size (transformers divides a positive one by the
# penalty and multiplies a negative one), not only its distance to the others as temperature, top-k and
# top-p do. GPT-2's logits lie far below zero, so a penalty of 1.3 takes a repeated token several nats
# down; a small model trained from scratch has its likeliest tokens near +5, where 1.3 takes off 1-1.5
# nats and greedy text still loops. On export every seen token's logit is moved down by this much
# (through the pinned dimension): the softmax is the same, so every text at penalty 1.0, every
# probability and the perplexity are unchanged, and the penalty acts as on GPT-2 (docs/demo-model.md).
SEEN_LOGIT_SHIFT = -20.0


@dataclass(frozen=True)
class TrainingPlan:
    n_layer: int = 4            # transformer blocks (distilgpt2: 6)
    n_head: int = 4             # attention heads per block
    n_embd: int = 256           # width of the residual stream (distilgpt2: 768)
    n_positions: int = 1024     # the saved model's context window, as GPT-2's, so every lab prompt fits
    context: int = 256          # tokens per training window; windows start at random positions < n_positions
    batch: int = 16             # windows per step: batch * context tokens per step
    seconds: float = 390.0      # wall-clock training budget; the learning rate follows the clock
    max_steps: int = 1_000_000  # or stop after this many steps (tests use a few)
    learning_rate: float = 3e-3  # peak, after warm-up; cosine decay to 10 % of it at the end
    warmup_steps: int = 30
    weight_decay: float = 0.1   # on matrices only (not biases, layer norms)
    bf16: bool | None = None    # bfloat16 autocast; None = when the CPU has AMX (several times faster)
    seed: int = 1234
    log_every_seconds: float = 10.0   # one progress line this often
    eval_every_seconds: float = 45.0  # held-out loss this often (and at the start and the end)
    eval_windows: int = 16      # held-out windows per evaluation


@dataclass
class Corpus:
    """Token ids of the training and held-out text, per source, with how often each source is drawn."""
    train: dict[str, list[int]]
    held_out: dict[str, list[int]]
    shares: dict[str, float]
    description: dict = field(default_factory=dict)
    # Sources whose windows begin where a document does (short prompt-and-answer documents, each seen
    # whole): source -> the start of every document in its training and its held-out stream.
    train_starts: dict[str, list[int]] = field(default_factory=dict)
    held_out_starts: dict[str, list[int]] = field(default_factory=dict)

    def active_vocabulary(self) -> list[int]:
        ids = {EOS}
        for tokens in [*self.train.values(), *self.held_out.values()]:
            ids.update(tokens)
        return sorted(ids)


def tokenize_documents(documents: dict[str, list[str]], shares: dict[str, float], held_out_every: int,
                       description: dict | None = None, aligned: dict[str, int] | None = None) -> Corpus:
    """Documents (e.g. chapters) per source -> token streams; every `held_out_every`-th one is held out.
    `aligned`: source -> window length; that source's windows start at a document, and its documents
    longer than a window (with their end of text) are left out, so each is seen whole."""
    tokenizer = gpt2_tokenizer()
    corpus = Corpus({}, {}, shares, description or {})
    for source, docs in documents.items():
        encoded = [ids + [EOS] for ids in tokenizer(docs).input_ids]
        if source in (aligned or {}):
            encoded = [ids for ids in encoded if len(ids) <= aligned[source]]
        for stream, starts, keep in ((corpus.train, corpus.train_starts, bool),
                                     (corpus.held_out, corpus.held_out_starts, lambda i: not i)):
            chosen = [ids for i, ids in enumerate(encoded) if keep(i % held_out_every)]
            stream[source] = [t for ids in chosen for t in ids]
            if source in (aligned or {}):
                starts[source] = [0, *itertools.accumulate(len(ids) for ids in chosen)][:-1]
    return corpus


def training_model(plan: TrainingPlan, vocab_size: int) -> GPT2LMHeadModel:
    """GPT-2 over the active vocabulary, tied embeddings; ln_f's last dimension is pinned to 1 (a bias)."""
    config = GPT2Config(n_layer=plan.n_layer, n_head=plan.n_head, n_embd=plan.n_embd,
                        n_positions=plan.n_positions, vocab_size=vocab_size, tie_word_embeddings=True,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,  # no dropout: minutes of data underfit
                        bos_token_id=None, eos_token_id=None, pad_token_id=None)
    torch.manual_seed(plan.seed)
    model = GPT2LMHeadModel(config)
    ln_f = model.transformer.ln_f
    with torch.no_grad():
        ln_f.weight[-1], ln_f.bias[-1] = 0.0, 1.0
    keep = torch.ones(plan.n_embd)
    keep[-1] = 0.0
    ln_f.weight.register_hook(lambda grad: grad * keep)  # the pinned dimension never moves
    ln_f.bias.register_hook(lambda grad: grad * keep)
    return model


def windows(streams: dict[str, torch.Tensor], shares: dict[str, float], plan: TrainingPlan,
            count: int, rng: random.Random, starts: dict[str, list[int]] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` random windows of context+1 tokens, drawn from the sources by share; and random offsets.
    A source in `starts` has its windows begin at one of those positions (a document's start)."""
    sources = list(shares)
    rows = []
    for _ in range(count):
        source = rng.choices(sources, weights=[shares[s] for s in sources])[0]
        stream, last = streams[source], len(streams[source]) - plan.context - 1
        if source in (starts or {}):  # one of the documents that a whole window still holds
            usable = bisect.bisect_right(starts[source], last)
            start = starts[source][rng.randrange(usable)] if usable else 0
        else:
            start = rng.randrange(0, last)
        rows.append(stream[start:start + plan.context + 1])
    offsets = torch.tensor([rng.randrange(0, plan.n_positions - plan.context + 1) for _ in range(count)])
    return torch.stack(rows), offsets


def window_loss(model: GPT2LMHeadModel, batch: torch.Tensor, offsets: torch.Tensor, bf16: bool) -> torch.Tensor:
    inputs, targets = batch[:, :-1], batch[:, 1:]                      # (B, T)
    positions = offsets[:, None] + torch.arange(inputs.shape[1])[None]  # (B, T): all 1024 positions learn
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=inputs, position_ids=positions).logits  # (B, T, active vocab)
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())


def learning_rate(plan: TrainingPlan, step: int, progress: float) -> float:
    if step < plan.warmup_steps:
        return plan.learning_rate * (step + 1) / plan.warmup_steps
    return plan.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def optimizer(model: GPT2LMHeadModel, plan: TrainingPlan) -> torch.optim.AdamW:
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": matrices, "weight_decay": plan.weight_decay},
                              {"params": others, "weight_decay": 0.0}], lr=plan.learning_rate, betas=(0.9, 0.95))


@torch.no_grad()
def held_out_loss(model, streams, corpus: Corpus, plan: TrainingPlan, bf16: bool) -> float:
    model.eval()
    batch, _ = windows(streams, corpus.shares, plan, plan.eval_windows, random.Random(plan.seed + 1),
                       corpus.held_out_starts)
    loss = float(window_loss(model, batch, torch.zeros(len(batch), dtype=torch.long), bf16))
    model.train()
    return loss


def use_bf16(plan: TrainingPlan) -> bool:
    if plan.bf16 is not None:
        return plan.bf16
    # torch's own probe is private (no public one in 2.13); without it, plain float32 (slower, still right).
    # Pinned by tests/test_demo_model.py.
    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def train(corpus: Corpus, plan: TrainingPlan, print_fn=print) -> tuple[GPT2LMHeadModel, list[int], dict]:
    """Train over the active vocabulary; returns (model in the active space, active ids, history)."""
    active = corpus.active_vocabulary()
    to_active = torch.full((GPT2_VOCAB,), -1, dtype=torch.long)
    to_active[torch.tensor(active)] = torch.arange(len(active))
    train_streams = {s: to_active[torch.tensor(ids)] for s, ids in corpus.train.items()}
    held_streams = {s: to_active[torch.tensor(ids)] for s, ids in corpus.held_out.items()}
    model, bf16 = training_model(plan, len(active)), use_bf16(plan)
    opt, rng = optimizer(model, plan), random.Random(plan.seed)
    history = {"steps": [], "tokens": [], "loss": [], "held_out": [], "bf16": bf16, "active_vocabulary": len(active)}
    tokens_per_step = plan.batch * plan.context
    print_fn(f"[train] {sum(p.numel() for p in model.parameters()):,} parameters over {len(active):,} active "
             f"tokens; {sum(map(len, train_streams.values())):,} training tokens; bf16 autocast: {bf16}")
    history["held_out"].append((0, held_out_loss(model, held_streams, corpus, plan, bf16)))
    start = last_log = last_eval = time.monotonic()
    step, smoothed = 0, None
    while step < plan.max_steps and (elapsed := time.monotonic() - start) < plan.seconds:
        progress = max(step / plan.max_steps, elapsed / plan.seconds)
        for group in opt.param_groups:
            group["lr"] = learning_rate(plan, step, progress)
        batch, offsets = windows(train_streams, corpus.shares, plan, plan.batch, rng, corpus.train_starts)
        loss = window_loss(model, batch, offsets, bf16)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step, value = step + 1, loss.item()
        smoothed = value if smoothed is None else 0.9 * smoothed + 0.1 * value
        history["steps"].append(step)
        history["tokens"].append(step * tokens_per_step)
        history["loss"].append(value)
        now = time.monotonic()
        if now - last_eval >= plan.eval_every_seconds:
            history["held_out"].append((step * tokens_per_step, held_out_loss(model, held_streams, corpus, plan, bf16)))
            last_eval = now
        if now - last_log >= plan.log_every_seconds:
            print_fn(progress_line(step, tokens_per_step, smoothed, now - start, plan))
            last_log = now
    history["held_out"].append((step * tokens_per_step, held_out_loss(model, held_streams, corpus, plan, bf16)))
    history["seconds"] = round(time.monotonic() - start, 1)
    print_fn(progress_line(step, tokens_per_step, smoothed or float("nan"), history["seconds"], plan) + " (done)")
    return model, active, history


def progress_line(step: int, tokens_per_step: int, loss: float, elapsed: float, plan: TrainingPlan) -> str:
    tokens = step * tokens_per_step
    rate = tokens / max(elapsed, 1e-9)
    left = max(0.0, min(plan.seconds - elapsed, (plan.max_steps - step) * elapsed / max(step, 1)))
    return (f"[train] step {step:5d} | {tokens / 1000:8.1f}k tokens | loss {loss:6.3f} | "
            f"{rate:7.0f} tokens/s | ETA {int(left // 60)}:{int(left % 60):02d}")


@torch.no_grad()
def export(model: GPT2LMHeadModel, active: list[int], plan: TrainingPlan) -> GPT2LMHeadModel:
    """The full-vocabulary GPT-2 that behaves as the trained one on seen tokens and never picks the rest."""
    config = GPT2Config(n_layer=plan.n_layer, n_head=plan.n_head, n_embd=plan.n_embd,
                        n_positions=plan.n_positions, vocab_size=GPT2_VOCAB, tie_word_embeddings=False,
                        bos_token_id=EOS, eos_token_id=EOS, pad_token_id=EOS, **{DEMO_CONFIG_FLAG: True})
    full = GPT2LMHeadModel(config)
    state = {k: v for k, v in model.state_dict().items() if k not in ("transformer.wte.weight", "lm_head.weight")}
    full.load_state_dict(state, strict=False)
    trained = model.transformer.wte.weight                    # (active, n_embd), tied in training
    index = torch.tensor(active)
    full.transformer.wte.weight.zero_()                       # an unseen token in a prompt reads as blank
    full.transformer.wte.weight[index] = trained
    full.lm_head.weight.zero_()
    full.lm_head.weight[:, -1] = UNSEEN_TOKEN_LOGIT           # times ln_f's pinned 1: a fixed logit
    full.lm_head.weight[index] = trained
    full.lm_head.weight[index, -1] += SEEN_LOGIT_SHIFT       # the same softmax, GPT-2's level of logits
    full.generation_config.pad_token_id = EOS
    return full.eval()


def save(model: GPT2LMHeadModel, out_dir: Path, history: dict, plan: TrainingPlan, corpus: Corpus) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    gpt2_tokenizer().save_pretrained(out_dir)
    record = {"plan": asdict(plan), "corpus": corpus.description, "history": history}
    (out_dir / "training.json").write_text(json.dumps(record, indent=1))


@torch.no_grad()
def perplexity(model: torch.nn.Module, token_ids: list[int], context: int = 256, max_windows: int = 32) -> float:
    """exp(mean next-token loss) over the whole GPT-2 vocabulary, on the first consecutive windows of a text."""
    ids = torch.tensor(token_ids)
    starts = list(range(0, len(ids) - context - 1, context))[:max_windows]
    total = 0.0
    for start in starts:  # one window at a time: (context, 50,257) logits are 50 MB
        window = ids[start:start + context + 1]
        logits = model(input_ids=window[None, :-1]).logits[0].float()  # (context, vocab)
        total += float(F.cross_entropy(logits, window[1:], reduction="sum"))
    return math.exp(total / (len(starts) * context))
