"""Whether a dequeued submission runs, and what it runs: the worker's admission as one pure decision.

The batch worker reads what it needs from Redis (the submission record, whether its student asked to
cancel it, the outputs its cache keys already have) and hands it here; `admit` says what to do with
the submission, and `answered_from_cache` which of its generations an earlier output already answers.
Nothing here touches Redis, RQ or the model, so every refusal is tested on its own
(tests/test_admission.py); the worker does the writes each answer calls for (worker/batch_worker.py).

The answers, in the order they are checked:

- `AlreadyDone`: an earlier attempt published it (its worker was cut off, then came back);
- `Refused`: cancelled, a record missing or damaged, or a request the worker's second check refuses
  (its prompt, seeds, number of generations, checks, or a prompt too long for the model's context);
- `Exploration`: the explorer's one forward pass over a prompt;
- `Admitted`: the generations to run, one `PlannedItem` per item, each with its cache key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shared.contract.decoding import DecodingConfig
from shared.contract.problems import Problem
from shared.contract.records import DONE, EXPLORE, Output, Request, Submission
from shared.contract.settings import Settings
from shared.services.cache_identity import cache_key
from shared.services.validation import check_context, clean_prompt, validate_request

Tokenize = Callable[[str], list[int]]  # text -> token ids, as the worker's model reads it

# What reading a record can raise when it was edited by hand or written by another version: it is
# refused as malformed, never allowed to crash the loop.
MALFORMED = (ValueError, KeyError, TypeError, AttributeError)


@dataclass(frozen=True)
class PlannedItem:
    """One generation of an admitted submission: its prompt's tokens, effective config and seed, and the
    cache key its result is stored under (and that an identical generation in flight shares)."""

    index: int
    prompt_ids: list[int]
    config: DecodingConfig
    seed: int
    cache_key: str


@dataclass(frozen=True)
class AlreadyDone:
    """Published by an earlier attempt: the job is finished again, nothing is generated."""


@dataclass(frozen=True)
class Refused:
    """Failed with no retry; the student's submission shows `problem`. `request` is None when the record
    could not be read."""

    problem: Problem
    request: Request | None


@dataclass(frozen=True)
class Exploration:
    """The explorer's small job: the next-token logits of `prompt_ids`."""

    request: Request
    prompt_ids: list[int]


@dataclass(frozen=True)
class Admitted:
    """Runs: one planned item per item of the request, in item order."""

    request: Request
    items: tuple[PlannedItem, ...]


Admission = AlreadyDone | Refused | Exploration | Admitted


def admit(record: Submission | Problem | None, *, cancelled: bool, settings: Settings, tokenize: Tokenize,
          context_window: int, model: str) -> Admission:
    """What to do with a dequeued submission. `record`: its record as read, or the problem reading it
    (see `read_problem`), or None when there is none; `cancelled`: its student asked to cancel it;
    `model`: the worker's model name, part of every cache key."""
    if isinstance(record, Submission) and record.status == DONE:
        return AlreadyDone()
    request = record.request if isinstance(record, Submission) else None
    if cancelled:
        return Refused(Problem("cancelled"), request)
    if request is None:
        return Refused(record if isinstance(record, Problem)
                       else Problem("worker_error", detail="submission record missing"), None)
    try:
        if request.lab == EXPLORE:
            return _exploration(request, settings, tokenize, context_window)
        return _generations(request, settings, tokenize, context_window, model)
    except Problem.Invalid as invalid:
        return Refused(invalid.problems[0], request)
    except MALFORMED:  # a malformed record: refuse, never crash
        return Refused(Problem("malformed_request"), request)


def read_problem(error: Exception) -> Problem:
    """The problem of a record that could not be read (`Store.submission` raised one of `MALFORMED`):
    the first problem found when it said which, else malformed."""
    if isinstance(error, Problem.Invalid):
        return error.problems[0]
    return Problem("malformed_request")


def _exploration(request: Request, settings: Settings, tokenize: Tokenize, context_window: int) -> Exploration:
    clean_prompt(request.prompt, settings.max_prompt_chars)
    prompt_ids = tokenize(request.prompt)
    check_context(len(prompt_ids), [DecodingConfig(max_new_tokens=1)], context_window)
    return Exploration(request, prompt_ids)


def _generations(request: Request, settings: Settings, tokenize: Tokenize, context_window: int,
                 model: str) -> Admitted:
    configs = validate_request(request, settings)
    prompts = [tokenize(item.prompt) for item in request.items]
    for prompt_ids, config in zip(prompts, configs, strict=True):
        check_context(len(prompt_ids), [config], context_window)
    return Admitted(request, tuple(
        PlannedItem(index, prompt_ids, config, item.seed,
                    cache_key(request.class_code, model, item.prompt, config, item.seed))
        for index, (item, config, prompt_ids) in enumerate(zip(request.items, configs, prompts, strict=True))))


def answered_from_cache(items: Sequence[PlannedItem], output_ids: Sequence[str | None],
                        originals: Mapping[str, Output]) -> dict[int, Output]:
    """Item index -> the earlier output that answers it. `output_ids`: the output id each item's cache key
    names (None: not cached), in item order; `originals`: those outputs that still exist, by id (an
    output deleted since is generated again)."""
    return {item.index: originals[output_id]
            for item, output_id in zip(items, output_ids, strict=True)
            if output_id is not None and output_id in originals}
