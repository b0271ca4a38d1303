"""The generation engine: many generations, each with its own prompt, config and seed, in one batch.

Requests in, results out (`Engine.submit`, `Engine.step`), so the queue code and the generation code
are tested apart. The engine does continuous batching over the model's KV cache:

- waiting requests are admitted into free rows: their prompts are prefilled together (left padding,
  attention mask, position ids counted from each row's first real token) and their cache is written
  into the running cache's free rows, right-aligned so every row's next token sits in the last column
  (the running rows are not copied; worker/kv_cache.py);
- every step feeds each row its last token and chooses the next one per row (the `Sampler`,
  worker/sampling.py);
- a row that meets EOS or its own max_new_tokens leaves at once and frees its slot: rows from the end
  of the batch move into the freed places; leading cache columns that no remaining row uses are
  dropped once they are a quarter of the width.

The running batch is one `BatchState` (worker/batch_state.py), the one owner of per-row state and
of the record book's free slots: rows join it with `concat` and leave with `without`. The engine's
tuning constants are one `EngineConfig` (worker/engine_config.py). Per step the host does the same few things whatever the number of rows: the mask,
positions and penalty history grow in place (worker/columns.py), each token's record is written into
a device buffer (worker/token_record.py), and the only transfer back is one [2, rows] vector (which
rows chose EOS, and which rows the candidate window could not decide: ties at a cut, rare); a row's
tokens and record come to the host once, when it finishes.

Results equal `model.generate` for greedy rows; sampled rows are reproducible from their seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from worker.batch_state import BatchState, GenerationRequest, Row
from worker.engine_config import DEFAULT_CONFIG, EngineConfig
from worker.fair_share import admission_order, fair_rows_for, rows_to_preempt
from worker.gumbel import row_keys
from worker.kv_cache import growable_cache
from worker.sampling import RowParams, Sampler
from worker.token_record import RecordBook, RecordLayout, TokenSteps

__all__ = ["Engine", "GenerationRequest", "GenerationResult", "batch_size_for", "rows_that_fit"]


def rows_that_fit(model: torch.nn.Module, free_bytes: int, context: int = 1024,
                  config: EngineConfig = DEFAULT_CONFIG) -> int:
    """Rows whose full-context KV cache and per-row sampling buffers fit in `config.memory_headroom`
    of `free_bytes`."""
    model_config = model.config
    element = next(model.parameters()).element_size()
    kv_cache = 2 * model_config.n_layer * model_config.n_embd * context * element
    sampling = 8 * model_config.vocab_size * 4  # fp32 logits and their processed copies while choosing
    return max(1, int(free_bytes * config.memory_headroom) // (kv_cache + sampling))


def batch_size_for(loaded, requested: int, config: EngineConfig = DEFAULT_CONFIG) -> int:
    """Rows per batch: `requested` (0 = automatic: `config.cpu_batch`, or `config.gpu_batch` on a GPU),
    never more than free GPU memory holds."""
    if loaded.device.type != "cuda":
        return requested or config.cpu_batch
    free, _ = torch.cuda.mem_get_info(loaded.device)
    return min(requested or config.gpu_batch, rows_that_fit(loaded.model, free, loaded.context_window, config))


@dataclass
class GenerationResult:
    key: Hashable
    token_ids: list[int]          # the continuation, without the final EOS
    finish_reason: str            # "eos" or "length"
    prompt_tokens: int
    started_at: float             # time.time() when admitted into the batch
    finished_at: float
    logprobs: list[float] = field(default_factory=list)  # log p(token) under the model, per token
    steps: Sequence[dict] = field(default_factory=list)  # per token: alternatives (TokenSteps; EngineConfig.record_top)


class Engine:
    """`max_batch` and `fair_rows` (0 = automatic) are the deployment's (shared/contract/settings.py);
    `config` holds the engine's own tuning (worker/engine_config.py)."""

    def __init__(self, model: torch.nn.Module, eos_token_id: int, max_batch: int, device: torch.device,
                 config: EngineConfig = DEFAULT_CONFIG, fair_rows: int = 0):
        self.model = model
        self.config = config
        # rows one student may hold while a student with a small job has work (worker/fair_share.py)
        self.fair_rows = fair_rows_for(max_batch, fair_rows, config.fair_rows_divisor)
        self.record_top = config.record_top
        self.layout = RecordLayout(self.record_top)
        self.eos_token_id = eos_token_id
        # chooses each row's token and writes its record (worker/sampling.py); a benchmark may wrap it
        self.sampler = Sampler(self.record_top, eos_token_id)
        self.max_batch = max_batch
        self.device = device
        self.batch_cap = max_batch  # the configured cap; max_batch may shrink below it after OOM
        # KV columns reserved per row: the model's context, as rows_that_fit plans memory for
        self.context = int(getattr(model.config, "n_positions", 0) or 0)
        # a 4D boolean mask is what SDPA attention takes as it is (eager attention wants an additive one)
        self._sdpa = getattr(model.config, "_attn_implementation", None) == "sdpa"
        self.waiting: list[GenerationRequest] = []
        self.generated_tokens = 0  # counter for throughput figures
        self.out_of_memory_events = 0
        self.preempted_rows = 0    # rows that gave way to another student's (run again from their prompt)
        # seconds of the last decode step's (model, sampling, host) phases; None after a step without
        # one. Read by the worker's metrics (worker/metrics.py); three clock reads a step.
        self.step_times: tuple[float, float, float] | None = None
        self._clean_steps = 0
        self._book = RecordBook(max_batch, self.layout.width, device, config.record_spare_tokens)
        self._reset_batch()

    # --- public interface -------------------------------------------------------------------
    def submit(self, request: GenerationRequest) -> None:
        self.waiting.append(request)

    @property
    def rows(self) -> list[Row]:
        return self.batch.rows

    @property
    def busy(self) -> bool:
        return bool(self.waiting or self.rows)

    @property
    def free_rows(self) -> int:
        return self.max_batch - len(self.rows) - len(self.waiting)

    @property
    def takes_more(self) -> bool:
        """Whether the worker should hand over more work: while rows are free, or while no student here
        still waits for a first row. So a student who just pressed Run reaches the fair share
        (worker/fair_share.py) even while another student's big job fills the batch, one at a time."""
        if self.free_rows > 0:
            return True
        running = {row.request.owner for row in self.rows}
        return all(request.owner in running for request in self.waiting)

    @torch.inference_mode()  # rows leaving move within the cache's (inference-mode) buffers
    def cancel(self, matches: Callable[[Hashable], bool]) -> int:
        """Drop every waiting or running request whose key `matches`; returns how many. The keys are the
        caller's (the worker's are (submission id, index)): the engine only hands them back."""
        before = len(self.waiting) + len(self.rows)
        self.waiting = [r for r in self.waiting if not matches(r.key)]
        gone = [i for i, row in enumerate(self.rows) if matches(row.request.key)]
        if gone:
            self.batch = self.batch.without(gone)
        return before - len(self.waiting) - len(self.rows)

    def progress(self) -> dict:
        """Tokens generated so far by each running request, by key."""
        return {row.request.key: int(steps) for row, steps in zip(self.rows, self.batch.steps)}

    def partial_tokens(self) -> dict:
        """Tokens each running request has chosen so far, by key: the tail of its penalty history (one
        transfer from the device; called at the worker's progress pace, not every step)."""
        longest = int(self.batch.steps.max()) if self.rows else 0
        if not longest:
            return {row.request.key: [] for row in self.rows}
        recent = self.batch.history.view[:, -longest:].tolist()  # [rows, longest]
        return {row.request.key: tokens[longest - int(steps):]
                for row, tokens, steps in zip(self.rows, recent, self.batch.steps)}

    def step(self) -> list[GenerationResult]:
        """Admit what fits, then generate one token for every running row; returns finished rows.

        Out of accelerator memory, the batch is halved and its rows go back to the front of the
        queue, to be generated again from their prompt: draws depend only on (seed, step), so they
        come out token for token the same. No request fails for lack of memory unless one row alone
        does not fit.
        """
        self.step_times = None
        try:
            finished: list[GenerationResult] = []
            if self.waiting and self.rows:
                self._share_fairly()
            if self._should_admit():
                finished += self._admit()
            if self.rows:
                finished += self._decode()
        except torch.OutOfMemoryError:
            if self.max_batch == 1:
                raise
            self._shrink_after_oom()
            return []
        self._clean_steps += 1
        if self.max_batch < self.batch_cap and self._clean_steps >= self.config.regrow_after_steps:
            self.max_batch = min(self.batch_cap, self.max_batch * 2)
            self._clean_steps = 0
        return finished

    def _shrink_after_oom(self) -> None:
        self.out_of_memory_events += 1
        self.waiting = [row.request for row in self.rows] + self._admitting + self.waiting
        self._reset_batch()
        self.max_batch = max(1, self.max_batch // 2)
        self._clean_steps = 0
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def run(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Generate everything in `requests`; results in the same order."""
        for request in requests:
            self.submit(request)
        done: dict = {}
        while self.busy:
            for result in self.step():
                done[result.key] = result
        return [done[r.key] for r in requests]

    # --- the batch (worker/batch_state.py) ------------------------------------------------------
    def _reset_batch(self) -> None:
        self._admitting: list[GenerationRequest] = []
        self._admissible: list[int] = []  # positions in `waiting`, from the last `_should_admit`
        self.batch = BatchState.empty(self.device, self.config, list(range(self.batch_cap - 1, -1, -1)))

    # --- the fair share (worker/fair_share.py) ------------------------------------------------------
    @torch.inference_mode()  # rows leaving move within the cache's (inference-mode) buffers
    def _share_fairly(self) -> None:
        """Rows over their student's share give way: they go back to the front of the queue and are run
        again from their prompt later (the same tokens: draws depend only on seed and step)."""
        gone = rows_to_preempt([row.request.owner for row in self.rows], self.batch.steps.tolist(),
                               [r.owner for r in self.waiting], self.max_batch, self.fair_rows)
        if not gone:
            return
        preempted = [self.rows[i].request for i in gone]
        self.batch = self.batch.without(gone)
        self.waiting = preempted + self.waiting
        self.preempted_rows += len(gone)

    def _admission(self) -> list[int]:
        """Positions in `waiting` that may be admitted, in the order they would be (round-robin by student)."""
        return admission_order([row.request.owner for row in self.rows], [r.owner for r in self.waiting],
                               self.max_batch, self.max_batch, self.fair_rows)

    def _should_admit(self) -> bool:
        free = self.max_batch - len(self.rows)
        if not self.waiting or free <= 0:
            return False
        admissible = self._admissible = self._admission()
        if not admissible:
            return False
        owners = {row.request.owner for row in self.rows}
        newcomer = any(self.waiting[i].owner not in owners for i in admissible[:free])  # a student with no row waits for none
        return not self.rows or newcomer or free >= min(len(admissible), max(1, int(self.max_batch * self.config.admit_fraction)))

    @torch.inference_mode()
    def _admit(self) -> list[GenerationResult]:
        chosen = set(self._admissible[:self.max_batch - len(self.rows)])  # as `_should_admit` found them
        batch = [r for i, r in enumerate(self.waiting) if i in chosen]
        self.waiting = [r for i, r in enumerate(self.waiting) if i not in chosen]
        self._admitting = batch  # given back to `waiting` if this admission runs out of memory
        self._book.make_room(max(r.config.max_new_tokens for r in batch))
        input_ids, mask = self._left_pad([r.prompt_ids for r in batch])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = growable_cache(self.model.config, self.config)
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                         use_cache=True, logits_to_keep=1)
        # Token ids the repetition penalty looks at: the prompt, its padding replaced by a real token.
        history = torch.where(mask.bool(), input_ids, input_ids[:, -1:])
        params = RowParams.from_configs([r.config for r in batch], self.device, self.record_top, self.config)
        slots = self.batch.take_slots(len(batch))
        new = BatchState.prefilled(batch, slots, out.past_key_values, mask, history, params, self.config)
        eos = self._choose(out.logits[:, -1, :], new)
        first = len(self.rows)
        self.batch = self.batch.concat(new, self.max_batch, self.context)
        self._admitting = []
        return self._finish(eos, first)

    @torch.inference_mode()
    def _decode(self) -> list[GenerationResult]:
        batch = self.batch
        batch.mask.append(1)
        # One token per row attends to every real token before it: the padding mask alone, given as
        # the 4D mask [rows, 1, 1, columns] attention uses. Given the 2D mask, transformers would first
        # ask the device whether any column is padding (a wait for the GPU at every step).
        mask = batch.mask.view.bool()[:, None, None, :] if self._sdpa else batch.mask.view
        start = time.perf_counter()
        out = self.model(input_ids=batch.last_tokens[:, None], attention_mask=mask,
                         position_ids=batch.positions[:, None], past_key_values=batch.cache, use_cache=True)
        batch.positions += 1
        modelled = time.perf_counter()  # on a GPU: launched; the wait for it lands in the choice's transfer
        eos = self._choose(out.logits[:, -1, :], batch)
        chosen = time.perf_counter()
        finished = self._finish(eos, 0)
        self.step_times = (modelled - start, chosen - modelled, time.perf_counter() - chosen)
        return finished

    def _choose(self, logits: torch.Tensor, batch: BatchState) -> np.ndarray:
        """Choose the next token of each row of `batch` and count it there (its record goes into the
        book); returns which rows chose EOS ([rows] bool, on the host: the step's one transfer back)."""
        keys = torch.from_numpy(row_keys(batch.seeds, batch.steps)).to(self.device)
        choice = self.sampler(logits.float(), batch.history.view, batch.params, keys)
        self._book.write(batch.slots_on_device, batch.steps_on_device, choice.record)
        batch.count_token(choice.tokens)
        return choice.eos

    def _finish(self, eos: np.ndarray, first: int) -> list[GenerationResult]:
        """Rows `first:` just chose a token (`eos`: which chose EOS): hand back those that are done, and
        drop them."""
        self.generated_tokens += len(eos)
        batch = self.batch
        done = eos | (batch.steps[first:] >= batch.limits[first:])
        if not done.any():
            return []
        finished = np.flatnonzero(done) + first
        lengths = batch.steps[finished] - eos[finished - first]  # EOS itself is not part of the text
        records = self._book.read(batch.slots[finished].tolist(), int(batch.steps[finished].max()))
        now = time.time()
        results = [self._result(batch.rows[i], records[n, :lengths[n]], "eos" if eos[i - first] else "length", now)
                   for n, i in enumerate(finished)]
        self.batch = batch.without(finished.tolist())
        return results

    def _result(self, row: Row, record: np.ndarray, reason: str, now: float) -> GenerationResult:
        """record: [tokens, width] of this row, as written by `_choose` (see RecordLayout)."""
        fields = self.layout
        steps = TokenSteps(record, fields) if self.record_top else []
        return GenerationResult(key=row.request.key, token_ids=record[:, fields.token].astype(np.int64).tolist(),
                                finish_reason=reason, prompt_tokens=len(row.request.prompt_ids),
                                started_at=row.started_at, finished_at=now,
                                logprobs=np.round(record[:, fields.logprob].astype(np.float64), 5).tolist(),
                                steps=steps)

    def _left_pad(self, sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.eos_token_id, dtype=torch.long)
        mask = torch.zeros(len(sequences), width, dtype=torch.long)
        for row, sequence in enumerate(sequences):
            ids[row, width - len(sequence):] = torch.tensor(sequence, dtype=torch.long)
            mask[row, width - len(sequence):] = 1
        return ids.to(self.device), mask.to(self.device)
