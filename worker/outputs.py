"""Turn finished generations into the output records the gallery stores and shows."""

from __future__ import annotations

import time

from shared.decoding import DecodingConfig
from shared.metrics import output_metrics
from worker.engine import GenerationResult
from worker.model import LoadedModel


def build_outputs(request: dict, results: dict[int, GenerationResult], loaded: LoadedModel,
                  worker: str) -> tuple[list[dict], dict[str, dict]]:
    """(output records, token details by output id) of a finished submission."""
    info = loaded.describe()
    outputs, details = [], {}
    for index, result in sorted(results.items()):
        item = request["items"][index]
        config = DecodingConfig.from_dict(item["config"])
        text = loaded.tokenizer.decode(result.token_ids, skip_special_tokens=True)
        output_id = f"{request['id']}:{index}"
        details[output_id] = token_details(loaded, result)
        outputs.append({
            "id": output_id,
            "submission_id": request["id"], "index": index,
            "class_code": request["class_code"], "student": request["student"],
            "student_id": request.get("student_id") or request["student"], "lab": request["lab"],
            "prompt": item["prompt"], "variant": item.get("variant", ""),
            "text": text,
            "token_ids": result.token_ids,
            "config": item["config"], "effective_config": config.effective().to_dict(),
            **group_of(request, item, loaded.name),
            "seed": item["seed"], "prompt_tokens": result.prompt_tokens, "new_tokens": len(result.token_ids),
            "finish_reason": result.finish_reason,
            "created_at": request["created_at"], "started_at": result.started_at, "finished_at": time.time(),
            "generation_seconds": round(result.finished_at - result.started_at, 4),
            "worker": worker, **info,
            "metrics": output_metrics(text, len(result.token_ids), result.finish_reason, result.logprobs),
            "details_id": output_id, "cached_from": None,
        })
    return outputs, details


def group_of(request: dict, item: dict, model: str) -> dict:
    """Gallery group: the effective config (and, in the ablation lab, the prompt variant) on one model."""
    if request["lab"] == "ablation":
        return {"group_key": f"{model}|ablation|{item['variant']}|{item['group_key']}",
                "label": f"{item['variant']} · {item['label']} · {model}"}
    return {"group_key": f"{model}|{item['group_key']}", "label": f"{item['label']} · {model}"}


def cached_copy(original: dict, request: dict, index: int) -> dict:
    """An output answered from the cache: the original's text and figures, this submission's identity."""
    item, now = request["items"][index], time.time()
    return {**original, "id": f"{request['id']}:{index}", "submission_id": request["id"], "index": index,
            "class_code": request["class_code"], "student": request["student"],
            "student_id": request.get("student_id") or request["student"], "lab": request["lab"],
            "variant": item.get("variant", ""), **group_of(request, item, original["model"]),
            "created_at": request["created_at"], "started_at": now,
            "finished_at": now, "generation_seconds": 0.0, "cached_from": original["id"],
            "details_id": original.get("details_id", original["id"])}


def token_details(loaded: LoadedModel, result: GenerationResult) -> dict:
    """What the token view needs: each token's text, log-probability and alternatives with their text."""
    pieces = [_piece(loaded, t) for t in result.token_ids]
    steps = []
    for piece, logprob, step in zip(pieces, result.logprobs, result.steps or [{}] * len(pieces)):
        steps.append({"text": piece, "logprob": logprob, "p": step.get("p"),
                      "model": [[_piece(loaded, i), p] for i, p in step.get("model", [])],
                      "sampled": [[_piece(loaded, i), p] for i, p in step.get("sampled", [])]})
    return {"token_ids": result.token_ids, "logprobs": result.logprobs, "finish_reason": result.finish_reason,
            "steps": steps}


def _piece(loaded: LoadedModel, token_id: int) -> str:
    return loaded.token_texts[token_id]
