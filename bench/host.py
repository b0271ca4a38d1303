"""`make bench-host`: the engine's own per-step host time, with the model taken out of the picture.

A stand-in model of the real interface (the calls `Engine` makes on GPT-2: prefill with a mask and
position ids, decode one token per row, a KV cache it updates) whose forward costs almost nothing and
whose vocabulary is small (256): what remains of a step is the engine's own bookkeeping and token
choice. The class mix of configs (the notebook's greedy and two sampling presets, the ablation's
T 0.7 / top-p 0.9, all with repetition penalty 1.1) at 64 / 256 / 1,024 rows.

Also counts the vocabulary-wide operations of one step: aten ops that read or write a [rows, vocab]
tensor (the stand-in's own forward not counted), and the count the rows' parameters predict
(`worker.reference.vocab_passes`, through `PassCount`, a wrapper this benchmark puts around the
engine's sampler: the engine itself counts nothing). Then a run where rows
finish and join all the time, with a KV cache as wide as distilgpt2's (`kv_stand_in`): what the engine
copies when the batch changes. Runs the same
measurement on an earlier engine (`--baseline REV`, from git; by default the engine before issue #14's
host-time work) side by side. Last line: `host_ms_per_step_1024: <ms>`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import GPT2Config

from shared.contract.decoding import GREEDY, DecodingConfig
from worker.engine import Engine, GenerationRequest

ROOT = Path(__file__).resolve().parent.parent
BASELINE_REV = "1c8a71f"  # the engine before the host-time work (c43cd49: before issue #14's rewrite)
VOCAB = 256
EOS = VOCAB - 1
CLASS_MIX = [  # the class burst's configs
    DecodingConfig(strategy=GREEDY),
    DecodingConfig(temperature=1.0, top_k=50),
    DecodingConfig(temperature=0.3, top_p=0.9),
    DecodingConfig(temperature=0.7, top_p=0.9),
]


class StandInModel(torch.nn.Module):
    """GPT-2's interface at almost no cost: logits are a fixed random table looked up by the input
    token (never EOS, so rows run to their length); the cache holds `layers` x [heads, head_dim] zeros
    per token (by default one number)."""

    def __init__(self, vocab: int = VOCAB, layers: int = 1, heads: int = 1, head_dim: int = 1,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        self.config = GPT2Config(n_layer=layers, n_head=heads, n_embd=heads * head_dim, vocab_size=vocab,
                                 bos_token_id=EOS, eos_token_id=EOS)
        self.kv_shape, self.kv_dtype = (heads, head_dim), dtype
        table = torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(0)) * 3
        table[:, EOS] = -1e4
        self.register_buffer("table", table)  # [vocab, vocab] next-token logits by input token
        self.seconds = 0.0  # time spent in forward (the stand-in's own, taken out of the engine's figure)

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=True,
                logits_to_keep=0):
        start = time.perf_counter()
        rows, length = input_ids.shape
        heads, head_dim = self.kv_shape
        state = torch.zeros(rows, heads, length, head_dim, dtype=self.kv_dtype, device=input_ids.device)
        for layer in range(self.config.n_layer):
            past_key_values.update(state, state, layer)
        last = input_ids[:, -1:] if logits_to_keep == 1 else input_ids
        logits = self.table[last]  # [rows, t, vocab]
        self.seconds += time.perf_counter() - start
        return SimpleNamespace(logits=logits, past_key_values=past_key_values)


def kv_stand_in() -> StandInModel:
    """The stand-in with a KV cache as wide as distilgpt2's (12 heads x 64 per layer, float16; 2 layers
    instead of 6, to keep the run short): what rows joining and leaving the batch copy is real-sized."""
    return StandInModel(layers=2, heads=12, head_dim=64, dtype=torch.float16)


def timed_step(engine: Engine, model: StandInModel, device: torch.device) -> tuple[float, float, list]:
    """One engine step: (its seconds less the stand-in's forward, the forward's seconds, finished rows)."""
    model.seconds = 0.0
    start = time.perf_counter()
    finished = engine.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start - model.seconds, model.seconds, finished


def measure_churn(rows: int, steps: int, device: torch.device) -> dict:
    """Rows finishing and joining all the time: 3 x `rows` greedy requests with prompts of 10-59 tokens
    and 20-179 new tokens each, through `steps` steps after the first admission, on `kv_stand_in()`.
    Engine time per step (the stand-in's forward taken out), and how many steps had rows leaving."""
    model = kv_stand_in().to(device)
    engine = Engine(model, EOS, rows, device)
    for i in range(3 * rows):
        config = DecodingConfig(strategy=GREEDY, max_new_tokens=20 + (i * 37) % 160).effective()
        engine.submit(GenerationRequest(i, list(range(1, 11 + (i * 7) % 50)), config, seed=i))
    engine.step()
    total, leaving = 0.0, 0
    for _ in range(steps):
        seconds, _, finished = timed_step(engine, model, device)
        total, leaving = total + seconds, leaving + bool(finished)
    return {"rows": rows, "ms_per_step": round(total / steps * 1000, 3), "steps_with_rows_leaving": leaving}


class VocabPasses(TorchDispatchMode):
    """Counts aten kernels that sweep a [rows, vocab] tensor: views are free, and `gather` / in-place
    `scatter_` touch only the indexed entries (the penalty's history, the chosen tokens). Also counts
    every aten operation (`ops`, views included): each is host work on any device, a kernel launch
    on a GPU."""

    SPARSE = {"aten.gather.default", "aten.scatter_.src"}

    def __init__(self, rows: int, vocab: int):
        super().__init__()
        self.size, self.count, self.ops, self.kernels = rows * vocab, 0, 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops += 1
        self.kernels += not func.is_view
        if not func.is_view and str(func) not in self.SPARSE:
            tensors = [t for t in torch.utils._pytree.tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor)]
            self.count += any(t.numel() >= self.size and t.shape[-1] == VOCAB for t in tensors)
        return out


class PassCount:
    """Wraps an engine's sampler: after each call, the passes over [rows, vocab] it made, as the rows'
    parameters predict them (worker/reference.py), so that the engine's own step never counts them."""

    def __init__(self, engine: Engine):
        from worker.reference import vocab_passes  # imported here: an earlier engine has no reference module

        self.sampler, self.predict, self.passes = engine.sampler, vocab_passes, None
        engine.sampler = self

    def __call__(self, scores, history, params, keys):
        choice = self.sampler(scores, history, params, keys)
        self.passes = self.predict(params, self.sampler.top is not None, choice.recounted_rows)
        return choice


def count_passes(engine: Engine):
    """Counts the vocabulary passes of `engine`'s next steps; returns what gives the last one's (None:
    an engine that cannot say). An engine from before the Sampler counted them itself (`vocab_passes`)."""
    if hasattr(engine, "sampler"):
        counter = PassCount(engine)
        return lambda: counter.passes
    return lambda: getattr(engine, "vocab_passes", None)


def measure(rows: int, steps: int, device: torch.device, warmup: int = 5) -> dict:
    """Mean and median time of `steps` decode steps at `rows` rows, the stand-in's forward taken out
    (and that forward's own mean), vocab-wide kernels and all aten operations per step."""
    torch.manual_seed(0)
    model = StandInModel().to(device)
    engine = Engine(model, EOS, rows, device)
    prompt = list(range(1, 21))
    for row in range(rows):
        config = CLASS_MIX[row % len(CLASS_MIX)]
        engine.submit(GenerationRequest(row, prompt, DecodingConfig(**{**config.to_dict(),
                      "max_new_tokens": warmup + steps + 5}).effective(), seed=row))
    for _ in range(warmup):
        engine.step()
    times, forward = [], []
    for _ in range(steps):
        seconds, forward_seconds, _ = timed_step(engine, model, device)
        times.append(seconds * 1000)
        forward.append(forward_seconds * 1000)
    counter, engine_passes = VocabPasses(rows, VOCAB), count_passes(engine)  # after the timed steps
    with counter:
        engine.step()
    with VocabPasses(rows, VOCAB) as forward_only:  # the stand-in's own lookup, not the engine's
        model(input_ids=torch.zeros(rows, 1, dtype=torch.long, device=device),
              past_key_values=SimpleNamespace(update=lambda *a: a))
    return {"rows": rows, "ms_per_step": round(statistics.mean(times), 3),
            "median_ms": round(statistics.median(times), 3), "forward_ms": round(statistics.mean(forward), 3),
            "vocab_passes": counter.count - forward_only.count, "ops": counter.ops - forward_only.ops,
            "kernels": counter.kernels - forward_only.kernels,
            "engine_passes": engine_passes()}


def baseline(rev: str, args) -> list[dict] | str:
    """The same measurement on the engine of git revision `rev`, in its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "worker", "shared"], capture_output=True)
        if archive.returncode:
            return f"not available ({archive.stderr.decode().strip()[:120]})"
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        return in_own_process(tmp, args)


def in_own_process(code: str, args) -> list[dict] | str:
    """The measurement (`--json`) in a fresh process whose `worker` and `shared` come from `code`: both
    engines are measured the same way, neither in a process the other's runs have warmed or fragmented."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [code, os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, str(Path(__file__)), "--json", "--steps", str(args.steps),
               "--device", args.device, "--rows", *map(str, args.rows), *(["--device-path"] if args.device_path else [])]
    done = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True)
    if done.returncode:
        return f"failed ({done.stderr.strip().splitlines()[-1][:160]})"
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="make bench-host ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--steps", type=int, default=40, help="decode steps timed per batch size")
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision to compare with ('' = none)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda: the host's time with a GPU behind it")
    parser.add_argument("--device-path", action="store_true",
                        help="run the torch code a GPU runs where a CPU would use NumPy (worker.candidates."
                             "NUMPY_ON_CPU off): a GPU step's operations, counted on a CPU")
    parser.add_argument("--json", action="store_true", help="print only the figures, as JSON")
    parser.add_argument("--rounds", type=int, default=5,
                        help="measure both engines this many times, taking turns; each figure is the median")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one core: the figure must not depend on how many this machine has free
    if args.device_path:  # imported here: the baselines' engines (1c8a71f, c43cd49) have no worker.candidates
        import worker.candidates as candidates

        if not hasattr(candidates, "NUMPY_ON_CPU"):  # an engine from before the switch: say so
            raise SystemExit("--device-path: this engine has no NumPy switch (worker.candidates.NUMPY_ON_CPU)")
        candidates.NUMPY_ON_CPU = False
    if args.json:
        print(json.dumps(_all_figures(args)))
        return 0
    rounds_now, rounds_before = [], []
    for _ in range(args.rounds):  # taking turns, so a busy spell on a shared machine hits both
        rounds_now.append(in_own_process(str(ROOT), args))
        if isinstance(rounds_now[-1], str):
            raise SystemExit(f"bench-host: this engine's measurement {rounds_now[-1]}")
        rounds_before.append(baseline(args.baseline, args) if args.baseline else "not asked for")
    current = _median_of(rounds_now)
    before = _median_of(rounds_before) if all(isinstance(r, list) for r in rounds_before) else rounds_before[-1]
    churn_now, churn_before = current.pop(), before.pop() if isinstance(before, list) else None
    print(f"engine time per decode step on {args.device} (stand-in model, vocabulary {VOCAB}, class mix of "
          f"configs, torch {torch.__version__}, 1 thread; median of {args.rounds} rounds, engines taking turns)")
    if args.device_path:
        print("NumPy paths off: the torch code a GPU runs (key sort, Gumbel hash, argmax), on this CPU")
    print("ms/step: the step's time less the stand-in's forward (its own cost, shown apart); ops/kernels: aten "
          "operations per step outside that forward (host work on any device), and those of them that are "
          "not views (a kernel launch each on a GPU); vocab passes: aten kernels over [rows, vocab] / the "
          "engine's own count")
    head = f"{'ms/step':>8} {'median':>7} {'ops/kern':>9} {'vocab passes':>13}"
    print(f"{'rows':>6} {head} {'forward':>8}   before ({args.baseline or '-'}): {head}")
    for index, now in enumerate(current):
        old = before[index] if isinstance(before, list) else None
        tail = _figures(old) if old else str(before)
        print(f"{now['rows']:>6} {_figures(now)} {now['forward_ms']:>8.2f}   {'':>{len(args.baseline) + 10}}{tail}")
    print(f"rows joining and leaving all the time ({churn_now['rows']} rows, {CHURN_STEPS} steps, a KV cache as "
          f"wide as distilgpt2's, 2 layers, float16): engine ms/step {churn_now['ms_per_step']:.2f} "
          f"({churn_now['steps_with_rows_leaving']} steps with rows leaving); before: "
          + (f"{churn_before['ms_per_step']:.2f}" if churn_before else str(before)))
    last = current[-1]
    print(f"host_ms_per_step_{last['rows']}: {last['ms_per_step']}")
    return 0


CHURN_ROWS, CHURN_STEPS = 128, 120


def _all_figures(args) -> list[dict]:
    """One round: a steady batch at each size, then the churn run (last)."""
    device = torch.device(args.device)
    return [measure(rows, args.steps, device) for rows in args.rows] + [measure_churn(CHURN_ROWS, CHURN_STEPS, device)]


def _figures(figures: dict) -> str:
    ops = "/".join(str(figures[name]) for name in ("ops", "kernels") if name in figures) or "-"
    return f"{figures['ms_per_step']:>8.2f} {figures['median_ms']:>7.2f} {ops:>9} {_passes(figures):>13}"


def _median_of(rounds: list[list[dict]]) -> list[dict]:
    """Per batch size, each timing's median over the rounds (counts are the same every round)."""
    merged = []
    for figures in zip(*rounds):
        row = dict(figures[-1])
        for name in ("ms_per_step", "median_ms", "forward_ms"):
            if name in row:
                row[name] = round(statistics.median(f[name] for f in figures), 3)
        merged.append(row)
    return merged


def _passes(figures: dict) -> str:
    own = figures.get("engine_passes")
    return f"{figures['vocab_passes']} / {'-' if own is None else own}"


if __name__ == "__main__":
    sys.exit(main())
