"""Turn finished generations into the output records the gallery stores and shows."""

from __future__ import annotations

import time

from shared.decoding import DecodingConfig
from worker.engine import GenerationResult
from worker.model import LoadedModel


def build_outputs(request: dict, results: dict[int, GenerationResult], loaded: LoadedModel, worker: str) -> list[dict]:
    info = loaded.describe()
    outputs = []
    for index, item in enumerate(request["items"]):
        result = results[index]
        config = DecodingConfig.from_dict(item["config"])
        outputs.append({
            "id": f"{request['id']}:{index}",
            "submission_id": request["id"], "index": index,
            "class_code": request["class_code"], "student": request["student"], "lab": request["lab"],
            "prompt": item["prompt"], "variant": item.get("variant", ""),
            "text": loaded.tokenizer.decode(result.token_ids, skip_special_tokens=True),
            "token_ids": result.token_ids,
            "config": item["config"], "effective_config": config.effective().to_dict(),
            "group_key": f"{loaded.name}|{item['group_key']}", "label": f"{item['label']} · {loaded.name}",
            "seed": item["seed"], "prompt_tokens": result.prompt_tokens, "new_tokens": len(result.token_ids),
            "finish_reason": result.finish_reason,
            "created_at": request["created_at"], "started_at": result.started_at, "finished_at": time.time(),
            "generation_seconds": round(result.finished_at - result.started_at, 4),
            "worker": worker, **info,
        })
    return outputs
