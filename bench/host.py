"""`make bench-host`: the engine's own per-step host time, with the model taken out of the picture.

A stand-in model of the real interface (the calls `Engine` makes on GPT-2: prefill with a mask and
position ids, decode one token per row, a KV cache it updates) whose forward costs almost nothing and
whose vocabulary is small (256): what remains of a step is the engine's own bookkeeping and token
choice. The class mix of configs (the notebook's greedy and two sampling presets, the ablation's
T 0.7 / top-p 0.9, all with repetition penalty 1.1) at 64 / 256 / 1,024 rows.

Also counts the vocabulary-wide operations of one step: aten ops that read or write a [rows, vocab]
tensor (the stand-in's own forward not counted), and the engine's own count. Runs the same
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
    token (never EOS, so rows run to their length), the cache holds one number per token."""

    def __init__(self, vocab: int = VOCAB):
        super().__init__()
        self.config = GPT2Config(n_layer=1, n_head=1, n_embd=1, vocab_size=vocab, bos_token_id=EOS, eos_token_id=EOS)
        table = torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(0)) * 3
        table[:, EOS] = -1e4
        self.register_buffer("table", table)  # [vocab, vocab] next-token logits by input token

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=True,
                logits_to_keep=0):
        rows, length = input_ids.shape
        state = self.table.new_zeros(rows, 1, length, 1)  # [rows, heads, length, head_dim]
        past_key_values.update(state, state, 0)
        last = input_ids[:, -1:] if logits_to_keep == 1 else input_ids
        return SimpleNamespace(logits=self.table[last], past_key_values=past_key_values)  # [rows, t, vocab]


class VocabPasses(TorchDispatchMode):
    """Counts aten kernels that sweep a [rows, vocab] tensor: views are free, and `gather` / in-place
    `scatter_` touch only the indexed entries (the penalty's history, the chosen tokens)."""

    SPARSE = {"aten.gather.default", "aten.scatter_.src"}

    def __init__(self, rows: int, vocab: int):
        super().__init__()
        self.size, self.count = rows * vocab, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not func.is_view and str(func) not in self.SPARSE:
            tensors = [t for t in torch.utils._pytree.tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor)]
            self.count += any(t.numel() >= self.size and t.shape[-1] == VOCAB for t in tensors)
        return out


def measure(rows: int, steps: int, device: torch.device, warmup: int = 5) -> dict:
    """Mean and median time of `steps` decode steps at `rows` rows, and vocab-wide ops per step."""
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
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        engine.step()
        times.append((time.perf_counter() - start) * 1000)
    counter = VocabPasses(rows, VOCAB)
    with counter:
        engine.step()
    with VocabPasses(rows, VOCAB) as forward_only:  # the stand-in's own lookup, not the engine's
        model(input_ids=torch.zeros(rows, 1, dtype=torch.long, device=device),
              past_key_values=SimpleNamespace(update=lambda *a: a))
    return {"rows": rows, "ms_per_step": round(statistics.mean(times), 3),
            "median_ms": round(statistics.median(times), 3), "vocab_passes": counter.count - forward_only.count,
            "engine_passes": getattr(engine, "vocab_passes", None)}


def baseline(rev: str, args) -> list[dict] | str:
    """The same measurement on the engine of git revision `rev`, in its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "worker", "shared"], capture_output=True)
        if archive.returncode:
            return f"not available ({archive.stderr.decode().strip()[:120]})"
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        env = {**os.environ, "PYTHONPATH": tmp}
        command = [sys.executable, str(Path(__file__)), "--json", "--steps", str(args.steps),
                   "--device", args.device, "--rows", *map(str, args.rows)]
        done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True)
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
    parser.add_argument("--json", action="store_true", help="print only the figures, as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one core: the figure must not depend on how many this machine has free
    current = [measure(rows, args.steps, torch.device(args.device)) for rows in args.rows]
    if args.json:
        print(json.dumps(current))
        return 0
    before = baseline(args.baseline, args) if args.baseline else "not asked for"
    print(f"engine time per decode step on {args.device} (stand-in model, vocabulary {VOCAB}, class mix of "
          f"configs, torch {torch.__version__}, 1 thread)")
    print("vocab passes: aten kernels over [rows, vocab] / the engine's own count")
    print(f"{'rows':>6} {'ms/step':>9} {'median':>8} {'vocab passes':>13}   before ({args.baseline}): "
          f"{'ms/step':>8} {'median':>8} {'vocab passes':>13}")
    for index, now in enumerate(current):
        old = before[index] if isinstance(before, list) else None
        tail = (f"{old['ms_per_step']:>8.2f} {old['median_ms']:>8.2f} {_passes(old):>13}" if old else str(before))
        print(f"{now['rows']:>6} {now['ms_per_step']:>9.2f} {now['median_ms']:>8.2f} {_passes(now):>13}   "
              f"{'':>{len(args.baseline) + 10}}{tail}")
    last = current[-1]
    print(f"host_ms_per_step_{last['rows']}: {last['ms_per_step']}")
    return 0


def _passes(figures: dict) -> str:
    own = figures.get("engine_passes")
    return f"{figures['vocab_passes']} / {'-' if own is None else own}"


if __name__ == "__main__":
    sys.exit(main())
