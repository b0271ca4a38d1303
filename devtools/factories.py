"""Records for tests and benchmarks, built through the contract's own types (never hand-made dicts), and
stored the way a worker stores them (`shared.services.gallery.publish`)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from shared.contract.decoding import GREEDY, SAMPLING, DecodingConfig
from shared.contract.records import DECODING, Item, Output, Provenance, Request, gallery_group
from shared.services.gallery import publish
from shared.services.store import Store

PROVENANCE = Provenance(model="m", device="cpu", dtype="float32", host="test", random_weights=True)


def make_request(class_code: str, *, id: str = "r1", student: str = "ana", student_id: str | None = None,
                 lab: str = DECODING, model: str = "m", prompt: str = "P", items: list[Item] | None = None,
                 **fields: Any) -> Request:
    items = items if items is not None else [Item(prompt=prompt, config=DecodingConfig(), seed=1)]
    return Request(id=id, class_code=class_code, student_id=student_id or student, student=student, lab=lab,
                   model=model, prompt=prompt, items=tuple(items),
                   total_tokens=sum(i.config.max_new_tokens for i in items), **fields)


def make_output(index: int, class_code: str, *, student: str = "ana", student_id: str | None = None,
                lab: str = DECODING, strategy: str = SAMPLING, temperature: float = 1.0, text: str | None = None,
                prompt: str = "P", variant: str = "", checks: dict[str, bool] | None = None, tokens: int = 10,
                distinct: float | None = 0.9, loop: bool = False, perplexity: float | None = 50.0,
                group_key: str | None = None, model: str = "m", finished_at: float | None = None,
                **fields: Any) -> Output:
    """Output `s{index}:0` of submission `s{index}`; newer for a higher index."""
    config = DecodingConfig(strategy=strategy, temperature=temperature, top_k=0 if strategy == GREEDY else 50)
    item = Item(prompt=prompt, config=config, seed=index, variant=variant)
    group, label = gallery_group(lab, item, model)
    now = time.time()
    output = Output(
        id=f"s{index}:0", submission_id=f"s{index}", index=0, class_code=class_code,
        student_id=student_id or student, student=student, lab=lab, prompt=prompt, variant=variant,
        text=text if text is not None else f"output number {index}", token_ids=(), config=config,
        effective_config=config.effective(), group_key=group_key or group, label=label, seed=index, prompt_tokens=3, new_tokens=tokens,
        finish_reason="length", created_at=now, started_at=now,
        finished_at=finished_at if finished_at is not None else now + index * 1e-3, generation_seconds=0.1,
        worker="w", provenance=replace(PROVENANCE, model=model),
        metrics={"distinct_2": distinct, "loop": loop, "perplexity": perplexity},
        checks={k: {"passed": v, "detail": ""} for k, v in (checks or {}).items()})
    output = replace(output, **fields) if fields else output
    return output if "details_id" in fields else replace(output, details_id=output.id)


def store_outputs(store: Store, outputs: list[Output]) -> None:
    """Each output as its own finished submission, published as a worker publishes it."""
    for output in outputs:
        request = make_request(output.class_code, id=output.submission_id, student=output.student,
                               student_id=output.student_id)
        publish(store, request, [output])
