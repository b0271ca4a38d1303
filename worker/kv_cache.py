"""A KV cache layer with room for the whole batch: it appends in place, and rows join and leave it
without copying the rows that stay.

transformers' `DynamicLayer` does `torch.cat([keys, new], dim=-2)` per layer per step: a full copy
of the cache every token (17 % of a CPU step in our profile). `GrowableLayer` keeps its keys and
values in buffers [row capacity, heads, time capacity, head_dim] and writes each step's keys into
them; `keys`/`values` are views of the filled part ([rows, heads, length, head_dim]), so the model's
attention code sees exactly what it would with `DynamicLayer`.

Rows are right-aligned (every row's next token goes in column `length`), and the running batch's
buffers are sized for the rows it may hold and the model's whole context (or more, if its rows need
more columns; `worker/batch_state.py` asks), so that:
- rows joining (`append_rows`) are written into free rows, left-padded with zeros: the running rows
  are not copied (if the newcomers' history is longer, they move right within their own rows);
- rows leaving (`move_rows`) leave holes that rows from the end of the batch move into: only those
  rows are copied; leading columns no row uses any more are dropped by shifting left in place
  (`drop_columns`).
No new buffer is allocated while the old one is alive except when the rows need more than the
buffers hold (more rows, or more columns than the model's context): on a GPU, whose memory plan
counts every row at the full context, a second buffer would not fit.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from worker.engine_config import EngineConfig


class GrowableLayer(DynamicLayer):
    """One layer's keys and values in buffers with room for the batch (see the module doc). `config`:
    how much room a full buffer grows by, and when a shift goes through a copy."""

    def __init__(self, config: EngineConfig):
        super().__init__()
        self.spare_columns = config.kv_spare_columns
        self.max_shift_chunks = config.max_shift_chunks

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        super().lazy_initialization(key_states, value_states)
        self._key_buffer = self._value_buffer = None

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
            self.keys = key_states.new_zeros(key_states.shape[:2] + (0,) + key_states.shape[3:])
            self.values = self.keys.clone()
        rows, length, added = key_states.shape[0], self.keys.shape[-2], key_states.shape[-2]
        if length + added > self.capacity[1]:  # no buffer yet, or a full one: move into a wider one
            self.adopt(self.capacity[0], length + added + self.spare_columns)
        self._key_buffer[:rows, :, length:length + added] = key_states
        self._value_buffer[:rows, :, length:length + added] = value_states
        self._show(rows, length + added)
        return self.keys, self.values

    @property
    def capacity(self) -> tuple[int, int]:
        """(rows, columns) the buffers hold; (0, 0) before the first update."""
        return (0, 0) if self._key_buffer is None else (self._key_buffer.shape[0], self._key_buffer.shape[2])

    def append_rows(self, other: GrowableLayer, row_capacity: int, columns: int, reserve: int = 0) -> bool:
        """`other`'s rows after these, both right-aligned to the longer history, zero-padded on the left.
        The rows need `columns` columns from now on. In place (returns True) while the buffers hold
        them: the rows already here stay where they are, or move right within their rows if `other`'s
        history is longer. Otherwise (returns False) everything moves once into new buffers of
        `row_capacity` rows and `reserve` columns, or as many as needed if more."""
        rows, length = self.keys.shape[0], self.keys.shape[-2]
        joining, their_length = other.keys.shape[0], other.keys.shape[-2]
        held_rows, held_columns = self.capacity
        width = max(length, their_length)
        in_place = rows + joining <= held_rows and max(columns, width + 1) <= held_columns
        if in_place:
            if width > length:  # the newcomers' history is longer: shift these rows right, pad their left
                self._shift(rows, 0, length, width - length)
                self._zero(slice(0, rows), width - length)
        else:
            self._allocate(max(row_capacity, rows + joining), max(columns, reserve, width + 1))
            self._place(slice(0, rows), self.keys, self.values, width)
        self._place(slice(rows, rows + joining), other.keys, other.values, width)
        self._show(rows + joining, width)
        return in_place

    def move_rows(self, destinations: list[int], sources: list[int], rows: int) -> None:
        """Row `sources[i]` moves into row `destinations[i]`; then the first `rows` rows are the batch.
        Every source lies past `rows` and every destination before it, so no move overwrites a source."""
        length = self.keys.shape[-2]
        if destinations:
            to = torch.tensor(destinations, dtype=torch.long, device=self.keys.device)
            source = torch.tensor(sources, dtype=torch.long, device=self.keys.device)
            for buffer in (self._key_buffer, self._value_buffer):
                buffer[to, :, :length] = buffer[source, :, :length]
        self._show(rows, length)

    def drop_columns(self, first: int) -> None:
        """Drop the `first` leading columns (no row uses them any more), shifting the rest left in place."""
        rows, length = self.keys.shape[0], self.keys.shape[-2]
        self._shift(rows, first, length, -first)
        self._show(rows, length - first)

    def adopt(self, row_capacity: int, columns: int) -> None:
        """Move these rows into new buffers of `row_capacity` rows and `columns` columns (a fresh batch's
        first rows, whose prefill cache is only as big as they are; or a buffer that is full)."""
        rows, length = self.keys.shape[0], self.keys.shape[-2]
        self._allocate(max(row_capacity, rows), max(columns, length + 1))
        self._place(slice(0, rows), self.keys, self.values, length)
        self._show(rows, length)

    # --- internals -----------------------------------------------------------------------------
    def _allocate(self, rows: int, columns: int) -> None:
        shape = (rows, self.keys.shape[1], columns, self.keys.shape[3])  # `keys` still views the old buffer
        self._key_buffer, self._value_buffer = self.keys.new_empty(shape), self.values.new_empty(shape)

    def _place(self, rows: slice, keys: torch.Tensor, values: torch.Tensor, length: int) -> None:
        """Write [n, heads, t, dim] keys/values into `rows`, right-aligned at column `length`."""
        pad = length - keys.shape[-2]
        self._zero(rows, pad)
        self._key_buffer[rows, :, pad:length] = keys
        self._value_buffer[rows, :, pad:length] = values

    def _zero(self, rows: slice, columns: int) -> None:
        """Masked out, but never garbage: 0 x NaN would still be NaN in attention's weighted sum."""
        self._key_buffer[rows, :, :columns] = 0
        self._value_buffer[rows, :, :columns] = 0

    def _shift(self, rows: int, start: int, stop: int, by: int) -> None:
        """Move columns [start, stop) of the first `rows` rows by `by` (< 0: left) in place, in chunks no
        wider than the shift, so that no chunk overlaps where it goes (a few chunks when dropping a
        quarter of the columns or more); past `max_shift_chunks`, through one copy of that region."""
        width = abs(by)
        starts = list(range(start, stop, width))
        if len(starts) > self.max_shift_chunks:
            for buffer in (self._key_buffer, self._value_buffer):
                buffer[:rows, :, start + by:stop + by] = buffer[:rows, :, start:stop].clone()
            return
        for first in (starts if by < 0 else reversed(starts)):  # never onto a column not yet moved
            last = min(first + width, stop)
            for buffer in (self._key_buffer, self._value_buffer):
                buffer[:rows, :, first + by:last + by] = buffer[:rows, :, first:last]

    def _show(self, rows: int, length: int) -> None:
        self.keys = self._key_buffer[:rows, :, :length]
        self.values = self._value_buffer[:rows, :, :length]


def growable_cache(model_config, config: EngineConfig) -> DynamicCache:
    """A cache for `model_config`'s layers, each a `GrowableLayer` tuned by `config`."""
    cache = DynamicCache(config=model_config)
    cache.layers = [GrowableLayer(config) for _ in cache.layers]
    return cache
