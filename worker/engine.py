"""The generation engine: many generations, each with its own prompt, config and seed, in one batch.

Requests in, results out (`Engine.submit`, `Engine.step`), so the queue code and the generation code
are tested apart. The engine does continuous batching over the model's KV cache:

- waiting requests are admitted into free rows: their prompts are prefilled together (left padding,
  attention mask, position ids counted from each row's first real token) and their cache is merged
  into the running batch, right-aligned so every row's next token sits in the last column;
- every step feeds each row its last token and chooses the next one per row (worker/sampling.py);
- a row that meets EOS or its own max_new_tokens leaves at once and frees its slot; leading cache
  columns that no remaining row uses are dropped.

Per step the host does the same few things whatever the number of rows: the mask, positions and
penalty history grow in place (worker/columns.py), each token's record is written into a device
buffer (worker/token_record.py), and the only transfer back is one [rows] EOS vector; a row's tokens
and record come to the host once, when it finishes.

Results equal `model.generate` for greedy rows; sampled rows are reproducible from their seed.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from transformers import DynamicCache

from shared.contract.decoding import DecodingConfig
from worker.columns import Columns
from worker.kv_cache import growable_cache
from worker.sampling import RowParams, choose_tokens, record_width, row_keys
from worker.token_record import RecordBook, TokenSteps

# Admit waiting requests once at least this fraction of the batch is free (or all waiting fit):
# each admission copies the cache, so admitting one row per step would slow everyone down.
ADMIT_FRACTION = 0.25
# After an out-of-memory error the batch is halved; after this many clean steps it may grow back.
REGROW_AFTER_STEPS = 500
# Share of free accelerator memory the batch may plan to use (the rest: fragmentation, allocator).
MEMORY_HEADROOM = 0.8


def rows_that_fit(model: torch.nn.Module, free_bytes: int, context: int = 1024) -> int:
    """Rows whose full-context KV cache and per-row sampling buffers fit in `free_bytes`."""
    config = model.config
    element = next(model.parameters()).element_size()
    kv_cache = 2 * config.n_layer * config.n_embd * context * element
    sampling = 8 * config.vocab_size * 4  # fp32 logits and their processed copies while choosing
    return max(1, int(free_bytes * MEMORY_HEADROOM) // (kv_cache + sampling))


CPU_BATCH = 64     # on 2-8 cores, batches past ~64 rows no longer raise throughput
GPU_BATCH = 1024   # distilgpt2 on an H100 still gains up to ~1024 rows


def batch_size_for(loaded, requested: int) -> int:
    """Rows per batch: `requested` (0 = automatic), never more than free GPU memory holds."""
    if loaded.device.type != "cuda":
        return requested or CPU_BATCH
    free, _ = torch.cuda.mem_get_info(loaded.device)
    return min(requested or GPU_BATCH, rows_that_fit(loaded.model, free, loaded.context_window))


@dataclass
class GenerationRequest:
    key: Hashable                 # who asked: (submission id, index) in the worker
    prompt_ids: list[int]
    config: DecodingConfig        # the effective config (see DecodingConfig.effective)
    seed: int


@dataclass
class GenerationResult:
    key: Hashable
    token_ids: list[int]          # the continuation, without the final EOS
    finish_reason: str            # "eos" or "length"
    prompt_tokens: int
    started_at: float             # time.time() when admitted into the batch
    finished_at: float
    logprobs: list[float] = field(default_factory=list)  # log p(token) under the model, per token
    steps: Sequence[dict] = field(default_factory=list)  # per token: alternatives (TokenSteps; see RECORD_TOP)


@dataclass
class _Row:
    request: GenerationRequest
    started_at: float
    slot: int  # this row's place in the record book, for its whole life


RECORD_TOP = 5  # alternatives recorded per generated token, for the token view


class Engine:
    def __init__(self, model: torch.nn.Module, eos_token_id: int, max_batch: int, device: torch.device,
                 record_top: int = RECORD_TOP):
        self.model = model
        self.record_top = record_top
        self.eos_token_id = eos_token_id
        self.max_batch = max_batch
        self.device = device
        self.batch_cap = max_batch  # the configured cap; max_batch may shrink below it after OOM
        self.waiting: list[GenerationRequest] = []
        self.rows: list[_Row] = []
        self.generated_tokens = 0  # counter for throughput figures
        self.out_of_memory_events = 0
        self.vocab_passes = 0      # vocabulary-wide operations of the last step's token choice
        self._clean_steps = 0
        self._book = RecordBook(max_batch, record_width(record_top), device)
        self._reset_batch()

    # --- public interface -------------------------------------------------------------------
    def submit(self, request: GenerationRequest) -> None:
        self.waiting.append(request)

    @property
    def busy(self) -> bool:
        return bool(self.waiting or self.rows)

    @property
    def free_rows(self) -> int:
        return self.max_batch - len(self.rows) - len(self.waiting)

    @property
    def mask(self) -> torch.Tensor:
        return self._mask.view  # [rows, columns] 1 = real token

    def cancel(self, owner) -> int:
        """Drop every waiting or running request whose key starts with `owner`; returns how many."""
        mine = lambda request: isinstance(request.key, tuple) and request.key[0] == owner  # noqa: E731
        before = len(self.waiting) + len(self.rows)
        self.waiting = [r for r in self.waiting if not mine(r)]
        keep = [i for i, row in enumerate(self.rows) if not mine(row.request)]
        if len(keep) < len(self.rows):
            self._free_slots += [row.slot for row in self.rows if mine(row.request)]
            self._keep_rows(keep)
        return before - len(self.waiting) - len(self.rows)

    def progress(self) -> dict:
        """Tokens generated so far by each running request, by key."""
        return {row.request.key: int(steps) for row, steps in zip(self.rows, self.steps)}

    def step(self) -> list[GenerationResult]:
        """Admit what fits, then generate one token for every running row; returns finished rows.

        Out of accelerator memory, the batch is halved and its rows go back to the front of the
        queue, to be generated again from their prompt: draws depend only on (seed, step), so they
        come out token for token the same. No request fails for lack of memory unless one row alone
        does not fit.
        """
        try:
            finished: list[GenerationResult] = []
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
        if self.max_batch < self.batch_cap and self._clean_steps >= REGROW_AFTER_STEPS:
            self.max_batch = min(self.batch_cap, self.max_batch * 2)
            self._clean_steps = 0
        return finished

    def _shrink_after_oom(self) -> None:
        self.out_of_memory_events += 1
        self.waiting = [row.request for row in self.rows] + self._admitting + self.waiting
        self.rows, self._admitting = [], []
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

    # --- batch state: one entry per running row, in `self.rows` order -------------------------------
    def _reset_batch(self) -> None:
        self._admitting: list[GenerationRequest] = []
        self._free_slots = list(range(self.batch_cap - 1, -1, -1))
        self.cache: DynamicCache | None = None
        self._mask = Columns(torch.zeros(0, 0, dtype=torch.long, device=self.device))  # 1 = real token
        self.positions = torch.zeros(0, dtype=torch.long, device=self.device)  # next position id per row
        self.last_tokens = torch.zeros(0, dtype=torch.long, device=self.device)
        self.history = Columns(torch.zeros(0, 0, dtype=torch.long, device=self.device))  # ids the penalty hits
        self.params: RowParams | None = None
        self.seeds = np.zeros(0, dtype=np.uint64)
        self.steps = np.zeros(0, dtype=np.int64)    # tokens chosen so far per row (the next draw's step)
        self.limits = np.zeros(0, dtype=np.int64)   # max_new_tokens per row
        self.slots = np.zeros(0, dtype=np.int64)
        self._slots_on_device = torch.zeros(0, dtype=torch.long, device=self.device)
        self._steps_on_device = torch.zeros(0, dtype=torch.long, device=self.device)

    def _should_admit(self) -> bool:
        free = self.max_batch - len(self.rows)
        if not self.waiting or free <= 0:
            return False
        return not self.rows or free >= min(len(self.waiting), max(1, int(self.max_batch * ADMIT_FRACTION)))

    @torch.inference_mode()
    def _admit(self) -> list[GenerationResult]:
        count = self.max_batch - len(self.rows)
        batch, self.waiting = self.waiting[:count], self.waiting[count:]
        self._admitting = batch  # given back to `waiting` if this admission runs out of memory
        self._book.make_room(max(r.config.max_new_tokens for r in batch))
        input_ids, mask = self._left_pad([r.prompt_ids for r in batch])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = growable_cache(self.model.config)
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                         use_cache=True, logits_to_keep=1)
        # Token ids the repetition penalty looks at: the prompt, its padding replaced by a real token.
        history = Columns(torch.where(mask.bool(), input_ids, input_ids[:, -1:]))
        params = RowParams.from_configs([r.config for r in batch], self.device, self.record_top)
        slots = [self._free_slots.pop() for _ in batch]
        new = _NewRows(seeds=np.array([r.seed for r in batch], dtype=np.uint64), slots=np.array(slots, np.int64),
                       limits=np.array([r.config.max_new_tokens for r in batch], dtype=np.int64), device=self.device)
        tokens = self._choose(out.logits[:, -1, :], history.view, params, new.seeds, new.steps,
                              new.slots_on_device, new.steps_on_device)
        history.append(tokens)
        first = len(self.rows)
        now = time.time()
        self._merge(out.past_key_values, Columns(mask), mask.sum(-1), tokens, history, new)
        self.rows += [_Row(request=r, started_at=now, slot=slot) for r, slot in zip(batch, slots)]
        self.params = RowParams.from_configs([row.request.config for row in self.rows], self.device, self.record_top)
        self._admitting = []
        return self._advance(tokens, first)

    @torch.inference_mode()
    def _decode(self) -> list[GenerationResult]:
        self._mask.append(1)
        out = self.model(input_ids=self.last_tokens[:, None], attention_mask=self._mask.view,
                         position_ids=self.positions[:, None], past_key_values=self.cache, use_cache=True)
        self.positions += 1
        self.last_tokens = self._choose(out.logits[:, -1, :], self.history.view, self.params, self.seeds, self.steps,
                                        self._slots_on_device, self._steps_on_device)
        self.history.append(self.last_tokens)
        return self._advance(self.last_tokens, 0)

    def _choose(self, logits, history, params, seeds, steps, slots_on_device, steps_on_device) -> torch.Tensor:
        """The next token of each row ([rows] on the device); its record goes into the book."""
        keys = torch.from_numpy(row_keys(seeds, steps)).to(self.device)
        choice = choose_tokens(logits.float(), history, params, keys, top=self.record_top)
        self._book.write(slots_on_device, steps_on_device, choice.record)
        self.vocab_passes = choice.vocab_passes
        return choice.tokens

    def _advance(self, tokens: torch.Tensor, first: int) -> list[GenerationResult]:
        """Rows `first:` chose `tokens`: count them, and hand back the rows that are done."""
        eos = (tokens == self.eos_token_id).cpu().numpy()  # the step's one transfer back: [rows] bool
        self.steps[first:] += 1
        self._steps_on_device[first:] += 1
        self.generated_tokens += len(eos)
        done = eos | (self.steps[first:] >= self.limits[first:])
        if not done.any():
            return []
        finished = np.flatnonzero(done) + first
        lengths = self.steps[finished] - eos[finished - first]  # EOS itself is not part of the text
        records = self._book.read(self.slots[finished].tolist(), int(self.steps[finished].max()))
        now = time.time()
        results = [self._result(self.rows[i], records[n, :lengths[n]], "eos" if eos[i - first] else "length", now)
                   for n, i in enumerate(finished)]
        self._free_slots += self.slots[finished].tolist()
        self._keep_rows(np.flatnonzero(~np.isin(np.arange(len(self.rows)), finished)).tolist())
        return results

    def _result(self, row: _Row, record: np.ndarray, reason: str, now: float) -> GenerationResult:
        """record: [tokens, record_width] of this row, as written by `_choose`."""
        steps = TokenSteps(record[:, 2:], self.record_top) if self.record_top else []
        return GenerationResult(key=row.request.key, token_ids=record[:, 0].astype(np.int64).tolist(),
                                finish_reason=reason, prompt_tokens=len(row.request.prompt_ids),
                                started_at=row.started_at, finished_at=now,
                                logprobs=np.round(record[:, 1].astype(np.float64), 5).tolist(), steps=steps)

    # --- cache surgery ------------------------------------------------------------------------
    def _left_pad(self, sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.eos_token_id, dtype=torch.long)
        mask = torch.zeros(len(sequences), width, dtype=torch.long)
        for row, sequence in enumerate(sequences):
            ids[row, width - len(sequence):] = torch.tensor(sequence, dtype=torch.long)
            mask[row, width - len(sequence):] = 1
        return ids.to(self.device), mask.to(self.device)

    def _merge(self, cache, mask: Columns, positions, tokens, history: Columns, new: _NewRows) -> None:
        """Append freshly prefilled rows to the running batch, aligning both caches on the right."""
        if not self.rows:
            self.cache, self._mask, self.positions, self.last_tokens, self.history = cache, mask, positions, tokens, history
        else:
            width = max(self._mask.width, mask.width)
            for old_layer, new_layer in zip(self.cache.layers, cache.layers):
                old_layer.replace(torch.cat([_pad_left(old_layer.keys, width), _pad_left(new_layer.keys, width)]),
                                  torch.cat([_pad_left(old_layer.values, width), _pad_left(new_layer.values, width)]))
            self._mask = Columns(torch.cat([_pad_left(self._mask.view, width), _pad_left(mask.view, width)]))
            self.positions = torch.cat([self.positions, positions])
            self.last_tokens = torch.cat([self.last_tokens, tokens])
            ids_width = max(self.history.width, history.width)
            self.history = Columns(torch.cat([_pad_ids(self.history.view, ids_width), _pad_ids(history.view, ids_width)]))
        self.seeds = np.concatenate([self.seeds, new.seeds])
        self.steps = np.concatenate([self.steps, new.steps])
        self.limits = np.concatenate([self.limits, new.limits])
        self.slots = np.concatenate([self.slots, new.slots])
        self._slots_on_device = torch.cat([self._slots_on_device, new.slots_on_device])
        self._steps_on_device = torch.cat([self._steps_on_device, new.steps_on_device])

    def _keep_rows(self, keep: list[int]) -> None:
        """Drop the other rows. `self.rows` changes last, so an OOM midway loses no request."""
        if not keep:
            self.rows = []
            self._reset_batch()
            return
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        mask = self._mask.view[index]
        first_used = int((mask.sum(0) > 0).nonzero()[0])  # leading columns no row needs any more
        for layer in self.cache.layers:
            layer.replace(layer.keys[index, :, first_used:], layer.values[index, :, first_used:])
        self._mask = Columns(mask[:, first_used:])
        self.positions = self.positions[index]
        self.last_tokens = self.last_tokens[index]
        self.history = self.history.select(index)
        self.seeds, self.steps, self.limits, self.slots = (a[keep] for a in (self.seeds, self.steps, self.limits,
                                                                              self.slots))
        self._slots_on_device, self._steps_on_device = self._slots_on_device[index], self._steps_on_device[index]
        self.rows = [self.rows[i] for i in keep]
        self.params = RowParams.from_configs([row.request.config for row in self.rows], self.device, self.record_top)


@dataclass
class _NewRows:
    """Host and device bookkeeping of rows being admitted (their step counters start at 0)."""

    seeds: np.ndarray   # uint64
    slots: np.ndarray   # int64 record-book slots
    limits: np.ndarray  # int64 max_new_tokens
    device: torch.device

    def __post_init__(self):
        self.steps = np.zeros(len(self.seeds), dtype=np.int64)
        self.slots_on_device = torch.as_tensor(self.slots, device=self.device)
        self.steps_on_device = torch.zeros(len(self.seeds), dtype=torch.long, device=self.device)


def _pad_ids(history: torch.Tensor, width: int) -> torch.Tensor:
    """Left-pad token histories by repeating each row's first token: padding penalizes nothing new."""
    missing = width - history.shape[1]
    return history if missing == 0 else torch.cat([history[:, :1].expand(-1, missing), history], dim=1)


def _pad_left(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """Zero-pad the time axis (dim 2 of a cache tensor, dim 1 of a mask) on the left up to `width`."""
    time_dim = 2 if tensor.dim() == 4 else 1
    missing = width - tensor.shape[time_dim]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[time_dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=time_dim)
