"""The token view's data of one output, stored compactly: binary arrays instead of JSON text.

As JSON, one generated token's record (its text, log-probability, and the texts and probabilities of 5+5
alternatives) took ~320 bytes in Redis; packed, it takes ~25 (docs/fairness-and-storage.md has the
figures and the command that measures them). What changes:

- token texts are not repeated per output: a record holds token ids, and the texts of the model's
  vocabulary are stored once per model (`Keys.vocabulary`, written by each worker at start);
- ids are 2-byte integers (4 when the vocabulary is larger than 65,536);
- probabilities are kept as natural-log half floats (`struct` format "e"): ~3 significant digits
  however small the probability (the view shows 2), and exactly 0 for a token the config cut (-inf);
- the sampled distribution's alternatives are stored as differences from the model's (ids and
  log-probabilities): the same ids in the same order and a constant shift (top-k/top-p renormalizing)
  are runs of equal bytes, which zlib then squeezes.

Layout: MAGIC, a little-endian header (`HEADER`: version, id width, alternatives per token, tokens,
finish reason's length, model name's length), the finish reason and model name (UTF-8), then one
zlib stream of the arrays in `ARRAYS` order. Records stored as JSON before this format still read
(`TokenDetails.from_dict`); `Store.token_details` tells them apart by MAGIC.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shared.contract.records import TokenDetails, TokenStep

MAGIC = b"DLTK"  # JSON never starts with it
HEADER = struct.Struct("<BBBIHH")  # version, id bytes, top, tokens, finish reason bytes, model name bytes
VERSION = 1
ARRAYS = ("token_ids", "logprobs", "p", "model_ids", "model_logprobs", "sampled_ids", "sampled_logprobs")
NO_PROBABILITY = float("nan")  # p not recorded (outputs generated without the token view)


@dataclass(frozen=True)
class PackedTokens:
    """What the engine recorded of one output's tokens, by id; `top` alternatives per token (0 = none).
    Per token: its id and log-probability under the model, its probability `p` where it was sampled
    from, and the model's top ids and probabilities before and after the config ("sampled": 0 = cut)."""

    model: str
    finish_reason: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    top: int = 0
    p: tuple[float, ...] = ()               # [tokens]
    model_ids: tuple[int, ...] = ()         # [tokens * top]
    model_probs: tuple[float, ...] = ()     # [tokens * top]
    sampled_ids: tuple[int, ...] = ()       # [tokens * top]
    sampled_probs: tuple[float, ...] = ()   # [tokens * top]

    def to_bytes(self) -> bytes:
        ids = "H" if max((*self.token_ids, *self.model_ids, *self.sampled_ids), default=0) < 65536 else "I"
        reason, model = self.finish_reason.encode(), self.model.encode()
        head = MAGIC + HEADER.pack(VERSION, struct.calcsize(ids), self.top, len(self.token_ids), len(reason), len(model))
        p = self.p or (NO_PROBABILITY,) * len(self.token_ids)  # one per token, recorded or not
        model_logs = [_log(q) for q in self.model_probs]
        sampled_logs = [_log(q) for q in self.sampled_probs]
        arrays = [
            _pack(ids, self.token_ids), _pack("e", self.logprobs), _pack("e", [_log(q) for q in p]),
            _pack(ids, self.model_ids), _pack("e", model_logs),
            _pack(ids, [(s - m) % (1 << 8 * struct.calcsize(ids)) for s, m in zip(self.sampled_ids, self.model_ids)]),
            _pack("e", [_difference(s, m) for s, m in zip(sampled_logs, model_logs)]),
        ]
        return head + reason + model + zlib.compress(b"".join(arrays), 6)

    @classmethod
    def from_bytes(cls, raw: bytes) -> PackedTokens:
        """Raises ValueError when `raw` is not a packed record (damaged, or another version)."""
        if not raw.startswith(MAGIC):
            raise ValueError("not a packed token record")
        try:
            version, id_bytes, top, count, reason_len, model_len = HEADER.unpack_from(raw, len(MAGIC))
            start = len(MAGIC) + HEADER.size
            reason = raw[start:start + reason_len].decode()
            model = raw[start + reason_len:start + reason_len + model_len].decode()
            body = zlib.decompress(raw[start + reason_len + model_len:])
        except (struct.error, zlib.error, UnicodeDecodeError) as error:
            raise ValueError(f"damaged packed token record: {error}") from None
        if version != VERSION or id_bytes not in (2, 4):
            raise ValueError(f"packed token record of version {version}, id width {id_bytes}")
        return cls._from_arrays(model, reason, top, count, "H" if id_bytes == 2 else "I", body)

    @classmethod
    def _from_arrays(cls, model: str, reason: str, top: int, count: int, ids: str, body: bytes) -> PackedTokens:
        sizes = [count, count, count, count * top, count * top, count * top, count * top]
        kinds = [ids, "e", "e", ids, "e", ids, "e"]
        values, offset = [], 0
        for kind, size in zip(kinds, sizes, strict=True):
            values.append(struct.unpack_from(f"<{size}{kind}", body, offset))
            offset += size * struct.calcsize(kind)
        token_ids, logprobs, p_logs, model_ids, model_logs, id_steps, log_steps = values
        modulus = 1 << 8 * struct.calcsize(ids)
        return cls(model=model, finish_reason=reason, token_ids=token_ids, logprobs=logprobs, top=top,
                   p=tuple(_exp(v) for v in p_logs), model_ids=model_ids,
                   model_probs=tuple(_exp(v) for v in model_logs),
                   sampled_ids=tuple((m + d) % modulus for m, d in zip(model_ids, id_steps)),
                   sampled_probs=tuple(_exp(d if math.isinf(m) else m + d) for m, d in zip(model_logs, log_steps)))

    def ids_shown(self) -> set[int]:
        """Every token id whose text the token view shows."""
        return {*self.token_ids, *self.model_ids, *self.sampled_ids}

    def details(self, text_of: Callable[[int], str]) -> TokenDetails:
        """The token view's record, with each id's text from `text_of` (the model's vocabulary)."""
        steps = []
        for n, (token, logprob) in enumerate(zip(self.token_ids, self.logprobs)):
            window = slice(n * self.top, (n + 1) * self.top)
            p = self.p[n] if self.p and not math.isnan(self.p[n]) else None
            steps.append(TokenStep(
                text=text_of(token), logprob=round(logprob, 5), p=None if p is None else _round(p),
                model=tuple((text_of(i), _round(q)) for i, q in zip(self.model_ids[window], self.model_probs[window])),
                sampled=tuple((text_of(i), _round(q)) for i, q in zip(self.sampled_ids[window],
                                                                       self.sampled_probs[window]) if q > 0)))
        return TokenDetails(token_ids=tuple(self.token_ids), logprobs=tuple(round(v, 5) for v in self.logprobs),
                            finish_reason=self.finish_reason, steps=tuple(steps))


def texts_lookup(texts: Mapping[int, str]) -> Callable[[int], str]:
    """`text_of` for `PackedTokens.details`: an id missing from the vocabulary shows as "#id"."""
    return lambda token: texts.get(token, f"#{token}")


def _pack(kind: str, values: Sequence[float] | Sequence[int]) -> bytes:
    return struct.pack(f"<{len(values)}{kind}", *values)


def _log(probability: float) -> float:
    """Natural log of a probability, as a half float holds it: 0 -> -inf, a missing one stays NaN."""
    if math.isnan(probability):
        return probability
    return math.log(probability) if probability > 0 else -math.inf


def _exp(log_probability: float) -> float:
    return log_probability if math.isnan(log_probability) else math.exp(log_probability)


def _difference(sampled: float, model: float) -> float:
    """sampled - model in log space; a cut token (-inf) stays -inf, and beside a model probability of 0
    (-inf) the sampled one is kept as it is."""
    if math.isinf(model) or math.isinf(sampled):
        return sampled
    return sampled - model


def _round(probability: float) -> float:
    """Four significant digits: what a half float holds, without the float noise of its conversion."""
    return float(f"{probability:.4g}")
