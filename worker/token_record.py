"""The token view's record of every generated token, kept on the device until its row finishes.

Each step, the `Sampler` records one row of floats per generated token (worker/sampling.py), laid out
as `RecordLayout` names them: token id, log-probability under the model, the model's top alternatives
and those of the distribution sampled from, and the chosen token's probability there. `RecordBook` writes them into
a preallocated [slots, tokens, width] buffer with one indexed copy per step; a row's record crosses to
the host once, when it finishes, and its per-token dicts are only built when someone reads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


class RecordLayout:
    """Where each field of a token's record sits in its row of `width` floats (`top` alternatives)."""

    def __init__(self, top: int):
        self.top = top
        self.token = 0                                  # the chosen token id
        self.logprob = 1                                # its log-probability under the model
        self.model_ids = slice(2, 2 + top)              # the model's own best tokens (before the penalty)
        self.model_probs = slice(2 + top, 2 + 2 * top)  # their probabilities under the model
        self.sampled_ids = slice(2 + 2 * top, 2 + 3 * top)    # the best tokens of the distribution drawn from
        self.sampled_probs = slice(2 + 3 * top, 2 + 4 * top)  # their probabilities there (0 = cut)
        # (a vocabulary of fewer than `top` tokens leaves the last alternatives blank: id -1, probability 0)
        self.p = 2 + 4 * top                            # the chosen token's probability there
        self.width = 3 + 4 * top


class RecordBook:
    """Row slot s writes its t-th generated token's record at [s, t]; slots are reused. `spare_tokens`:
    room added past the longest admitted request when the buffer grows (EngineConfig.record_spare_tokens)."""

    def __init__(self, slots: int, width: int, device: torch.device, spare_tokens: int):
        self.spare_tokens = spare_tokens
        self.buffer = torch.zeros(slots, 0, width, dtype=torch.float32, device=device)  # [slots, tokens, width]

    def make_room(self, tokens: int) -> None:
        """Room for `tokens` per row (a copy only when a longer request than ever before arrives)."""
        slots, length, width = self.buffer.shape
        if tokens > length:
            grown = self.buffer.new_zeros(slots, tokens + self.spare_tokens, width)
            grown[:, :length] = self.buffer
            self.buffer = grown

    def write(self, slots: torch.Tensor, steps: torch.Tensor, record: torch.Tensor) -> None:
        """record[i] ([width]) is row slot slots[i]'s token number steps[i]."""
        tokens = self.buffer.shape[1]  # one row copy each, by flat position: ~2x an index_put_ of (slot, step)
        self.buffer.view(-1, self.buffer.shape[2]).index_copy_(0, slots * tokens + steps, record)

    def read(self, slots: list[int], tokens: int) -> np.ndarray:
        """[len(slots), tokens, width] for finished rows, in one transfer."""
        index = torch.as_tensor(slots, dtype=torch.long, device=self.buffer.device)
        return self.buffer[index, :tokens].cpu().numpy()


class TokenSteps(Sequence):
    """Per generated token, what the token view shows (built on access, from the finished record):
    the model's top alternatives (`model`), those of the distribution actually sampled from after the
    config's processors (`sampled`, cut tokens left out), and the chosen token's probability there (`p`)."""

    def __init__(self, record: np.ndarray, layout: RecordLayout):
        self.record = record  # [tokens, layout.width] as the engine wrote it
        self.layout = layout
        self._lists = None

    def __len__(self) -> int:
        return len(self.record)

    def __getitem__(self, position):
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        model_ids, model_probs, sampled_ids, sampled_probs, sampled_exact, p = self._as_lists()
        return {"p": p[position],
                "model": [[i, q] for i, q in zip(model_ids[position], model_probs[position]) if i >= 0],
                "sampled": [[i, q] for i, q, exact in zip(sampled_ids[position], sampled_probs[position],
                                                          sampled_exact[position]) if exact > 0]}

    def _as_lists(self):
        """The columns as Python lists, converted in bulk once (per-element NumPy access is slow)."""
        if self._lists is None:
            fields, record = self.layout, self.record.astype(np.float64)
            ids = lambda field: record[:, field].astype(np.int64).tolist()  # noqa: E731
            probs = lambda field: np.round(record[:, field], 5).tolist()  # noqa: E731
            self._lists = (ids(fields.model_ids), probs(fields.model_probs), ids(fields.sampled_ids),
                           probs(fields.sampled_probs), record[:, fields.sampled_probs].tolist(), probs(fields.p))
        return self._lists

    def __eq__(self, other) -> bool:
        return list(self) == list(other)
