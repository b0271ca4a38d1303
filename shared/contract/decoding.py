"""Decoding configurations: what a student asks for, and what transformers really runs.

`DecodingConfig` mirrors the keyword arguments of `model.generate` that the class uses. Its
`effective()` form applies transformers' defaults (top_k=50 when sampling and none is given), so the
gallery groups and labels outputs by what actually ran.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from shared.contract.problems import Problem

GREEDY = "greedy"      # do_sample=False: argmax after the repetition penalty
SAMPLING = "sampling"  # do_sample=True: temperature -> top-k -> top-p -> sample
STRATEGIES = (GREEDY, SAMPLING)

TRANSFORMERS_DEFAULT_TOP_K = 50   # transformers applies top_k=50 when sampling and top_k is unset
NOTEBOOK_REPETITION_PENALTY = 1.1  # the notebook's helper passes this to every call
CONTEXT_WINDOW = 1024             # distilgpt2's n_positions: prompt + new tokens must fit
VOCAB_SIZE = 50257                # GPT-2's vocabulary

# Bounds a student can set; wider values teach nothing and can stall a class.
TEMPERATURE_RANGE = (0.01, 5.0)       # 1.0 = no change, < 1 sharper, > 1 flatter
TOP_K_RANGE = (0, VOCAB_SIZE)         # 0 = no top-k cut
TOP_P_RANGE = (0.01, 1.0)             # 1.0 = no nucleus cut
REPETITION_PENALTY_RANGE = (0.5, 3.0)  # 1.0 = no penalty, > 1 discourages repeats
MAX_NEW_TOKENS_RANGE = (1, 1000)
SEED_RANGE = (0, 2**32 - 1)


@dataclass(frozen=True)
class DecodingConfig:
    strategy: str = SAMPLING
    temperature: float = 1.0
    top_k: int | None = None  # None = transformers' default (50 when sampling)
    top_p: float = 1.0
    repetition_penalty: float = NOTEBOOK_REPETITION_PENALTY
    max_new_tokens: int = 80

    @property
    def do_sample(self) -> bool:
        return self.strategy == SAMPLING

    def effective(self) -> DecodingConfig:
        """The configuration transformers actually runs; warpers are ignored by greedy search."""
        if self.strategy == GREEDY:
            return replace(self, temperature=1.0, top_k=0, top_p=1.0)
        top_k = TRANSFORMERS_DEFAULT_TOP_K if self.top_k is None else self.top_k
        return replace(self, top_k=top_k)

    def group_key(self) -> str:
        """Stable text key of the effective config, used to group the gallery (max_new_tokens too)."""
        e = self.effective()
        if e.strategy == GREEDY:
            return f"greedy|rep={e.repetition_penalty:g}|max={e.max_new_tokens}"
        return (f"sampling|T={e.temperature:g}|top_p={e.top_p:g}|top_k={e.top_k}"
                f"|rep={e.repetition_penalty:g}|max={e.max_new_tokens}")

    def label(self) -> str:
        """Readable label, e.g. 'sampling · T 0.3 · top-p 0.9 · top-k 50 · rep 1.1'."""
        e = self.effective()
        if e.strategy == GREEDY:
            parts = ["greedy", f"rep {e.repetition_penalty:g}"]
        else:
            parts = ["sampling", f"T {e.temperature:g}"]
            if e.top_p < 1.0:
                parts.append(f"top-p {e.top_p:g}")
            parts.append(f"top-k {e.top_k}" if e.top_k else "no top-k")
            parts.append(f"rep {e.repetition_penalty:g}")
        parts.append(f"{e.max_new_tokens} tok")
        return " · ".join(parts)

    def generate_kwargs(self) -> dict[str, Any]:
        """The `model.generate` keyword arguments that reproduce this config (notebook style)."""
        e = self.effective()
        kwargs: dict[str, Any] = {"do_sample": e.do_sample, "max_new_tokens": e.max_new_tokens,
                  "repetition_penalty": e.repetition_penalty}
        if e.do_sample:
            kwargs.update(temperature=e.temperature, top_k=e.top_k, top_p=e.top_p)
        return kwargs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], row: int | None = None) -> DecodingConfig:
        """Build and validate a config from untrusted data; raises `Problem.Invalid` listing every fault.
        `row`: its row in the student's table (from 1), named in the messages when given."""
        problems: list[Problem] = []
        strategy = data.get("strategy", SAMPLING)
        if strategy not in STRATEGIES:
            problems.append(Problem("bad_strategy", value=str(strategy)[:40]))
        temperature = _number(data.get("temperature", 1.0), "temperature", TEMPERATURE_RANGE, problems)
        top_p = _number(data.get("top_p", 1.0), "top_p", TOP_P_RANGE, problems)
        rep = _number(data.get("repetition_penalty", NOTEBOOK_REPETITION_PENALTY), "repetition_penalty",
                      REPETITION_PENALTY_RANGE, problems)
        raw_top_k = data.get("top_k")
        top_k = None if raw_top_k is None else _integer(raw_top_k, "top_k", TOP_K_RANGE, problems)
        max_new = _integer(data.get("max_new_tokens", 80), "max_new_tokens", MAX_NEW_TOKENS_RANGE, problems)
        if problems:
            raise Problem.Invalid([_in_row(p, row) for p in problems])
        return cls(strategy=strategy, temperature=temperature, top_k=top_k, top_p=top_p,
                   repetition_penalty=rep, max_new_tokens=max_new)


def _in_row(problem: Problem, row: int | None) -> Problem:
    """The problem, naming the table row it comes from (`Problem.message` puts "Row n: " before it)."""
    return problem if row is None else Problem(problem.code, **problem.params, row=row)


def _number(value: Any, name: str, bounds: tuple[float, float], problems: list[Problem]) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(Problem("not_a_number", field=name))
        return math.nan
    if isinstance(value, bool) or not math.isfinite(number) or not bounds[0] <= number <= bounds[1]:
        problems.append(Problem("out_of_range", field=name, low=bounds[0], high=bounds[1]))
    return number


def _integer(value: Any, name: str, bounds: tuple[int, int], problems: list[Problem]) -> int:
    number = _number(value, name, bounds, problems)
    if not math.isfinite(number) or number != int(number):
        if not any(p.params.get("field") == name for p in problems):
            problems.append(Problem("not_an_integer", field=name))
        return 0
    return int(number)


def validate_seed(value: Any) -> int:
    problems: list[Problem] = []
    seed = _integer(value, "seed", SEED_RANGE, problems)
    if problems:
        raise Problem.Invalid(problems)
    return seed


# The notebook's three presets (cell 1.1), all with its helper's repetition_penalty=1.1.
NOTEBOOK_PROMPT = "In a distant future, humans and AI"
PRESETS: dict[str, DecodingConfig] = {
    "greedy": DecodingConfig(strategy=GREEDY, max_new_tokens=80),
    "sampling_t1_k50": DecodingConfig(strategy=SAMPLING, temperature=1.0, top_k=50, max_new_tokens=80),
    "sampling_t03_p09": DecodingConfig(strategy=SAMPLING, temperature=0.3, top_p=0.9, max_new_tokens=80),
}


def config_summary(effective_config: Mapping[str, Any], lang: str) -> str:
    """An effective config as a class reads it, e.g. 'sampling · T 0.3 · top-p 0.9 · top-k 50 · rep 1.1 ·
    80 tok'. Only what ran: greedy ignores temperature, top-k and top-p, so they are not named; top-p 1
    (no cut) is left out."""
    from shared.contract.i18n import t

    config = effective_config or {}
    strategy = config.get("strategy", SAMPLING)
    parts = [t(f"config.{strategy}", lang)]
    if strategy == SAMPLING:
        parts.append(f"T {config.get('temperature', 1.0):g}")
        if config.get("top_p", 1.0) < 1.0:
            parts.append(f"top-p {config['top_p']:g}")
        top_k = config.get("top_k")
        parts.append(f"top-k {top_k}" if top_k else t("config.no_top_k", lang))
    parts.append(f"rep {config.get('repetition_penalty', NOTEBOOK_REPETITION_PENALTY):g}")
    parts.append(t("config.tokens", lang, count=config.get("max_new_tokens", 80)))
    return " · ".join(parts)
