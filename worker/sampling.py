"""Choosing the next token for every row of a batch at once, each row with its own decoding config.

The arithmetic follows transformers' processors, in transformers' order:
`RepetitionPenaltyLogitsProcessor` -> `TemperatureLogitsWarper` -> `TopKLogitsWarper` ->
`TopPLogitsWarper` -> sample; greedy rows take the argmax right after the repetition penalty.
The kept set is transformers': top-k keeps every token scoring at least the k-th score (ties at the
cut included), top-p removes tokens whose ascending cumulative probability is at most `1 - top_p`,
that threshold computed in double and then cast, as `TopPLogitsWarper` compares with a Python float.

Where the work goes: every row gets a *window* of candidates, wide enough for the batch's largest
top_k plus a margin for ties, in exact (score descending, token id ascending) order, with a fence no
token left out can beat (a shortlist, worker/candidates.py: one `topk`). Top-k, top-p, sampling and the token view's record then work on that
window ([rows, window], not [rows, 50257]). A row whose top-k ties run past the window's end, whose
window does not clear its fence, and rows with no top-k cut or a very large one, are decided over
their whole sorted vocabulary instead; both give the same kept set, so a row's token never depends on
which other rows share the batch or on how its shortlist was found.

Randomness: sampling uses the Gumbel-max trick, token = argmax(logit / T + g), with g drawn from a
hash of (seed, step, token id) (worker/gumbel.py): the same prompt + config + seed gives the same tokens
alone or in any batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from worker import candidates
from worker.candidates import numpy_path
from worker.engine_config import DEFAULT_CONFIG, EngineConfig
from worker.gumbel import gumbel_noise
from worker.token_record import RecordLayout


def top_p_threshold(top_p: float) -> float:
    """Cumulative probability at or below which top-p removes a token: `1 - top_p` in double, as
    `TopPLogitsWarper` computes it (then compared in float32). In float32, 1 - 0.999 is a hair
    smaller and keeps one token too many."""
    return 1.0 - float(top_p)


@dataclass(frozen=True)
class HostParams:
    """The host's copy of the per-row values the fast paths are chosen from (one entry per row), so
    that rows joining and leaving never read them back from the device."""

    do_sample: np.ndarray  # bool
    top_k: np.ndarray      # int64; 0 = no cut
    top_p: np.ndarray      # float64; 1.0 = no cut
    penalty: np.ndarray    # float64; 1.0 = no penalty
    record_top: int        # alternatives the record lists: the window holds at least as many
    tuning: EngineConfig   # the window's limit and tie margin

    def select(self, order: list[int]) -> HostParams:
        return replace(self, **{name: getattr(self, name)[order] for name in _HOST_COLUMNS})

    def concat(self, other: HostParams) -> HostParams:
        return replace(self, **{name: np.concatenate([getattr(self, name), getattr(other, name)])
                                for name in _HOST_COLUMNS})


_HOST_COLUMNS = ("do_sample", "top_k", "top_p", "penalty")
_DEVICE_COLUMNS = ("do_sample", "temperature", "top_k", "top_p", "threshold", "repetition_penalty")


@dataclass
class RowParams:
    """Per-row decoding parameters: tensors on the model's device (one entry per row), and what the
    host needs to pick fast paths without waiting for the device. Built once per row from its config
    (`from_configs`); rows leaving and joining gather and concatenate the device columns on the
    device (`select`, `concat`), and only the host's summaries are worked out again."""

    do_sample: torch.Tensor           # bool
    temperature: torch.Tensor         # float32; 1.0 = no change
    top_k: torch.Tensor               # int64; 0 = no cut
    top_p: torch.Tensor               # float32; 1.0 = no cut
    threshold: torch.Tensor           # float32; top-p removes cumulative mass <= this (top_p_threshold)
    repetition_penalty: torch.Tensor  # float32; 1.0 = no penalty
    any_penalty: bool                 # some row has a repetition penalty other than 1.0
    any_top_p: bool                   # some sampling row has top_p < 1
    window: int                       # candidates per row in the shared window
    full_rows: torch.Tensor           # [n] rows decided over the whole vocabulary (no or a very large top-k)
    greedy_rows: torch.Tensor         # [n] rows that take the argmax
    top_p_rows: torch.Tensor | None = None  # [n] sampling rows with top_p < 1 (None: check every row)
    host: HostParams | None = None    # the host's copy (None: a subset for `decide_among`, see `rows`)

    @classmethod
    def from_configs(cls, configs, device, record_top: int = 0, tuning: EngineConfig = DEFAULT_CONFIG) -> RowParams:
        """The rows' parameters; the window holds the batch's largest top_k (up to `tuning.window_limit`)
        or `record_top`, plus `tuning.tie_margin`."""
        def column(values, dtype):
            return torch.tensor(values, dtype=dtype, device=device)

        host = HostParams(do_sample=np.array([c.do_sample for c in configs], dtype=bool),
                          top_k=np.array([c.top_k or 0 for c in configs], dtype=np.int64),
                          top_p=np.array([c.top_p for c in configs], dtype=np.float64),
                          penalty=np.array([c.repetition_penalty for c in configs], dtype=np.float64),
                          record_top=record_top, tuning=tuning)
        columns = dict(do_sample=column(host.do_sample, torch.bool),
                       temperature=column([c.temperature for c in configs], torch.float32),
                       top_k=column(host.top_k, torch.int64), top_p=column(host.top_p, torch.float32),
                       threshold=column([top_p_threshold(p) for p in host.top_p], torch.float64).float(),
                       repetition_penalty=column(host.penalty, torch.float32))
        return cls._with_summaries(columns, host, torch.device(device))

    def select(self, index: torch.Tensor, order: list[int]) -> RowParams:
        """Rows `order` (`index`: the same positions, on the device), in that order."""
        columns = {name: getattr(self, name)[index] for name in _DEVICE_COLUMNS}
        return self._with_summaries(columns, self.host.select(order), index.device)

    def concat(self, other: RowParams) -> RowParams:
        """These rows, then `other`'s."""
        columns = {name: torch.cat([getattr(self, name), getattr(other, name)]) for name in _DEVICE_COLUMNS}
        return self._with_summaries(columns, self.host.concat(other.host), self.do_sample.device)

    @classmethod
    def _with_summaries(cls, columns: dict, host: HostParams, device: torch.device) -> RowParams:
        """The device columns with what the host works out from its copy: which fast paths the rows take
        (three small index vectors go to the device)."""
        sample, top_k, top_p = host.do_sample, host.top_k, host.top_p
        in_window = sample & (top_k > 0) & (top_k <= host.tuning.window_limit)
        largest = int(top_k[in_window].max()) if in_window.any() else 1

        def rows(mask):
            return torch.tensor(np.flatnonzero(mask), dtype=torch.int64, device=device)

        return cls(**columns, any_penalty=bool((host.penalty != 1.0).any()),
                   any_top_p=bool((sample & (top_p < 1.0)).any()),
                   window=max(largest, host.record_top, 1) + host.tuning.tie_margin,
                   full_rows=rows(sample & ~in_window), greedy_rows=rows(~sample),
                   top_p_rows=rows(sample & (top_p < 1.0)), host=host)

    def rows(self, index: torch.Tensor) -> RowParams:
        """The tensors of rows `index` only (host summaries are not carried over)."""
        none = index[:0]
        return RowParams(*(getattr(self, n)[index] for n in _DEVICE_COLUMNS), self.any_penalty, self.any_top_p,
                         self.window, full_rows=none, greedy_rows=none)


def penalize_(scores: torch.Tensor, history: torch.Tensor, penalty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Penalize every token id in `history` (prompt and output so far) in place, as transformers does:
    gather those scores, divide positive ones (multiply negative ones) by the penalty, scatter back.
    Returns the history's scores before and after ([rows, n])."""
    picked = scores.gather(1, history)  # [rows, n]
    column = penalty[:, None]
    penalized = torch.where(picked < 0, picked * column, picked / column)
    scores.scatter_(1, history, penalized)
    return picked, penalized


@dataclass
class Choice:
    """The tokens chosen for a batch, and (when asked for) what the token view records of each."""

    tokens: torch.Tensor                # [rows] int64 chosen ids
    record: torch.Tensor | None = None  # [rows, RecordLayout(top).width] float32
    recounted_rows: int = 0             # window rows decided again over the whole vocabulary (ties)
    eos: np.ndarray | None = None       # [rows] bool on the host: the row chose EOS (when asked for)


@dataclass
class Penalty:
    """What `Sampler.penalize` did to the scores (in place), for the steps after it."""

    model_scores: torch.Tensor | None  # [rows, vocab] scores before the penalty (None: not kept, nobody needs them)
    before: torch.Tensor | None = None  # [rows, n] the history's scores before the penalty (None: no penalty)
    after: torch.Tensor | None = None   # [rows, n] and after


@dataclass
class Window:
    """Every row's best `params.window` tokens after the penalty, in exact order (`Sampler.shortlist`)."""

    values: torch.Tensor               # [rows, width] penalized scores, descending (ties: lower id first)
    ids: torch.Tensor                  # [rows, width] their token ids
    model_scores: torch.Tensor | None  # [rows, vocab] the scores before the penalty (the record's log-probs)
    model_top: tuple | None            # (ids, scores) [rows, top] the model's own best, before the penalty
    short: torch.Tensor                # [rows] bool: not provably the row's best (decide over the vocabulary)


@dataclass
class Decision:
    """What `decide_among` makes of rows' sorted candidates: all [n, width] in candidate order."""

    tokens: torch.Tensor     # [n] chosen ids
    index: torch.Tensor      # [n, width] candidate token ids, score descending, id ascending
    values: torch.Tensor     # [n, width] their penalized scores
    probs: torch.Tensor      # [n, width] the distribution sampled from (greedy rows: see _greedy_probs)
    chosen: torch.Tensor     # [n, 1] position of the chosen token among the candidates
    spilled: torch.Tensor    # [n] bool: the kept set may run past these candidates (window only)


@dataclass
class Decided:
    """`Sampler.decide`'s answer: every row's token, and the decisions it came from (for the record)."""

    tokens: torch.Tensor                              # [rows] int64 chosen ids
    window: Decision                                  # every row, decided on its window
    in_full: list[tuple[torch.Tensor, Decision]]      # (rows, their decision over the whole vocabulary); disjoint
    eos: np.ndarray | None                            # [rows] bool on the host, with an `eos_token_id`
    recounted_rows: int                               # window rows a tie at a cut sent to the whole vocabulary


class Sampler:
    """Chooses every row's next token, each row with its own config, in four named steps (as vLLM v1's
    `Sampler.forward` names penalties, temperature, top-k/top-p, sampling and logprobs):

    1. `penalize`: the repetition penalty, in place, on the history's scores only;
    2. `shortlist`: every row's best candidates in exact order, with a fence (worker/candidates.py);
    3. `decide`: temperature, top-k, top-p and the Gumbel draw on those candidates; rows the host knows
       need the whole vocabulary first, then the step's one wait for the device, then (rarely) the rows
       a tie at a cut sent to their whole vocabulary;
    4. `record`: with `top`, each token's record for the token view (RecordLayout).

    The model's normalizer is taken before the penalty (the record's log-probabilities are the
    model's). `top`: alternatives recorded per token (None: no record); `eos_token_id`: also say which
    rows chose it (`Choice.eos`, on the host, in the same transfer)."""

    def __init__(self, top: int | None = None, eos_token_id: int | None = None):
        self.top = top
        self.eos_token_id = eos_token_id

    def __call__(self, scores: torch.Tensor, history: torch.Tensor, params: RowParams, keys: torch.Tensor) -> Choice:
        """Next token of every row. `scores`: float32 logits [rows, vocab], penalized in place;
        `history`: [rows, n] token ids the penalty looks at; `keys`: one (seed, step) key per row."""
        normalizer = log_normalizer(scores) if self.top is not None else None  # [rows, 2], before the penalty
        penalty = self.penalize(scores, history, params)
        window = self.shortlist(scores, params, penalty)
        decided = self.decide(scores, window, params, keys)
        record = self.record(decided, window, scores, params, normalizer)
        return Choice(decided.tokens, record, decided.recounted_rows, decided.eos)

    def penalize(self, scores: torch.Tensor, history: torch.Tensor, params: RowParams) -> Penalty:
        """The repetition penalty on `scores`, in place (only the history's entries change); keeps the
        scores from before it when the record needs the model's own."""
        if not params.any_penalty:
            return Penalty(model_scores=scores)
        model_scores = scores.clone() if self.top is not None else None
        before, after = penalize_(scores, history, params.repetition_penalty)
        return Penalty(model_scores, before, after)

    def shortlist(self, scores: torch.Tensor, params: RowParams, penalty: Penalty) -> Window:
        """Every row's best `params.window` tokens after the penalty; with a penalty in the batch and a
        record, also the model's own best `top` tokens before it (the record's alternatives). A row for
        which either list is not provably exact (ties or near-ties at its end) is marked `short`."""
        listed = candidates.shortlist(scores, params.window)
        short = listed.values[:, -1] <= listed.fence
        model_top = None
        if penalty.before is not None and self.top:
            model_top, unsure = _model_top(penalty.model_scores, listed, penalty.before, penalty.after, self.top)
            short |= unsure
        return Window(listed.values, listed.ids, penalty.model_scores, model_top, short)

    def decide(self, scores: torch.Tensor, window: Window, params: RowParams, keys: torch.Tensor) -> Decided:
        """Every row's token: on its window, or over its whole sorted vocabulary where the window cannot
        decide it (no or a very large top-k, known on the host; ties at a cut, known after the step's
        one transfer, which also brings which rows chose EOS)."""
        decision = decide_among(window.values, window.ids, params, keys, complete=False)
        tokens, in_full = decision.tokens, []
        undecided = decision.spilled | window.short  # [rows] bool: the window cannot decide the row
        if len(params.full_rows):  # rows the host knows need the whole vocabulary: decided first, no wait
            tokens = _decide_in_full(scores, params, keys, params.full_rows, tokens, in_full)
            undecided = undecided.index_fill(0, params.full_rows, False)
        asked = [undecided] if self.eos_token_id is None else [undecided, tokens == self.eos_token_id]
        flags = torch.stack(asked).cpu().numpy()  # the step's one wait for the device: [1 or 2, rows]
        redo = np.flatnonzero(flags[0])
        eos = None if self.eos_token_id is None else flags[1].copy()
        if len(redo):  # a tie or near-tie at a cut: those rows again, over their whole vocabulary
            rows = torch.from_numpy(redo).to(tokens.device)
            tokens = _decide_in_full(scores, params, keys, rows, tokens, in_full)
            if eos is not None:
                eos[redo] = (tokens[rows] == self.eos_token_id).cpu().numpy()
        return Decided(tokens, decision, in_full, eos, len(redo))

    def record(self, decided: Decided, window: Window, scores: torch.Tensor, params: RowParams,
               normalizer: torch.Tensor | None) -> torch.Tensor | None:
        """[rows, RecordLayout(top).width] what the token view shows of each chosen token (None without
        `top`): from the window's decision, or the whole vocabulary's where a row was decided there."""
        if self.top is None:
            return None
        top = self.top
        record = _record(decided.window, scores, params, normalizer, window.model_top, top)
        for rows, decision in decided.in_full:
            model_top = None
            if params.any_penalty and top:  # the model's own order differs from the penalized one
                best = window.model_scores[rows].sort(dim=-1, descending=True, stable=True)
                model_top = (best.indices[:, :top], best.values[:, :top])
            own = _record(decision, scores[rows], params.rows(rows), normalizer[rows], model_top, top)
            record = record.index_put((rows,), own)
        fields, tokens = RecordLayout(top), decided.tokens
        record[:, fields.token] = tokens.float()
        record[:, fields.logprob] = log_probs(window.model_scores.gather(1, tokens[:, None]), normalizer).squeeze(1)
        return record


def _decide_in_full(scores: torch.Tensor, params: RowParams, keys: torch.Tensor, rows: torch.Tensor,
                    tokens: torch.Tensor, decisions: list) -> torch.Tensor:
    """`tokens` with rows `rows` decided over their whole vocabulary, sorted (score descending, id
    ascending); their decision is added to `decisions` (the record's)."""
    values, index = scores[rows].sort(dim=-1, descending=True, stable=True)  # [n, vocab]
    decision = decide_among(values, index, params.rows(rows), keys[rows], complete=True)
    decisions.append((rows, decision))
    return tokens.index_put((rows,), decision.tokens)


def _model_top(model_scores: torch.Tensor, window, before: torch.Tensor, after: torch.Tensor, top: int):
    """The model's own best `top` tokens (scores before the penalty), looked for among the window's
    tokens: the penalty changed only the history's scores, so a token outside the window can beat them
    only if it is in the history, scored below the window after the penalty and above it before. Rows
    where such a token (or a tie) could be among the best are marked, to be decided in full."""
    own = model_scores.gather(1, window.ids)  # [rows, width] the window's tokens, before the penalty
    best = candidates.shortlist(own, top, ids=window.ids, sort_all=True)  # exact order; its fence bounds the rest
    left_out = torch.where(after < window.values[:, -1:], before, -float("inf")).amax(dim=1)  # history outside
    bound = torch.maximum(torch.maximum(best.fence, window.fence), left_out)
    return (best.ids, best.values), best.values[:, -1] <= bound


def decide_among(values: torch.Tensor, index: torch.Tensor, params: RowParams, keys: torch.Tensor,
                 complete: bool) -> Decision:
    """Temperature, top-k, top-p and the Gumbel draw on sorted candidates [n, width] (penalized scores).
    `complete`: the candidates are the whole vocabulary, so nothing can spill past them."""
    scaled = values / params.temperature[:, None]  # [n, width], still descending (division is monotone)
    width = scaled.shape[-1]
    k = params.top_k.clamp(max=width)
    kth = scaled.gather(1, torch.where(k > 0, k, width)[:, None] - 1)  # [n, 1] k-th score (last if no cut)
    kept = scaled >= kth  # top-k keeps every token tied with the k-th, as TopKLogitsWarper
    spilled = kept[:, -1] & params.do_sample & (params.top_k > 0) if not complete else torch.zeros_like(kept[:, -1])
    if params.any_top_p:  # only the rows with a top-p cut, when the host knows which
        rows = params.top_p_rows
        if rows is None or len(rows) == len(kept):
            kept &= ~_nucleus_removed(scaled, kept, params.threshold)
        else:
            kept = kept.index_put((rows,), kept[rows] & ~_nucleus_removed(scaled[rows], kept[rows],
                                                                          params.threshold[rows]))
    masked = scaled.masked_fill(~kept, -float("inf"))
    pick = _first_argmax(masked + gumbel_noise(keys, index))  # [n, 1]
    pick = torch.where(params.do_sample[:, None], pick, 0)  # greedy: the first candidate (lowest id of the best)
    return Decision(index.gather(1, pick).squeeze(1), index, values, masked.softmax(dim=-1), pick, spilled)


def _first_argmax(values: torch.Tensor) -> torch.Tensor:
    """[n, 1] position of each row's largest value, the first one if tied (as `torch.argmax`). On a CPU
    through NumPy, whose argmax is vectorised (torch's runs element by element along a row there)."""
    if numpy_path(values):
        return torch.from_numpy(values.numpy().argmax(axis=1)[:, None])
    return values.argmax(dim=-1, keepdim=True)


def _nucleus_removed(scaled: torch.Tensor, kept: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """TopPLogitsWarper on descending candidates: remove what the ascending cumulative softmax puts at
    or below `threshold`, always keeping the best. In double, so the sums cannot depend on how many
    cut candidates share the tensor (the window's width, i.e. the other rows)."""
    exp = (scaled.double() - scaled[:, :1].double()).exp_().masked_fill_(~kept, 0.0)  # [n, width]
    ascending = exp.flip(-1).cumsum(dim=-1)  # cut tokens first, adding exact zeros
    cumulative = (ascending / ascending[:, -1:]).float()
    removed = cumulative <= threshold[:, None]
    removed[:, -1] = False
    return removed.flip(-1)


def _record(decision: Decision, scores: torch.Tensor, params: RowParams, normalizer: torch.Tensor,
            model_top: tuple | None, top: int) -> torch.Tensor:
    """[n, RecordLayout(top).width] of rows decided by `decision`; the token and its model log-prob are
    filled in by `Sampler.record`."""
    probs = _greedy_probs(decision, scores, params, normalizer)
    if model_top is None:  # no penalty: the candidates' order is the model's own
        model_ids, model_scores = decision.index[:, :top], decision.values[:, :top]
    else:
        model_ids, model_scores = model_top
    fields = RecordLayout(top)
    record = decision.values.new_zeros(len(decision.values), fields.width)
    record[:, fields.model_ids] = record[:, fields.sampled_ids] = BLANK_ID
    _fill(record, fields.model_ids, model_ids)
    _fill(record, fields.model_probs, log_probs(model_scores, normalizer).exp())
    _fill(record, fields.sampled_ids, decision.index[:, :top])
    _fill(record, fields.sampled_probs, probs[:, :top])
    record[:, fields.p] = probs.gather(1, decision.chosen).squeeze(1)
    return record


def _greedy_probs(decision: Decision, scores: torch.Tensor, params: RowParams, normalizer: torch.Tensor) -> torch.Tensor:
    """The sampled distribution, where greedy rows show the softmax after the repetition penalty over
    the whole vocabulary (what greedy search takes the argmax of), not one over the candidates."""
    if not len(params.greedy_rows):  # also the rows decided in full: their softmax is already that
        return decision.probs
    total = normalizer
    if params.any_penalty:  # the penalty changed the normalizer of the greedy rows (only)
        total = normalizer.index_put((params.greedy_rows,), log_normalizer(scores[params.greedy_rows]))
    return torch.where(~params.do_sample[:, None], log_probs(decision.values, total).exp(), decision.probs)




def log_normalizer(scores: torch.Tensor) -> torch.Tensor:
    """[rows, 2]: each row's largest score and log(sum(exp(score - largest))), the two numbers softmax
    divides by. Kept apart, not added into one logsumexp: at |logit| ~ 600 float32 steps by 6e-5, so
    `score - logsumexp` lost the 3e-5 that make a probability 0.99997 and not 1.0. (The kernels are
    those logsumexp runs inside itself: 4 passes, which `make bench-host` counts one by one.)"""
    peak = scores.amax(dim=-1, keepdim=True)  # [rows, 1]
    return torch.cat([peak, (scores - peak).exp_().sum(dim=-1, keepdim=True).log_()], dim=1)


def log_probs(values: torch.Tensor, normalizer: torch.Tensor) -> torch.Tensor:
    """[rows, n] log-probabilities of scores `values` under `normalizer` (log_normalizer's rows), computed
    as softmax does: the difference to the row's largest score (exact for nearby floats) first."""
    return (values - normalizer[:, :1]) - normalizer[:, 1:]


BLANK_ID = -1  # an alternative the record leaves blank: the vocabulary has fewer tokens than `top`


def _fill(record: torch.Tensor, field: slice, columns: torch.Tensor) -> None:
    """`columns` into the first places of `field`: fewer than `top` when the vocabulary is smaller."""
    start = field.start or 0
    record[:, start:start + columns.shape[1]] = columns
