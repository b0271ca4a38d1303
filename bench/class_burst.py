"""`make bench`: the standard class burst, four ways, side by side in one run.

Every student submits the notebook's decoding comparison (3 presets) and its ablation (4 variants,
T 0.7, top-p 0.9). Measured on this machine, same model, same process start:

1. notebook way: one `model.generate` per generation, one after another (on the first
   `--notebook-students` students: its rate is what is compared; the class total is extrapolated);
2. grouped: transformers `generate` on the class's generations grouped by identical config and
   padded (left) into batches of the size the engine uses: the best a notebook user could do;
3. engine: all generations of the class through `worker.engine.Engine` in this process;
4. end to end: submissions enqueued with the dashboard's own code (`shared.services.submit.submit`), one
   `python -m worker` process, until the last result is stored; also p50/p95 submit-to-result.

Prints a table, writes the figures to JSON and ends with `speedup_vs_notebook: <ratio>x`
(end-to-end tokens/s over the notebook way's). Defaults fit a few minutes on 2 CPU cores; the
ablation outputs are shorter than the notebook's 500 tokens unless `--ablation-tokens 500`.
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

import redis
import torch

from devtools.embedded_redis import EmbeddedRedis
from shared.contract.decoding import NOTEBOOK_PROMPT, PRESETS, DecodingConfig
from shared.contract.settings import Settings
from shared.services.classes import open_class
from shared.services.store import Store
from shared.services.submit import submit
from shared.services.validation import build_request
from shared.services.workers import served_models
from shared.teaching.ablation import NOTEBOOK_ABLATION_CONFIG, notebook_variants
from worker.engine import Engine, GenerationRequest, batch_size_for
from worker.model import load_model

ROOT = Path(__file__).resolve().parent.parent
CLASS = "bench"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="make bench ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=16, help="class size (a real class burst is 300; 16 fits a few minutes here)")
    parser.add_argument("--decoding-tokens", type=int, default=80, help="max_new_tokens of the 3 presets")
    parser.add_argument("--ablation-tokens", type=int, default=200, help="max_new_tokens of the 4 variants (notebook: 500)")
    parser.add_argument("--model", default="random-distilgpt2")
    parser.add_argument("--max-batch", type=int, default=0, help="rows per batch; 0 = automatic")
    parser.add_argument("--notebook-students", type=int, default=1, help="students run the notebook way")
    parser.add_argument("--skip", choices=["notebook", "grouped", "engine", "e2e"], action="append", default=[])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "class_burst.json"))
    return parser.parse_args(argv)


def class_submissions(args) -> list[dict]:
    """Per student: the decoding comparison and the ablation, as the dashboard would send them."""
    decoding = [{**p.to_dict(), "max_new_tokens": args.decoding_tokens} for p in PRESETS.values()]
    ablation = [{**NOTEBOOK_ABLATION_CONFIG, "max_new_tokens": args.ablation_tokens}]
    work = []
    for student in range(args.students):
        work.append({"student": f"s{student:03d}", "lab": "decoding", "prompt": NOTEBOOK_PROMPT,
                     "configs": decoding, "seed": student, "variants": None})
        work.append({"student": f"s{student:03d}", "lab": "ablation", "prompt": "", "configs": ablation,
                     "seed": student, "variants": notebook_variants()})
    return work


def generations(work: list[dict]) -> list[tuple[str, DecodingConfig, int]]:
    """(prompt, effective config, seed) of every generation in `work`."""
    out = []
    for sub in work:
        prompts = list((sub["variants"] or {"": sub["prompt"]}).values())
        for prompt in prompts:
            for config in sub["configs"]:
                out.append((prompt, DecodingConfig.from_dict(config).effective(), sub["seed"]))
    return out


def notebook_way(loaded, gens) -> dict:
    """The notebook's `generate_text`: one `model.generate` per generation."""
    tokenizer, tokens = loaded.tokenizer, 0
    start, cpu = time.perf_counter(), time.process_time()
    for prompt, config, seed in gens:
        inputs = tokenizer(prompt, return_tensors="pt").to(loaded.device)
        torch.manual_seed(seed)
        with torch.no_grad():
            out = loaded.model.generate(**inputs, pad_token_id=tokenizer.eos_token_id, **config.generate_kwargs())
        tokens += out.shape[1] - inputs.input_ids.shape[1]
    return figures("notebook way", tokens, len(gens), time.perf_counter() - start, time.process_time() - cpu)


def grouped_way(loaded, gens, max_batch: int) -> dict:
    """transformers `generate`, one call per batch of generations sharing a config (left padded).
    A batch shares one seed (`generate` cannot seed rows apart); rows stop counting at their EOS."""
    tokenizer, tokens = loaded.tokenizer, 0
    groups: dict = {}
    for prompt, config, seed in gens:
        groups.setdefault(config, []).append((prompt, seed))
    start, cpu = time.perf_counter(), time.process_time()
    for config, members in groups.items():
        for first in range(0, len(members), max_batch):
            batch = members[first:first + max_batch]
            inputs = tokenizer([p for p, _ in batch], return_tensors="pt", padding=True, padding_side="left")
            torch.manual_seed(batch[0][1])
            with torch.no_grad():
                out = loaded.model.generate(**inputs.to(loaded.device), pad_token_id=tokenizer.eos_token_id,
                                            **config.generate_kwargs())
            tokens += new_tokens(out[:, inputs.input_ids.shape[1]:], tokenizer.eos_token_id)
    if loaded.device.type == "cuda":
        torch.cuda.synchronize()
    return figures("grouped generate", tokens, len(gens), time.perf_counter() - start, time.process_time() - cpu)


def new_tokens(continuations: torch.Tensor, eos: int) -> int:
    """Tokens before each row's first EOS ([rows, new] ids; after EOS `generate` pads with EOS)."""
    is_eos = continuations == eos
    first_eos = torch.where(is_eos.any(-1), is_eos.int().argmax(-1), continuations.shape[1])
    return int(first_eos.sum())


def engine_way(loaded, gens, max_batch: int) -> dict:
    engine = Engine(loaded.model, loaded.eos_token_id, max_batch, loaded.device)
    requests = [GenerationRequest(i, loaded.tokenizer(p).input_ids, c, s) for i, (p, c, s) in enumerate(gens)]
    start, cpu = time.perf_counter(), time.process_time()
    results = engine.run(requests)
    if loaded.device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return figures("engine (in process)", sum(len(r.token_ids) for r in results), len(gens), elapsed,
                   time.process_time() - cpu)


def end_to_end(args, work, max_batch: int) -> dict:
    """Real Redis, real worker process, submissions through the dashboard's code path."""
    with tempfile.TemporaryDirectory() as tmp:
        server = None if os.environ.get("REDIS_URL") else EmbeddedRedis(Path(tmp) / "redis").start()
        url = os.environ.get("REDIS_URL") or server.url
        settings = Settings(redis_url=url, model=args.model, key_prefix=f"bench{os.getpid()}", max_batch=max_batch,
                            max_configs=8)
        store = Store(redis.Redis.from_url(url), settings.key_prefix)
        open_class(store, CLASS)
        env = {**os.environ, "REDIS_URL": url, "DECODELAB_MODEL": args.model, "DECODELAB_PREFIX": settings.key_prefix,
               "DECODELAB_MAX_BATCH": str(max_batch),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        log = open(Path(tmp) / "worker.log", "wb")
        worker = subprocess.Popen([sys.executable, "-m", "worker"], cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            wait_until(lambda: served_models(store).get(args.model), 300, worker, "the worker to load its model",
                       Path(tmp) / "worker.log")
            start = time.time()
            ids = [submit_one(store, settings, sub) for sub in work]
            # One pipelined read of every status, 5 times a second: the bench's own polling must not take
            # the CPU the worker is measured on (one HGETALL per submission every 50 ms did).
            wait_until(lambda: all(s in ("done", "failed") for s in store.statuses(ids)), 3600, worker,
                       "the last result", Path(tmp) / "worker.log", interval=0.2)
            records = [store.submission(i) for i in ids]
            outputs = [o for i in ids for o in store.submission_outputs(i)]
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            store.redis.flushdb() if server else None
            if server:
                server.stop()
    finished = max(float(r.finished_at) for r in records)
    latencies = sorted(float(r.finished_at) - float(r.created_at) for r in records)
    result = figures("end to end (RQ + worker)", sum(o.new_tokens for o in outputs), len(outputs), finished - start)
    result.update(failed=sum(r.status == "failed" for r in records), submissions=len(records),
                  latency_p50_s=round(percentile(latencies, 50), 2), latency_p95_s=round(percentile(latencies, 95), 2))
    return result


def submit_one(store, settings, sub) -> str:
    request = build_request(settings, class_code=CLASS, student=sub["student"], prompt=sub["prompt"],
                            configs=sub["configs"], seed=sub["seed"], model=settings.model, lab=sub["lab"],
                            variants=sub["variants"])
    submit(store, settings, request)
    return request.id


def wait_until(condition, timeout, worker, what, log: Path, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while not condition():
        if worker.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"bench: the worker exited ({worker.returncode}) while waiting for {what}:\n{tail}")
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(interval)


def percentile(values, q):
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def figures(name, tokens, gens, seconds, cpu_seconds=None) -> dict:
    """Wall-clock rates; with `cpu_seconds` (this process's CPU time, all threads) also tokens per
    CPU-second, which other work on a shared machine disturbs far less than the wall clock."""
    row = {"name": name, "tokens": int(tokens), "generations": gens, "seconds": round(seconds, 3),
           "tokens_per_s": round(tokens / seconds, 1), "generations_per_s": round(gens / seconds, 3)}
    if cpu_seconds:
        row["tokens_per_cpu_s"] = round(tokens / cpu_seconds, 1)
    return row


def main(argv=None) -> int:
    args = parse_args(argv)
    loaded = load_model(args.model)
    max_batch = batch_size_for(loaded, args.max_batch)
    work = class_submissions(args)
    gens = generations(work)
    per_student = len(gens) // args.students
    print(f"class burst: {args.students} students x {per_student} generations "
          f"(3 x {args.decoding_tokens} + 4 x {args.ablation_tokens} new tokens), model {args.model} "
          f"on {loaded.device} ({str(loaded.dtype).replace('torch.', '')}), batch {max_batch}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    rows = []
    if "notebook" not in args.skip:
        rows.append(notebook_way(loaded, gens[: per_student * args.notebook_students]))
        rows[-1]["extrapolated_class_seconds"] = round(len(gens) / rows[-1]["generations_per_s"], 1)
        print_row(rows[-1], None)
    if "grouped" not in args.skip:
        rows.append(grouped_way(loaded, gens, max_batch))
        print_row(rows[-1], rows[0] if rows[0]["name"] == "notebook way" else None)
    if "engine" not in args.skip:
        rows.append(engine_way(loaded, gens, max_batch))
        print_row(rows[-1], rows[0] if rows[0]["name"] == "notebook way" else None)
    if "e2e" not in args.skip:
        del loaded  # the worker process loads its own copy
        rows.append(end_to_end(args, work, max_batch))
        print_row(rows[-1], rows[0] if rows[0]["name"] == "notebook way" else None)
    baseline = rows[0] if rows[0]["name"] == "notebook way" else None
    for row in rows:
        row["ratio_vs_notebook"] = round(row["tokens_per_s"] / baseline["tokens_per_s"], 2) if baseline else None
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "batch": max_batch, "torch": torch.__version__,
                                          "rows": rows, "when": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=2))
    print(f"figures written to {args.out}")
    named = {row["name"]: row for row in rows}
    if "grouped generate" in named and "engine (in process)" in named:
        print(f"engine_vs_grouped: {named['engine (in process)']['tokens_per_s'] / named['grouped generate']['tokens_per_s']:.2f}x")
    if baseline and rows[-1]["name"].startswith("end to end"):
        print(f"speedup_vs_notebook: {rows[-1]['ratio_vs_notebook']}x")
    return 0


def print_row(row, baseline):
    ratio = f"{row['tokens_per_s'] / baseline['tokens_per_s']:6.2f}x" if baseline else "   1.00x"
    extra = ""
    if "latency_p50_s" in row:
        extra = f"  p50 {row['latency_p50_s']} s  p95 {row['latency_p95_s']} s  failed {row['failed']}"
    if "tokens_per_cpu_s" in row:
        cpu_ratio = (f" ({row['tokens_per_cpu_s'] / baseline['tokens_per_cpu_s']:.2f}x)"
                     if baseline and "tokens_per_cpu_s" in baseline else "")
        extra += f"  {row['tokens_per_cpu_s']:.1f} tok per CPU-s{cpu_ratio}"
    if "extrapolated_class_seconds" in row:
        extra += f"  (whole class this way: ~{row['extrapolated_class_seconds']} s, extrapolated)"
    print(f"{row['name']:<26} {row['tokens']:>8} tok {row['generations']:>6} gen {row['seconds']:>9.2f} s "
          f"{row['tokens_per_s']:>10.1f} tok/s {row['generations_per_s']:>8.3f} gen/s {ratio}{extra}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
