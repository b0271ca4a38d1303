"""On a CUDA machine: where one decode step's time goes, at 64 / 256 / 1,024 rows of the class mix
(distilgpt2's shape, random weights, fp16): the model's forward, and the rest (token choice on the
device plus the engine's host work), each step timed to its end (the engine's EOS transfer syncs)."""

import statistics
import time

import torch

from bench.host import CLASS_MIX, count_passes
from shared.contract.decoding import NOTEBOOK_PROMPT, DecodingConfig
from shared.teaching.ablation import notebook_variants
from worker.engine import Engine, GenerationRequest
from worker.model import load_model

STEPS = 40


class TimedModel(torch.nn.Module):
    """The real model behind the same call, timing each forward to its end on the GPU."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config, self.seconds = model, model.config, []

    def forward(self, **kwargs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = self.model(**kwargs)
        torch.cuda.synchronize()
        self.seconds.append(time.perf_counter() - start)
        return out


def split(loaded, rows: int) -> str:
    prompts = [NOTEBOOK_PROMPT] + list(notebook_variants().values())
    timed = TimedModel(loaded.model)
    engine = Engine(timed, loaded.eos_token_id, rows, loaded.device)
    for row in range(rows):
        config = DecodingConfig(**{**CLASS_MIX[row % len(CLASS_MIX)].to_dict(), "max_new_tokens": STEPS + 10})
        engine.submit(GenerationRequest(row, loaded.tokenizer(prompts[row % len(prompts)]).input_ids,
                                        config.effective(), seed=row))
    for _ in range(3):
        engine.step()
    timed.seconds.clear()
    steps = []
    for _ in range(STEPS):
        start = time.perf_counter()
        engine.step()
        steps.append(time.perf_counter() - start)
    step, model = statistics.median(steps) * 1000, statistics.median(timed.seconds) * 1000
    passes = count_passes(engine)  # one more step, counted (the timed ones are not)
    engine.step()
    return (f"rows {rows:5d}: step {step:6.2f} ms = model {model:6.2f} ms + choice and host {step - model:5.2f} ms; "
            f"{rows / step * 1000:9.0f} tokens/s in steady decode; vocab passes {passes()}")


def main() -> None:
    loaded = load_model("random-distilgpt2", device="cuda")
    print(f"decode step split on {torch.cuda.get_device_name()}, {loaded.dtype}, torch {torch.__version__}")
    for rows in (64, 256, 1024):
        print(split(loaded, rows), flush=True)


if __name__ == "__main__":
    main()
