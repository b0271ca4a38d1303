"""The engine's running batch as one object: every per-row field, in one row order.

`BatchState` is the one owner of per-row state, as vLLM v1's `InputBatch` is: for each running row,
what the host and the device keep about it (the request, its KV cache and attention mask, next
position and token, penalty history, seed, step count, limit, record slot, and the sampling
parameters of all rows), and the record-book slots no row holds. Rows are only ever added with
`concat` (freshly prefilled rows joining the batch, caches aligned on the right, written into the
running cache's free rows; their slots taken first with `take_slots`) and removed with `without`
(finished or cancelled rows leaving, rows from the end moving into their places, their slots freed;
see worker/kv_cache.py). The sampling parameters follow on the device (`RowParams.select`,
`RowParams.concat`): a row's are copied from the host once, when it is prefilled. Both return a new
state; the KV cache object is reworked in place, so after an out-of-memory error halfway through,
the engine gives the whole batch back to its queue (its rows are generated again, token for token
the same).
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, replace

import numpy as np
import torch
from transformers import DynamicCache

from shared.contract.decoding import DecodingConfig
from worker.columns import Columns
from worker.engine_config import EngineConfig
from worker.sampling import RowParams


@dataclass
class GenerationRequest:
    key: Hashable                 # who asked: (submission id, index) in the worker
    prompt_ids: list[int]
    config: DecodingConfig        # the effective config (see DecodingConfig.effective)
    seed: int
    owner: Hashable = None        # whose work it is, for the fair share (the worker: class code, student id)


@dataclass
class Row:
    request: GenerationRequest
    started_at: float  # time.time() when admitted into the batch


@dataclass
class BatchState:
    """One entry per running row in every field, in the same order (see the module doc)."""

    rows: list[Row]
    cache: DynamicCache | None     # KV cache, right-aligned: every row's next token in the last column
    mask: Columns                  # [rows, columns] attention mask, 1 = real token
    positions: torch.Tensor        # [rows] int64 next position id
    last_tokens: torch.Tensor      # [rows] int64 the token each row feeds next
    history: Columns               # [rows, n] token ids the repetition penalty looks at
    params: RowParams | None       # the rows' decoding parameters, on the device
    seeds: np.ndarray              # [rows] uint64
    steps: np.ndarray              # [rows] int64 tokens chosen so far (the next draw's step)
    limits: np.ndarray             # [rows] int64 max_new_tokens
    slots: np.ndarray              # [rows] int64 record-book slot: the row's place there, for its whole life
    steps_on_device: torch.Tensor  # [rows] `steps`, where the record book is written
    slots_on_device: torch.Tensor  # [rows] `slots`, likewise
    config: EngineConfig           # the engine's tuning: spare columns, when to drop columns
    free_slots: list[int]          # record-book slots no row holds (the next one taken is the last)

    @classmethod
    def empty(cls, device: torch.device, config: EngineConfig, free_slots: list[int]) -> BatchState:
        """No rows; `free_slots`: the record book's slots, all free (the first taken is the last)."""
        ids = torch.zeros(0, dtype=torch.long, device=device)
        return cls(rows=[], cache=None, mask=Columns(ids.view(0, 0), config.spare_columns), positions=ids,
                   last_tokens=ids, history=Columns(ids.view(0, 0), config.spare_columns), params=None,
                   seeds=np.zeros(0, dtype=np.uint64), steps=np.zeros(0, dtype=np.int64),
                   limits=np.zeros(0, dtype=np.int64), slots=np.zeros(0, dtype=np.int64), steps_on_device=ids,
                   slots_on_device=ids, config=config, free_slots=free_slots)

    def take_slots(self, count: int) -> list[int]:
        """Record-book slots for `count` rows about to be prefilled (they join with `concat`)."""
        return [self.free_slots.pop() for _ in range(count)]

    @classmethod
    def prefilled(cls, requests: list[GenerationRequest], slots: list[int], cache: DynamicCache,
                  mask: torch.Tensor, history: torch.Tensor, params: RowParams, config: EngineConfig) -> BatchState:
        """Rows just prefilled, before their first token: positions follow their prompts, steps are 0.
        `slots`: theirs in the record book (`take_slots` of the batch they join)."""
        device = mask.device
        return cls(rows=[Row(r, time.time()) for r in requests], cache=cache,
                   mask=Columns(mask, config.spare_columns), positions=mask.sum(-1),
                   last_tokens=mask.new_zeros(len(requests)), history=Columns(history, config.spare_columns),
                   params=params, config=config, free_slots=[],
                   seeds=np.array([r.seed for r in requests], dtype=np.uint64),
                   steps=np.zeros(len(requests), dtype=np.int64),
                   limits=np.array([r.config.max_new_tokens for r in requests], dtype=np.int64),
                   slots=np.array(slots, dtype=np.int64),
                   steps_on_device=torch.zeros(len(requests), dtype=torch.long, device=device),
                   slots_on_device=torch.tensor(slots, dtype=torch.long, device=device))

    def __len__(self) -> int:
        return len(self.rows)

    def count_token(self, tokens: torch.Tensor) -> None:
        """Every row chose `tokens` ([rows]): it is fed next, the penalty sees it, steps advance."""
        self.last_tokens = tokens
        self.history.append(tokens)
        self.steps += 1
        self.steps_on_device += 1

    def without(self, gone: list[int]) -> BatchState:
        """A new state without rows `gone` (positions). Rows from the end of the batch move into their
        places, so only those rows' KV cache is copied; leading cache columns none of the remaining
        rows uses are dropped (every row shifts left, in place) once they are a quarter of the width.
        The rows' record-book slots are free again."""
        gone_set = set(gone)
        remaining = len(self) - len(gone_set)
        free_slots = self.free_slots + self.slots[gone].tolist()
        if remaining == 0:
            return BatchState.empty(self.positions.device, self.config, free_slots)
        holes = sorted(p for p in gone_set if p < remaining)
        tails = [p for p in range(remaining, len(self)) if p not in gone_set]
        order = list(range(remaining))
        for hole, tail in zip(holes, tails):
            order[hole] = tail
        index = torch.tensor(order, dtype=torch.long, device=self.positions.device)
        mask = self.mask.view[index]
        first_used = int((mask.sum(0) > 0).nonzero()[0])
        drop = first_used >= max(self.config.drop_columns_at_least, mask.shape[1] // 4)
        for layer in self.cache.layers:
            layer.move_rows(holes, tails, remaining)
            if drop:
                layer.drop_columns(first_used)
        rows = [self.rows[i] for i in order]
        return BatchState(rows=rows, cache=self.cache,
                          mask=Columns(mask[:, first_used if drop else 0:], self.config.spare_columns),
                          positions=self.positions[index], last_tokens=self.last_tokens[index],
                          history=self.history.select(index), params=self.params.select(index, order),
                          seeds=self.seeds[order], steps=self.steps[order], limits=self.limits[order],
                          slots=self.slots[order], steps_on_device=self.steps_on_device[index],
                          slots_on_device=self.slots_on_device[index], config=self.config, free_slots=free_slots)

    def concat(self, other: BatchState, row_capacity: int, reserve: int = 0) -> BatchState:
        """This batch's rows, then `other`'s, right-aligned to the longer history. `other`'s KV cache is
        written into this one's free rows (the running rows are not copied, unless `other`'s history is
        longer or the buffers are too small); new buffers hold `row_capacity` rows and `reserve`
        columns, or the columns the rows may still need if more."""
        remaining = np.concatenate([self.limits - self.steps, other.limits - other.steps])
        width = max(self.mask.width, other.mask.width)
        columns = width + int(remaining.max()) + 1  # the most any row will have filled
        if not self.rows:
            for layer in other.cache.layers:
                layer.adopt(row_capacity, max(columns, reserve))
            return replace(other, free_slots=self.free_slots)
        for mine, theirs in zip(self.cache.layers, other.cache.layers):
            mine.append_rows(theirs, row_capacity, columns, reserve)
        history_width = max(self.history.width, other.history.width)
        rows = self.rows + other.rows
        spare = self.config.spare_columns
        return replace(
            self, rows=rows,
            mask=Columns(torch.cat([_pad_left(self.mask.view, width), _pad_left(other.mask.view, width)]), spare),
            history=Columns(torch.cat([_pad_ids(self.history.view, history_width),
                                       _pad_ids(other.history.view, history_width)]), spare),
            params=self.params.concat(other.params),
            **{name: _joined(getattr(self, name), getattr(other, name))
               for name in ("positions", "last_tokens", "seeds", "steps", "limits", "slots", "steps_on_device",
                            "slots_on_device")})


def _joined(first, second):
    """Two per-row arrays, one after the other (tensors or NumPy arrays)."""
    return torch.cat([first, second]) if isinstance(first, torch.Tensor) else np.concatenate([first, second])


def _pad_ids(history: torch.Tensor, width: int) -> torch.Tensor:
    """Left-pad token histories by repeating each row's first token: padding penalizes nothing new."""
    missing = width - history.shape[1]
    return history if missing == 0 else torch.cat([history[:, :1].expand(-1, missing), history], dim=1)


def _pad_left(mask: torch.Tensor, width: int) -> torch.Tensor:
    """Zero-pad an attention mask ([rows, columns]) on the left up to `width` columns."""
    missing = width - mask.shape[1]
    return mask if missing == 0 else torch.cat([mask.new_zeros(mask.shape[0], missing), mask], dim=1)
