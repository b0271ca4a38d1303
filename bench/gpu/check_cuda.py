"""On a CUDA machine: greedy equals `generate` (fp32), a batch equals its rows alone (fp32), fp16 runs,
and fp16 rows with any mix of top_k beside each other against their runs alone."""

import torch

from shared.contract.decoding import GREEDY, DecodingConfig
from worker.engine import Engine, GenerationRequest
from worker.model import load_model

PROMPTS = ["In a distant future, humans and AI", "Advantages of using Git in generative AI projects.", "Hi"]


def main() -> None:
    loaded = load_model("random-distilgpt2", device="cuda", dtype="float32")
    tok = loaded.tokenizer
    greedy = DecodingConfig(strategy=GREEDY, max_new_tokens=40).effective()
    engine = Engine(loaded.model, loaded.eos_token_id, 8, loaded.device)
    results = engine.run([GenerationRequest(i, tok(p).input_ids, greedy, 0) for i, p in enumerate(PROMPTS)])
    same = 0
    for prompt, result in zip(PROMPTS, results):
        inputs = tok(prompt, return_tensors="pt").to("cuda")
        out = loaded.model.generate(**inputs, pad_token_id=tok.eos_token_id, **greedy.generate_kwargs())
        same += out[0, inputs.input_ids.shape[1]:].tolist() == result.token_ids
    print(f"greedy equals generate on CUDA fp32: {same}/{len(PROMPTS)}")
    sampled = DecodingConfig(temperature=0.9, top_p=0.95, max_new_tokens=40).effective()
    requests = [GenerationRequest(i, tok(p).input_ids, sampled, 7 + i) for i, p in enumerate(PROMPTS)]
    alone = [Engine(loaded.model, loaded.eos_token_id, 8, loaded.device).run([r])[0].token_ids for r in requests]
    together = [r.token_ids for r in Engine(loaded.model, loaded.eos_token_id, 2, loaded.device).run(requests)]
    print(f"batch-invariant sampling on CUDA fp32: {sum(a == b for a, b in zip(alone, together))}/{len(PROMPTS)}")
    half = load_model("random-distilgpt2", device="cuda")
    result = Engine(half.model, half.eos_token_id, 8, half.device).run(requests)
    print(f"fp16 run: {len(result)} results, {sum(len(r.token_ids) for r in result)} tokens, "
          f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    # fp16, any mix of top_k: a row's kept set never depends on the others' top_k (ties included);
    # its logits still may, where a different batch size picks a different fp16 matrix kernel.
    mixed = [GenerationRequest(i, tok(PROMPTS[i % 3]).input_ids, DecodingConfig(
        temperature=0.8, top_k=(1, 2, 3, 5, 50, 0)[i % 6], top_p=(1.0, 0.9)[i % 2], max_new_tokens=30).effective(), i)
        for i in range(24)]
    alone = [Engine(half.model, half.eos_token_id, 1, half.device).run([r])[0].token_ids for r in mixed]
    together = [r.token_ids for r in Engine(half.model, half.eos_token_id, 24, half.device).run(mixed)]
    print(f"fp16, mixed top_k, batch of 24 vs alone: {sum(a == b for a, b in zip(alone, together))}/{len(mixed)} "
          f"identical")


if __name__ == "__main__":
    main()
