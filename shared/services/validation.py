"""What a student sent, checked and cleaned into a `Request`; and the worker's second check of it.

The dashboard builds a request here before submitting it (`shared/services/submit.py`); the worker calls
`validate_request` again on what it dequeues (it never trusts the queue). Each function raises
`Problem.Invalid` with every problem it found, so the page can list them all at once.
"""

from __future__ import annotations

import time
import unicodedata
import uuid

from shared.contract.decoding import CONTEXT_WINDOW, DecodingConfig, validate_seed
from shared.contract.problems import Problem
from shared.contract.records import EXPLORE, LABS, Item, Request
from shared.contract.settings import Settings
from shared.contract.tokens import count_gpt2_tokens
from shared.services.classes import BIDI_CONTROLS
from shared.teaching.checks import check_shape_problem

MAX_GENERATIONS = 64  # generations in one submission (variants x samples, or configs)
ALLOWED_CONTROL = {"\n", "\t"}


def clean_prompt(prompt, max_chars: int) -> str:
    """The prompt as the model will see it; raises with every problem found."""
    if not isinstance(prompt, str):
        raise Problem.Invalid([Problem("not_text")])
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8, decoded with errors kept
        raise Problem.Invalid([Problem("not_text")]) from None
    text = prompt.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise Problem.Invalid([Problem("empty_prompt")])
    if len(text) > max_chars:
        raise Problem.Invalid([Problem("prompt_too_long_chars", chars=len(text), limit=max_chars)])
    if any(unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROL for ch in text):
        raise Problem.Invalid([Problem("control_characters")])
    if any(ch in BIDI_CONTROLS for ch in text):  # they reorder how text is shown to others: a disguise
        raise Problem.Invalid([Problem("bidi_characters")])
    return text


def check_context(prompt_tokens: int, configs: list[DecodingConfig], context: int = CONTEXT_WINDOW) -> None:
    longest = max(c.max_new_tokens for c in configs)
    if prompt_tokens + longest > context:
        raise Problem.Invalid([Problem("prompt_too_long_tokens", prompt_tokens=prompt_tokens,
                                       max_new_tokens=longest, context=context)])


def build_request(settings: Settings, *, class_code: str, student: str, prompt: str, configs: list[dict],
                  seed, model: str, lab: str = "decoding", variants: dict[str, str] | None = None,
                  checks: list[dict] | None = None, topic: str = "", request_id: str | None = None,
                  student_id: str | None = None) -> Request:
    """Validate everything a student sent and return the request record; raises `Problem.Invalid`.

    One generation per (variant, config): the decoding lab sends one prompt and several configs; the
    ablation lab sends named prompt variants (`variants`, name -> text) with one config.
    `request_id`: the id of this press of Run, reused when the page retries it (see `submit` in services/submit.py).
    `student`: the label others see; `student_id`: who it is (limits, results), the label if not given.
    """
    variants = variants if variants is not None else {"": prompt}
    problems: list[Problem] = []
    if lab not in LABS:
        problems.append(Problem("bad_lab"))
    if not configs:
        problems.append(Problem("no_configs"))
    elif len(configs) > settings.max_configs:
        problems.append(Problem("too_many_configs", limit=settings.max_configs))
    parsed: list[DecodingConfig] = []
    seeds: list[int] = []
    for row, raw in enumerate(configs[: settings.max_configs], start=1):
        try:
            named_row = row if lab == "decoding" and len(configs) > 1 else None  # the ablation's rows are seeds
            parsed.append(DecodingConfig.from_dict(raw, row=named_row))
            seeds.append(validate_seed(raw["seed"] if raw.get("seed") is not None else seed))
        except Problem.Invalid as invalid:
            problems += [p for p in invalid.problems if p not in problems]
    _collect(problems, validate_seed, seed)
    texts = {name: _collect(problems, clean_prompt, text, settings.max_prompt_chars)
             for name, text in variants.items()}
    if len(variants) * len(parsed) > MAX_GENERATIONS:
        problems.append(Problem("too_many_generations", limit=MAX_GENERATIONS))
    problems += [Problem(p) for p in (check_shape_problem(spec) for spec in checks or []) if p]
    if problems:
        raise Problem.Invalid(problems)
    for text in texts.values():
        check_context(count_gpt2_tokens(text), parsed)
    items = tuple(Item(variant=_clean_label(name), prompt=text, config=c, seed=s)
                  for name, text in texts.items() for c, s in zip(parsed, seeds, strict=True))
    return Request(id=request_id or new_request_id(), class_code=class_code, student=student,
                   student_id=student_id or student, lab=lab, model=model, prompt=next(iter(texts.values())),
                   items=items, created_at=time.time(), total_tokens=len(texts) * sum(c.max_new_tokens for c in parsed),
                   checks=tuple(checks or ()), topic=topic[:300])


def _collect(problems: list[Problem], check, *args):
    """`check(*args)`, or None with its problems added to `problems` (each reported once)."""
    try:
        return check(*args)
    except Problem.Invalid as invalid:
        problems += [p for p in invalid.problems if p not in problems]
        return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def _clean_label(name: str) -> str:
    """A variant name as shown to the class: without bidirectional controls that would disguise it."""
    return "".join(ch for ch in str(name) if ch not in BIDI_CONTROLS)


def build_explore_request(settings: Settings, *, class_code: str, student: str, prompt: str, model: str,
                          request_id: str | None = None, student_id: str | None = None) -> Request:
    """Ask a worker for the next-token distribution after `prompt` (the explorer's bars)."""
    text = clean_prompt(prompt, settings.max_prompt_chars)
    check_context(count_gpt2_tokens(text), [DecodingConfig(max_new_tokens=1)])
    return Request(id=request_id or new_request_id(), class_code=class_code, student=student,
                   student_id=student_id or student, lab=EXPLORE, model=model, prompt=text, created_at=time.time())


def validate_request(request: Request, settings: Settings) -> list[DecodingConfig]:
    """The worker's second check of a dequeued request (its shape was checked when it was read, by
    `Request.from_dict`); returns its effective configs, one per item. Cheap: a custom regex is not
    compiled here (it runs in the sandbox with the other checks)."""
    for item in request.items:
        clean_prompt(item.prompt, settings.max_prompt_chars)
        validate_seed(item.seed)
    configs = [item.config.effective() for item in request.items]
    if not configs or len(configs) > MAX_GENERATIONS:
        raise Problem.Invalid([Problem("too_many_generations", limit=MAX_GENERATIONS)])
    problems = [Problem(p) for p in (check_shape_problem(spec) for spec in request.checks) if p]
    if problems:
        raise Problem.Invalid(problems)
    return configs
