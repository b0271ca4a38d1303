"""Per-row state that gains one column per step (attention mask, repetition-penalty history), written
in place into spare room instead of `torch.cat`-ing a new [rows, n] tensor at every step."""

from __future__ import annotations

import torch


class Columns:
    """A [rows, width] tensor with spare columns on the right; `view` is the filled part. `spare`: the
    columns added whenever it fills (EngineConfig.spare_columns)."""

    def __init__(self, tensor: torch.Tensor, spare: int):
        self.width = tensor.shape[1]
        self.spare = spare
        self.buffer = tensor.new_empty(tensor.shape[0], self.width + spare)  # [rows, capacity]
        self.buffer[:, :self.width] = tensor

    @property
    def view(self) -> torch.Tensor:
        return self.buffer[:, :self.width]  # [rows, width]

    def append(self, column) -> None:
        """Write `column` ([rows] tensor, or one number for every row) as the next column."""
        if self.width == self.buffer.shape[1]:
            self.buffer = torch.cat([self.buffer, self.buffer.new_empty(self.buffer.shape[0], self.spare)], dim=1)
        self.buffer[:, self.width] = column
        self.width += 1

    def select(self, index: torch.Tensor) -> Columns:
        """Rows `index` only (a new buffer)."""
        return Columns(self.view[index], self.spare)
