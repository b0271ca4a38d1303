"""Turn finished generations into the output records the gallery stores and shows."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from shared.contract.packed_tokens import PackedTokens
from shared.contract.records import Output, Request, TokenDetails, TokenStep, gallery_group
from shared.teaching.metrics import output_metrics
from worker.engine import GenerationResult
from worker.model import LoadedModel
from worker.token_record import TokenSteps


def build_outputs(request: Request, results: dict[int, GenerationResult], loaded: LoadedModel,
                  worker: str) -> tuple[list[Output], dict[str, PackedTokens]]:
    """(output records, token details by output id, packed) of a finished submission."""
    provenance = loaded.provenance()
    outputs, details = [], {}
    for index, result in sorted(results.items()):
        item = request.items[index]
        text = loaded.tokenizer.decode(result.token_ids, skip_special_tokens=True)
        output_id = f"{request.id}:{index}"
        details[output_id] = packed_tokens(loaded, result)
        group_key, label = gallery_group(request.lab, item, loaded.name)
        outputs.append(Output(
            id=output_id, submission_id=request.id, index=index, class_code=request.class_code,
            student_id=request.student_id, student=request.student, lab=request.lab,
            prompt=item.prompt, variant=item.variant, text=text, token_ids=tuple(result.token_ids),
            config=item.config, effective_config=item.config.effective(), group_key=group_key, label=label,
            seed=item.seed, prompt_tokens=result.prompt_tokens, new_tokens=len(result.token_ids),
            finish_reason=result.finish_reason, created_at=request.created_at, started_at=result.started_at,
            finished_at=time.time(), generation_seconds=round(result.finished_at - result.started_at, 4),
            worker=worker, provenance=provenance,
            metrics=output_metrics(text, len(result.token_ids), result.finish_reason, result.logprobs),
            details_id=output_id, cached_from=None))
    return outputs, details


def cached_copy(original: Output, request: Request, index: int) -> Output:
    """An output answered from the cache: the original's text and figures, this submission's identity and
    what it asked for (a greedy answer is shared across seeds: the copy shows its own student's seed)."""
    item, now = request.items[index], time.time()
    group_key, label = gallery_group(request.lab, item, original.model)
    return replace(original, id=f"{request.id}:{index}", submission_id=request.id, index=index,
                   seed=item.seed, config=item.config,
                   class_code=request.class_code, student_id=request.student_id, student=request.student,
                   lab=request.lab, variant=item.variant, group_key=group_key, label=label,
                   created_at=request.created_at, started_at=now, finished_at=now, generation_seconds=0.0,
                   cached_from=original.id, details_id=original.details_id or original.id, checks={})


def token_details(loaded: LoadedModel, result: GenerationResult) -> TokenDetails:
    """What the token view needs: each token's text, log-probability and alternatives with their text."""
    pieces = [loaded.token_texts[t] for t in result.token_ids]
    steps = []
    for piece, logprob, step in zip(pieces, result.logprobs, result.steps or [{}] * len(pieces), strict=True):
        steps.append(TokenStep(text=piece, logprob=logprob, p=step.get("p"),
                               model=tuple((loaded.token_texts[i], p) for i, p in step.get("model", [])),
                               sampled=tuple((loaded.token_texts[i], p) for i, p in step.get("sampled", []))))
    return TokenDetails(token_ids=tuple(result.token_ids), logprobs=tuple(result.logprobs),
                        finish_reason=result.finish_reason, steps=tuple(steps))



def packed_tokens(loaded: LoadedModel, result: GenerationResult) -> PackedTokens:
    """The token view's data of one output as stored (shared/contract/packed_tokens.py): ids, not texts,
    read from the engine's record in bulk (the cut alternatives too, as probability 0)."""
    steps = result.steps
    if not isinstance(steps, TokenSteps) or not len(steps):
        return PackedTokens(model=loaded.name, finish_reason=result.finish_reason,
                            token_ids=tuple(result.token_ids), logprobs=tuple(result.logprobs))
    record, fields = steps.record.astype(np.float64), steps.layout
    ids = lambda columns: tuple(record[:, columns].astype(np.int64).ravel().tolist())  # noqa: E731
    probs = lambda columns: tuple(record[:, columns].ravel().tolist())  # noqa: E731
    return PackedTokens(model=loaded.name, finish_reason=result.finish_reason, token_ids=tuple(result.token_ids),
                        logprobs=tuple(result.logprobs), top=fields.top, p=probs(fields.p),
                        model_ids=ids(fields.model_ids), model_probs=probs(fields.model_probs),
                        sampled_ids=ids(fields.sampled_ids), sampled_probs=probs(fields.sampled_probs))
