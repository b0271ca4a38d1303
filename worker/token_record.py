"""The token view's record of every generated token, kept on the device until its row finishes.

Each step, `choose_tokens` gives one row of floats per generated token (worker/sampling.py,
`record_width`): token id, log-probability under the model, the model's top alternatives and those of
the distribution sampled from, and the chosen token's probability there. `RecordBook` writes them into
a preallocated [slots, tokens, width] buffer with one indexed copy per step; a row's record crosses to
the host once, when it finishes, and its per-token dicts are only built when someone reads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

SPARE_TOKENS = 64  # room added past the longest admitted request when the buffer grows


class RecordBook:
    """Row slot s writes its t-th generated token's record at [s, t]; slots are reused."""

    def __init__(self, slots: int, width: int, device: torch.device):
        self.buffer = torch.zeros(slots, 0, width, dtype=torch.float32, device=device)  # [slots, tokens, width]

    def make_room(self, tokens: int) -> None:
        """Room for `tokens` per row (a copy only when a longer request than ever before arrives)."""
        slots, length, width = self.buffer.shape
        if tokens > length:
            grown = self.buffer.new_zeros(slots, tokens + SPARE_TOKENS, width)
            grown[:, :length] = self.buffer
            self.buffer = grown

    def write(self, slots: torch.Tensor, steps: torch.Tensor, record: torch.Tensor) -> None:
        """record[i] ([width]) is row slot slots[i]'s token number steps[i]."""
        self.buffer.index_put_((slots, steps), record)

    def read(self, slots: list[int], tokens: int) -> np.ndarray:
        """[len(slots), tokens, width] for finished rows, in one transfer."""
        index = torch.as_tensor(slots, dtype=torch.long, device=self.buffer.device)
        return self.buffer[index, :tokens].cpu().numpy()


class TokenSteps(Sequence):
    """Per generated token, what the token view shows (built on access, from the finished record):
    the model's top alternatives (`model`), those of the distribution actually sampled from after the
    config's processors (`sampled`, cut tokens left out), and the chosen token's probability there (`p`)."""

    def __init__(self, values: np.ndarray, top: int):
        self.values = values  # [tokens, 4 * top + 1]: model ids, model probs, sampled ids, sampled probs, p
        self.top = top
        self._lists = None

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, position):
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        model_ids, model_probs, sampled_ids, sampled_probs, sampled_exact, p = self._as_lists()
        return {"p": p[position],
                "model": [[i, q] for i, q in zip(model_ids[position], model_probs[position])],
                "sampled": [[i, q] for i, q, exact in zip(sampled_ids[position], sampled_probs[position],
                                                          sampled_exact[position]) if exact > 0]}

    def _as_lists(self):
        """The columns as Python lists, converted in bulk once (per-element NumPy access is slow)."""
        if self._lists is None:
            top, values = self.top, self.values.astype(np.float64)
            ids = values[:, :4 * top].reshape(-1, 4, top)  # [tokens, column group, top]
            rounded = np.round(ids, 5)
            self._lists = (ids[:, 0].astype(np.int64).tolist(), rounded[:, 1].tolist(),
                           ids[:, 2].astype(np.int64).tolist(), rounded[:, 3].tolist(), ids[:, 3].tolist(),
                           np.round(values[:, 4 * top], 5).tolist())
        return self._lists

    def __eq__(self, other) -> bool:
        return list(self) == list(other)
