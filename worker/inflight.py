"""A submission the batch worker holds, from admission until it is stored or ended.

`InFlight` is the RQ side (job, queue, execution, attempt) and one `InFlightItem` per item of the
request, in item order: how the item is answered (from the cache, or by a generation the engine runs),
its result once back, and the text its page was last shown. The text so far is decoded here, a few
tokens at a time (see `InFlightItem.partial`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from rq import Queue
from rq.executions import Execution
from rq.job import Job

from shared.contract.records import Output, PartialText, Request
from worker.admission import PlannedItem
from worker.engine import GenerationRequest, GenerationResult

Decode = Callable[[list[int]], str]  # token ids -> text, special tokens skipped


@dataclass
class InFlightItem:
    """One item of a submission: answered by `cached` (an earlier identical output) or by `generation`."""

    index: int
    cache_key: str                                # its result is stored under it (and shared while in flight)
    cached: Output | None = None                  # the original output answering it: nothing to generate
    generation: GenerationRequest | None = None   # what the engine runs for it
    result: GenerationResult | None = None        # the engine's (or its leader's) result
    streamed: PartialText | None = None           # the text last published for its page
    decoded: tuple[int, str] = (0, "")            # (tokens, text) decoded so far

    @classmethod
    def planned(cls, plan: PlannedItem, submission_id: str, owner: Hashable, cached: Output | None) -> InFlightItem:
        """An admitted item: answered by `cached`, else by the generation the engine runs for it, keyed
        (submission id, index) and owned by its student (the fair share's unit)."""
        if cached is not None:
            return cls(plan.index, plan.cache_key, cached=cached)
        return cls(plan.index, plan.cache_key, generation=GenerationRequest(
            key=(submission_id, plan.index), prompt_ids=plan.prompt_ids, config=plan.config, seed=plan.seed,
            owner=owner))

    @property
    def done(self) -> bool:
        return self.cached is not None or self.result is not None

    def partial(self, running: list[int] | None, decode: Decode) -> PartialText:
        """Its text so far: from the cache, its result, the engine's running row (`running`: its tokens so
        far), or nothing yet. Decoded again only when its token count changed."""
        if self.cached is not None:
            return PartialText(self.index, self.cached.text, self.cached.new_tokens, done=True)
        tokens = self.result.token_ids if self.result is not None else (running or [])
        known = self.streamed
        if known is not None and known.tokens == len(tokens) and known.done == (self.result is not None):
            return known
        if self.result is not None:
            return PartialText(self.index, decode(tokens), len(tokens), True)
        return PartialText(self.index, self._text_so_far(tokens, decode), len(tokens))

    def _text_so_far(self, tokens: list[int], decode: Decode) -> str:
        """Only the tokens new since the last publication are decoded (a 1,024-row batch would otherwise
        decode every row's whole text twice a second). GPT-2's text is its tokens' bytes end to end, so a
        prefix that ended on a whole character decodes the same alone."""
        count, text = self.decoded
        if count > len(tokens):  # generated again from its prompt (out of memory, or crash isolation)
            count, text = 0, ""
        tail = decode(tokens[count:])
        if not tail.endswith("\ufffd"):  # else: a character whose bytes are not all generated yet
            self.decoded = (len(tokens), text + tail)
        return (text + tail).rstrip("\ufffd")


@dataclass
class InFlight:
    job: Job
    queue: Queue
    execution: Execution
    request: Request
    attempt: int
    items: list[InFlightItem] = field(default_factory=list)  # one per request item, in item order
    checking: bool = False                                   # generated; its checks still run

    @property
    def id(self) -> str:
        return self.job.id

    @property
    def complete(self) -> bool:
        """Every item answered: from the cache or by its result."""
        return all(item.done for item in self.items)

    def generated(self) -> list[InFlightItem]:
        """Items the engine generates (not answered from the cache)."""
        return [item for item in self.items if item.generation is not None]

    def unfinished(self) -> list[GenerationRequest]:
        """Generations not yet back from the engine."""
        return [item.generation for item in self.items if item.generation is not None and item.result is None]

    def results(self) -> dict[int, GenerationResult]:
        """Item index -> result, for the items generated and back."""
        return {item.index: item.result for item in self.items if item.result is not None}

    def awaiting_first_words(self) -> bool:
        """Its page shows no word yet."""
        return not any(item.streamed is not None and (item.streamed.tokens or item.streamed.done)
                       for item in self.items)
