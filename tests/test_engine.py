"""worker/engine.py against transformers' `generate` on the same random-weight model (CPU, fp32)."""

import pytest
import torch

from shared.contract.decoding import GREEDY, DecodingConfig
from worker.engine import Engine, GenerationRequest
from worker.model import load_model

PROMPTS = [
    "In a distant future, humans and AI",
    "Hi",
    "Answer in a professional tone, and summarize at the end in three bullet points. "
    "Topic: advantages of using Git in generative AI projects.",
    "Advantages of using Git in generative AI projects.",
]
MIXED = [
    DecodingConfig(strategy=GREEDY, max_new_tokens=20),
    DecodingConfig(temperature=1.0, top_k=50, max_new_tokens=24),
    DecodingConfig(temperature=0.3, top_p=0.9, max_new_tokens=16),
    DecodingConfig(temperature=1.5, top_k=0, repetition_penalty=1.5, max_new_tokens=30),
    DecodingConfig(temperature=0.7, top_p=0.9, repetition_penalty=1.0, max_new_tokens=12),
]


@pytest.fixture(scope="module")
def tiny():
    return load_model("random-tiny")


def ids(tiny, prompt):
    return tiny.tokenizer(prompt).input_ids


def engine(tiny, max_batch=8, eos=None):
    return Engine(tiny.model, tiny.eos_token_id if eos is None else eos, max_batch, tiny.device)


def generate_reference(tiny, prompt, config, eos=None):
    inputs = tiny.tokenizer(prompt, return_tensors="pt")
    eos = tiny.eos_token_id if eos is None else eos
    with torch.no_grad():
        out = tiny.model.generate(**inputs, pad_token_id=tiny.eos_token_id, eos_token_id=eos,
                                  **config.generate_kwargs())
    return out[0, inputs.input_ids.shape[1]:].tolist()


@pytest.mark.parametrize("penalty", [1.0, 1.1, 1.5])
def test_greedy_equals_generate_for_every_prompt_in_one_batch(tiny, penalty):
    config = DecodingConfig(strategy=GREEDY, repetition_penalty=penalty, max_new_tokens=40).effective()
    results = engine(tiny).run([GenerationRequest(i, ids(tiny, p), config, 0) for i, p in enumerate(PROMPTS)])
    for prompt, result in zip(PROMPTS, results):
        assert result.token_ids == generate_reference(tiny, prompt, config)
        assert result.finish_reason == "length"


def test_greedy_stops_at_eos_like_generate(tiny):
    config = DecodingConfig(strategy=GREEDY, max_new_tokens=40).effective()
    free_run = generate_reference(tiny, PROMPTS[0], config)
    eos = free_run[6]  # pretend this token is EOS: both must stop right before it
    expected = generate_reference(tiny, PROMPTS[0], config, eos=eos)
    result = engine(tiny, eos=eos).run([GenerationRequest("a", ids(tiny, PROMPTS[0]), config, 0)])[0]
    assert expected[-1] == eos and result.token_ids == expected[:-1] and result.finish_reason == "eos"


def test_mixed_configs_in_one_batch_equal_each_run_alone(tiny):
    requests = [GenerationRequest((p, c), ids(tiny, prompt), config.effective(), seed=100 + p)
                for p, prompt in enumerate(PROMPTS) for c, config in enumerate(MIXED)]
    alone = {r.key: engine(tiny).run([r])[0].token_ids for r in requests}
    for max_batch in (len(requests), 10, 5, 3, 1):  # everyone at once; rows joining as others leave
        together = engine(tiny, max_batch=max_batch).run(requests)
        assert {r.key: r.token_ids for r in together} == alone
    assert all(len(alone[r.key]) == r.config.max_new_tokens for r in requests)


def test_seed_changes_samples_and_top_k_one_equals_greedy(tiny):
    prompt = ids(tiny, PROMPTS[0])
    sampled = DecodingConfig(temperature=1.0, top_k=50, max_new_tokens=20).effective()
    first, second = engine(tiny).run([GenerationRequest(1, prompt, sampled, 1), GenerationRequest(2, prompt, sampled, 2)])
    assert first.token_ids != second.token_ids
    top1 = DecodingConfig(temperature=1.0, top_k=1, max_new_tokens=20).effective()
    greedy = DecodingConfig(strategy=GREEDY, max_new_tokens=20).effective()
    a, b = engine(tiny).run([GenerationRequest(1, prompt, top1, 9), GenerationRequest(2, prompt, greedy, 0)])
    assert a.token_ids == b.token_ids


def test_finished_rows_free_their_slots_for_waiting_requests(tiny):
    short = DecodingConfig(strategy=GREEDY, max_new_tokens=3).effective()
    long = DecodingConfig(strategy=GREEDY, max_new_tokens=30).effective()
    runner = engine(tiny, max_batch=2)
    for key, config in (("long", long), ("short", short), ("waiting", short)):
        runner.submit(GenerationRequest(key, ids(tiny, PROMPTS[1]), config, 0))
    finished_at_step, step = {}, 0
    while runner.busy:
        assert len(runner.rows) <= 2
        step += 1
        for result in runner.step():
            finished_at_step[result.key] = step
    assert finished_at_step["waiting"] < finished_at_step["long"]
    assert runner.batch.cache is None and runner.batch.mask.view.shape == (0, 0)  # nothing left behind


class MemoryLimitedModel(torch.nn.Module):
    """The real model behind the same call, raising CUDA's out-of-memory error above `rows` rows,
    as a GPU with little free memory would."""

    def __init__(self, model, rows):
        super().__init__()
        self.model, self.rows, self.config = model, rows, model.config
        self.refusals = 0

    def forward(self, input_ids, **kwargs):
        if input_ids.shape[0] > self.rows:
            self.refusals += 1
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.model(input_ids=input_ids, **kwargs)


def test_out_of_memory_halves_the_batch_and_loses_nothing(tiny):
    requests = [GenerationRequest((p, c), ids(tiny, prompt), config.effective(), seed=7)
                for p, prompt in enumerate(PROMPTS) for c, config in enumerate(MIXED)]
    expected = {r.key: r.token_ids for r in engine(tiny, max_batch=20).run(requests)}
    limited = MemoryLimitedModel(tiny.model, rows=5)
    runner = Engine(limited, tiny.eos_token_id, 20, tiny.device)
    assert {r.key: r.token_ids for r in runner.run(requests)} == expected
    assert limited.refusals >= 1 and runner.out_of_memory_events == limited.refusals
    assert runner.max_batch <= 5


def test_rows_that_fit_follows_free_memory(tiny):
    from worker.engine import rows_that_fit

    distil_like = load_model("random-tiny").model  # 2 layers x 64 wide, fp32: 1 MiB of KV per row
    per_row = 2 * 2 * 64 * 1024 * 4 + 8 * 50257 * 4
    assert rows_that_fit(distil_like, 100 * per_row) == 80  # 80 % of free memory
    assert rows_that_fit(distil_like, 0) == 1


def test_recorded_probabilities_equal_a_reference_forward_pass(tiny):
    from tests.test_sampling import transformers_reference

    prompt = ids(tiny, PROMPTS[2])
    configs = [DecodingConfig(temperature=0.7, top_p=0.9, max_new_tokens=15),
               DecodingConfig(strategy=GREEDY, repetition_penalty=1.3, max_new_tokens=15)]
    results = engine(tiny).run([GenerationRequest(i, prompt, c.effective(), 5) for i, c in enumerate(configs)])
    for config, result in zip(configs, results):
        full = torch.tensor([prompt + result.token_ids])
        with torch.no_grad():
            logits = tiny.model(full).logits[0, len(prompt) - 1:-1].float()
        model_logprobs = logits.log_softmax(-1)
        chosen = torch.tensor(result.token_ids)
        torch.testing.assert_close(torch.tensor(result.logprobs), model_logprobs.gather(1, chosen[:, None])[:, 0],
                                   atol=1e-4, rtol=1e-4)
        for position, step in enumerate(result.steps):
            top = model_logprobs[position].exp().topk(5)
            assert [i for i, _ in step["model"]] == top.indices.tolist()
            torch.testing.assert_close(torch.tensor([p for _, p in step["model"]]), top.values, atol=1e-4, rtol=1e-3)
            history = full[:, :len(prompt) + position]
            processed = transformers_reference(logits[position:position + 1].clone(), history, config)[0]
            if config.strategy == GREEDY:
                processed = transformers_reference(logits[position:position + 1].clone(), history,
                                                   DecodingConfig(repetition_penalty=1.3, top_k=0))[0]
            probs = processed.softmax(-1)
            assert step["p"] == pytest.approx(float(probs[result.token_ids[position]]), abs=1e-4)
            expected = [(i, p) for i, p in zip(*[t.tolist() for t in probs.topk(5)[::-1]]) if p > 0]
            assert [i for i, _ in step["sampled"]] == [i for i, _ in expected][:len(step["sampled"])]


def test_cancel_drops_one_owners_rows_and_the_rest_finish_the_same(tiny):
    config = DecodingConfig(temperature=0.8, max_new_tokens=20).effective()
    requests = [GenerationRequest((owner, i), ids(tiny, PROMPTS[i]), config, seed=i)
                for owner in ("a", "b") for i in range(3)]
    expected = {r.key: r.token_ids for r in engine(tiny).run(requests)}
    runner = engine(tiny, max_batch=4)
    for request in requests:
        runner.submit(request)
    done = {r.key: r.token_ids for r in runner.step()}
    assert runner.cancel(lambda key: key[0] == "a") == 3
    while runner.busy:
        done.update({r.key: r.token_ids for r in runner.step()})
    assert set(done) == {("b", 0), ("b", 1), ("b", 2)} and all(done[k] == expected[k] for k in done)


# Every top_k a student can type: small ones (fewer than the token view's 5 alternatives), the
# transformers default and around it, and large ones up to the whole vocabulary.
EVERY_TOP_K = list(range(0, 61)) + [100, 1000, 5000, 50256, 50257]


def top_k_requests(tiny, top_ks, tokens=3):
    prompt = ids(tiny, PROMPTS[0])
    return [GenerationRequest(("k", k), prompt, DecodingConfig(temperature=1.0, top_k=k, max_new_tokens=tokens)
                              .effective(), seed=k) for k in top_ks]


def test_every_top_k_runs_alone_and_records_its_steps(tiny):
    for request in top_k_requests(tiny, EVERY_TOP_K):
        result = engine(tiny).run([request])[0]
        assert len(result.token_ids) == 3 and len(result.steps) == 3, request.config
        for step in result.steps:
            assert len(step["model"]) == 5
            kept = request.config.top_k or 50257
            assert 1 <= len(step["sampled"]) <= min(5, kept)


def test_every_top_k_beside_greedy_rows_equals_its_run_alone(tiny):
    sampled = top_k_requests(tiny, EVERY_TOP_K)
    greedy = [GenerationRequest(("g", i), ids(tiny, p), DecodingConfig(strategy=GREEDY, max_new_tokens=3).effective(), 0)
              for i, p in enumerate(PROMPTS)]
    alone = {r.key: engine(tiny).run([r])[0].token_ids for r in sampled + greedy}
    together = engine(tiny, max_batch=len(sampled) + len(greedy)).run(sampled + greedy)
    assert {r.key: r.token_ids for r in together} == alone


def test_small_top_k_admitted_mid_run_beside_running_rows(tiny):
    """Continuous admission: rows with top_k 1-4 join a batch that is already generating."""
    long = [GenerationRequest(("long", i), ids(tiny, PROMPTS[2]), DecodingConfig(
        strategy=GREEDY if i % 2 else "sampling", top_k=50, max_new_tokens=12).effective(), i) for i in range(4)]
    late = top_k_requests(tiny, [1, 2, 3, 4, 0, 50257], tokens=4)
    expected = {r.key: engine(tiny).run([r])[0].token_ids for r in long + late}
    runner = engine(tiny, max_batch=8)
    for request in long:
        runner.submit(request)
    done = {r.key: r.token_ids for r in runner.step() + runner.step()}
    for request in late:
        runner.submit(request)
    while runner.busy:
        done.update({r.key: r.token_ids for r in runner.step()})
    assert done == expected


class HalfLogitsModel(torch.nn.Module):
    """The real model behind the same call, its logits rounded to float16 as a GPU worker's are.
    Moved to around -80 (where trained GPT-2's logits sit and float16 steps are 1/16) and spread
    8-fold (random-tiny's are within +-1), so ties at the top-k and top-p cuts are common."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config = model, model.config

    def forward(self, **kwargs):
        out = self.model(**kwargs)
        out.logits = (out.logits * 8 - 80).half().float()
        return out


def test_float16_logits_with_any_mix_of_top_k_give_each_request_its_solo_tokens(tiny):
    half = HalfLogitsModel(tiny.model)
    top_ks, top_ps = [1, 2, 3, 5, 10, 20, 40, 50], [1.0, 0.9, 0.5]
    requests = [GenerationRequest(i, ids(tiny, PROMPTS[i % len(PROMPTS)]), DecodingConfig(
        temperature=(0.7, 1.0, 1.5)[i % 3], top_k=top_ks[i % 8], top_p=top_ps[i % 3], max_new_tokens=8).effective(),
        seed=i) for i in range(40)]
    joiner = GenerationRequest("no cut", ids(tiny, PROMPTS[0]), DecodingConfig(top_k=0, max_new_tokens=8).effective(), 1)
    alone = {r.key: Engine(half, tiny.eos_token_id, 1, tiny.device).run([r])[0].token_ids for r in requests + [joiner]}
    for max_batch in (41, 7):
        together = Engine(half, tiny.eos_token_id, max_batch, tiny.device).run(requests + [joiner])
        assert {r.key: r.token_ids for r in together} == alone


@pytest.fixture(scope="module")
def small_vocab():
    """GPT-2's architecture with a 300-token vocabulary and random weights (a shortlist window that is a
    large share of the vocabulary)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=300, n_positions=256, n_embd=64, n_layer=2, n_head=2, bos_token_id=299,
                        eos_token_id=299)
    return GPT2LMHeadModel(config).eval()


@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_small_vocabulary_greedy_equals_generate(small_vocab, penalty):
    config = DecodingConfig(strategy=GREEDY, repetition_penalty=penalty, max_new_tokens=30).effective()
    prompts = [[5, 17, 42, 8], [250, 3], list(range(100, 130))]
    results = Engine(small_vocab, 299, 8, torch.device("cpu")).run(
        [GenerationRequest(i, p, config, 0) for i, p in enumerate(prompts)])
    for prompt, result in zip(prompts, results):
        with torch.no_grad():
            out = small_vocab.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                                       pad_token_id=299, eos_token_id=299, **config.generate_kwargs())
        expected = out[0, len(prompt):].tolist()
        if result.finish_reason == "eos":
            expected = expected[:expected.index(299)]
        assert result.token_ids == expected


def test_small_vocabulary_mixed_batch_equals_each_run_alone(small_vocab):
    requests = [GenerationRequest((p, c), prompt, config.effective(), seed=40 + p)
                for p, prompt in enumerate([[5, 17, 42, 8], [250, 3], list(range(100, 130))])
                for c, config in enumerate(MIXED)]
    alone = {r.key: Engine(small_vocab, 299, 1, torch.device("cpu")).run([r])[0] for r in requests}
    for max_batch in (len(requests), 4):
        together = {r.key: r for r in Engine(small_vocab, 299, max_batch, torch.device("cpu")).run(requests)}
        assert {k: r.token_ids for k, r in together.items()} == {k: r.token_ids for k, r in alone.items()}
        for key, solo in alone.items():  # the same alternatives; probabilities up to the logits' last bits
            for mine, theirs in zip(together[key].steps, solo.steps):
                assert [i for i, _ in mine["model"]] == [i for i, _ in theirs["model"]]
                assert [i for i, _ in mine["sampled"]] == [i for i, _ in theirs["sampled"]]
                assert mine["p"] == pytest.approx(theirs["p"], abs=2e-5)


class KVStorage:
    """Each layer's keys as they are now, kept alive (so their memory cannot be handed out again):
    `same_as(runner)` is true while the runner's cache still lives in those buffers."""

    def __init__(self, runner):
        self.keys = [layer.keys for layer in runner.batch.cache.layers]

    def same_as(self, runner) -> bool:
        return [k.untyped_storage().data_ptr() for k in self.keys] == [
            layer.keys.untyped_storage().data_ptr() for layer in runner.batch.cache.layers]


def test_rows_joining_and_leaving_do_not_copy_the_running_cache(tiny):
    """Admissions write into the running cache's free rows and rows leaving are replaced by rows from
    the end; the running rows stay in the same buffers (a newcomer with a longer history shifts them
    right within their rows). Every request still gets its solo tokens."""
    greedy = lambda n: DecodingConfig(strategy=GREEDY, max_new_tokens=n).effective()  # noqa: E731
    sampled = lambda n: DecodingConfig(temperature=0.9, top_k=20, max_new_tokens=n).effective()  # noqa: E731
    first = [GenerationRequest("long", ids(tiny, PROMPTS[0]), greedy(60), 0),
             GenerationRequest("short", ids(tiny, PROMPTS[1]), sampled(3), 1),
             GenerationRequest("mid", ids(tiny, PROMPTS[3]), sampled(20), 2)]
    joining = GenerationRequest("joins", ids(tiny, PROMPTS[1]), sampled(8), 3)  # shorter than the batch's history
    longer = GenerationRequest("longer", ids(tiny, PROMPTS[2] * 3), greedy(5), 4)  # longer than the history
    expected = {r.key: engine(tiny).run([r])[0].token_ids for r in first + [joining, longer]}

    runner = engine(tiny, max_batch=4)
    for request in first:
        runner.submit(request)
    done = {r.key: r.token_ids for r in runner.step()}
    where = KVStorage(runner)
    while "short" not in done:  # "short" leaves from the middle: "mid" moves into its row
        done.update({r.key: r.token_ids for r in runner.step()})
    assert where.same_as(runner) and [row.request.key for row in runner.rows] == ["long", "mid"]
    runner.submit(joining)
    done.update({r.key: r.token_ids for r in runner.step()})
    assert "joins" in {row.request.key for row in runner.rows} and where.same_as(runner)
    runner.submit(longer)
    done.update({r.key: r.token_ids for r in runner.step()})
    assert "longer" in {row.request.key for row in runner.rows} and where.same_as(runner)
    while runner.busy:
        done.update({r.key: r.token_ids for r in runner.step()})
    assert done == expected


def test_leading_columns_no_row_uses_are_dropped(tiny):
    """Once the rows that needed the leftmost cache columns have left, and those columns are a quarter
    of the width or more, they are dropped (attention stops running over them), in place."""
    long_prompt = ids(tiny, PROMPTS[2] * 2)
    requests = [GenerationRequest("long", long_prompt, DecodingConfig(strategy=GREEDY, max_new_tokens=4).effective(), 0),
                GenerationRequest("short", ids(tiny, PROMPTS[1]), DecodingConfig(
                    strategy=GREEDY, max_new_tokens=10).effective(), 0)]
    expected = {r.key: engine(tiny).run([r])[0].token_ids for r in requests}
    runner = engine(tiny, max_batch=2)
    for request in requests:
        runner.submit(request)
    done = {r.key: r.token_ids for r in runner.step()}  # admitted, and one step more
    where = KVStorage(runner)
    assert [row.request.key for row in runner.rows] == ["long", "short"]
    while "long" not in done:
        done.update({r.key: r.token_ids for r in runner.step()})
    assert where.same_as(runner)
    width = runner.batch.cache.layers[0].keys.shape[-2]
    assert runner.batch.mask.view.shape[1] == width < len(long_prompt)  # only the short row's columns are left
    assert runner.batch.mask.view.all()
    while runner.busy:
        done.update({r.key: r.token_ids for r in runner.step()})
    assert done == expected


def test_a_decode_step_waits_for_the_device_only_for_its_one_transfer(tiny):
    """In steady decoding (no row joining or leaving) nothing in the step, transformers' forward
    included, reads a value back from the device (`nonzero`, a scalar, a tensor's truth): on a GPU
    the only wait is the step's one [2, rows] transfer (not visible on a CPU, where it costs nothing)."""
    from tests.test_sampling import DeviceReads

    runner = engine(tiny, max_batch=8)
    for i, config in enumerate(MIXED):
        runner.submit(GenerationRequest(i, ids(tiny, PROMPTS[i % len(PROMPTS)]), DecodingConfig(
            **{**config.to_dict(), "max_new_tokens": 40}).effective(), seed=i))
    runner.step()  # the admission (its prefill may wait: once per admission, not per step)
    with DeviceReads() as reads:
        for _ in range(5):
            assert runner.step() == []
    assert reads.waits == 0 and len(runner.rows) == len(MIXED)


@pytest.mark.parametrize("half", [False, True], ids=["float32", "float16 logits"])
def test_the_gpu_code_paths_give_the_cpu_paths_tokens_and_records(tiny, monkeypatch, half):
    """On a CPU the key sort, the Gumbel hash and the draw's argmax run through NumPy; a GPU runs their
    torch versions. Both, on the same logits, give every request the same tokens, log-probs and token
    view (float16-rounded logits: many ties, so the tie order of both sorts is exercised)."""
    from worker import candidates

    model = HalfLogitsModel(tiny.model) if half else tiny.model
    configs = MIXED + [DecodingConfig(temperature=1.0, top_k=k, repetition_penalty=1.2, max_new_tokens=10)
                       for k in (1, 3, 300)]
    requests = [GenerationRequest((p, c), ids(tiny, prompt), config.effective(), seed=7 + p)
                for p, prompt in enumerate(PROMPTS) for c, config in enumerate(configs)]

    def run():
        results = Engine(model, tiny.eos_token_id, 12, tiny.device).run(requests)
        return {r.key: (r.token_ids, r.logprobs, r.steps) for r in results}

    numpy_paths = run()
    monkeypatch.setattr(candidates, "NUMPY_ON_CPU", False)
    assert not candidates.numpy_path(torch.zeros(1))
    assert run() == numpy_paths
