"""`make bench-metrics`: what the worker's Prometheus metrics cost its step loop.

The loop pays for one call per engine step, `WorkerMetrics.step` (a counter increment and three
histogram observations; everything else is read when Prometheus scrapes, in another thread), and the
engine reads the clock three times a step for the phase split (`make bench-host ARGS="--baseline
<commit before it>"` compares that engine with the one before). Here: the call's own cost, and the
engine's step at 64 / 256 / 1,024 rows of the stand-in model (bench/host.py) with and without the
call, taking turns, medians. Last line: `metrics_us_per_step: <µs>`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from types import SimpleNamespace

import torch

from bench.host import CLASS_MIX, EOS, StandInModel
from shared.contract.decoding import DecodingConfig
from shared.contract.settings import Settings
from worker.engine import Engine, GenerationRequest
from worker.metrics import WorkerMetrics


def metrics_for(engine: Engine) -> WorkerMetrics:
    """The worker's metrics over `engine`, as a BatchWorker builds them (no Redis is contacted)."""
    worker = SimpleNamespace(loaded=SimpleNamespace(name="stand-in"), settings=Settings(), queues=[], engine=engine,
                             inflight={}, checks=[])
    return WorkerMetrics(worker)


def full_engine(rows: int, steps: int) -> Engine:
    engine = Engine(StandInModel(), EOS, rows, torch.device("cpu"))
    for row in range(rows):
        config = DecodingConfig(**{**CLASS_MIX[row % len(CLASS_MIX)].to_dict(), "max_new_tokens": steps + 10})
        engine.submit(GenerationRequest(row, list(range(1, 21)), config.effective(), seed=row))
    for _ in range(3):
        engine.step()
    return engine


def step_ms(rows: int, steps: int, turns: int) -> tuple[float, float]:
    """Median ms per step without and with the metrics call, in alternating runs of `steps` steps."""
    without, with_metrics = [], []
    for _ in range(turns):
        for timed, observe in ((without, False), (with_metrics, True)):
            engine = full_engine(rows, steps)
            metrics = metrics_for(engine)
            for _ in range(steps):
                start = time.perf_counter()
                engine.step()
                if observe:
                    metrics.step(engine)
                timed.append((time.perf_counter() - start) * 1000)
    return statistics.median(without), statistics.median(with_metrics)


def call_us(calls: int = 20000) -> float:
    """The per-step call alone, in µs (median of 5 runs of `calls` calls)."""
    engine = full_engine(8, 10)
    engine.step()
    metrics = metrics_for(engine)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            engine.generated_tokens += 8
            metrics.step(engine)
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="make bench-metrics ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    us = call_us()
    print(f"metrics per engine step (counter + 3 histograms, torch {torch.__version__}, 1 thread): {us:.2f} µs")
    print(f"{'rows':>6} {'ms/step without':>16} {'with':>8} {'difference':>11}")
    for rows in args.rows:
        without, with_metrics = step_ms(rows, args.steps, args.turns)
        print(f"{rows:>6} {without:>16.3f} {with_metrics:>8.3f} {with_metrics - without:>+10.3f} "
              f"({us / 1000 / without * 100:.3f} % of the step by the call's own cost)")
    print(f"metrics_us_per_step: {us:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
