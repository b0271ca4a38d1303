"""worker/demo_training.py and the `demo` model: the same training code on a tiny plan trains in seconds;
what it saves loads like any local model, and the engine equals `generate` on it as on random models."""

import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from shared.contract.decoding import GREEDY, DecodingConfig
from tests.conftest import ROOT, TEST_CLASS, settings_env
from tests.test_dashboard import app_env, joined_app, texts  # noqa: F401 - app_env is a fixture
from tests.test_engine import MIXED, PROMPTS, engine, generate_reference, ids
from worker.demo_training import (
    SEEN_LOGIT_SHIFT,
    UNSEEN_TOKEN_LOGIT,
    TrainingPlan,
    export,
    perplexity,
    save,
    tokenize_documents,
    train,
    use_bf16,
)
from worker.engine import GenerationRequest
from worker.model import DEMO_MODEL, ModelLoadError, load_model

ENGLISH = [  # public-domain sentences (the notebook's prompts included, so that the tests' prompts are seen)
    "In the beginning God created the heavens and the earth. The earth was formless and empty.",
    "In a distant future, humans and AI live side by side, and the city is full of light.",
    "Answer in a professional tone, and summarize at the end in three bullet points.",
    "Topic: advantages of using Git in generative AI projects. Hi, the king said to his servants.",
    "God said, Let there be light, and there was light. God saw the light, and saw that it was good.",
    "The people of the city went out to the field, and they sat down by the river until evening.",
    "Then the king answered them, Go in peace, and return to your houses before the night comes.",
    "And the servants of the king went up to the mountain, and they built an altar of stone there.",
]
SPANISH = [
    "En el principio creó Dios los cielos y la tierra. Y la tierra estaba desordenada y vacía.",
    "Y dijo Dios: Sea la luz: y fué la luz. Y vió Dios que la luz era buena.",
    "Entonces el rey dijo a sus siervos: Id en paz, y volved a vuestras casas antes de la noche.",
    "Y el pueblo de la ciudad salió al campo, y se sentaron junto al río hasta la tarde.",
]
INSTRUCTED = [  # prompt-and-answer documents (worker/demo_instructions.py), short enough for the tiny window
    "Answer in five words. Topic: light.\nGod saw the light.",
    "Answer in JSON format. Topic: the king.\n{\"answer\": \"The king said go.\"}",
    "The river.\nThey sat down by the river.",
    "Answer, and end with two bullet points. Topic: houses.\n- stone\n- wood",
    "Answer in a calm tone. Topic: peace.\nGo in peace.",
]
# Steps, not the clock, bound the tiny plan (its hour is never reached): a busy machine still trains all 40.
TINY = TrainingPlan(n_layer=2, n_head=2, n_embd=32, n_positions=128, context=24, batch=4, seconds=3600, max_steps=40,
                    learning_rate=1e-2, warmup_steps=5, log_every_seconds=1e9, eval_every_seconds=1e9, eval_windows=2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    corpus = tokenize_documents({"en": ENGLISH * 3, "es": SPANISH * 3, "instructions": INSTRUCTED * 3},
                                {"en": 0.6, "es": 0.25, "instructions": 0.15}, held_out_every=5,
                                aligned={"instructions": TINY.context + 1})
    assert len(corpus.train_starts["instructions"]) == 12  # each seen whole, as `make demo-model`'s
    lines = []
    model, active, history = train(corpus, TINY, print_fn=lines.append)
    out = tmp_path_factory.mktemp("demo")
    save(export(model, active, TINY), out, history, TINY, corpus)
    return {"dir": out, "corpus": corpus, "model": model, "active": active, "history": history, "lines": lines}


@pytest.fixture(scope="module")
def demo(trained):
    return load_model(DEMO_MODEL, device="cpu", demo_dir=trained["dir"])


def test_training_lowers_the_loss_reports_progress_and_saves_a_plain_gpt2(trained):
    history, out = trained["history"], trained["dir"]
    assert len(history["loss"]) == TINY.max_steps
    assert sum(history["loss"][-5:]) / 5 < sum(history["loss"][:5]) / 5 - 0.5
    assert history["held_out"][-1][1] < history["held_out"][0][1]
    assert "tokens/s" in trained["lines"][-1] and "ETA" in trained["lines"][-1] and "loss" in trained["lines"][-1]
    for name in ("config.json", "model.safetensors", "tokenizer.json", "training.json"):
        assert (out / name).exists(), name


def test_demo_name_loads_the_saved_directory_labelled_as_the_demo_model(demo, trained):
    assert demo.name == DEMO_MODEL and demo.demo_model and not demo.random_weights
    assert demo.context_window == TINY.n_positions and demo.eos_token_id == 50256
    assert demo.tokenizer("In a distant future").input_ids == [818, 257, 12899, 2003]  # real GPT-2 BPE
    assert demo.provenance().demo_model is True
    assert load_model(str(trained["dir"]), device="cpu").demo_model  # by its path, too


def test_bf16_follows_the_cpu_probe_which_torch_still_has():
    assert callable(torch.cpu._is_amx_tile_supported)  # private: worker/demo_training.py `use_bf16` reads it
    assert use_bf16(TINY) == bool(torch.cpu._is_amx_tile_supported())
    assert use_bf16(replace(TINY, bf16=False)) is False


def test_missing_demo_model_says_how_to_build_it(tmp_path):
    with pytest.raises(ModelLoadError, match="make demo-model"):
        load_model(DEMO_MODEL, demo_dir=tmp_path / "nothing-here")


def test_export_keeps_the_trained_softmax_at_gpt2s_level_of_logits_and_unseen_tokens_get_a_fixed_low_logit(demo, trained):
    active = trained["active"]
    prompt = ids(demo, PROMPTS[0])
    to_active = {token: i for i, token in enumerate(active)}
    with torch.no_grad():
        full = demo.model(input_ids=torch.tensor([prompt])).logits[0]                                  # (T, 50257)
        small = trained["model"].eval()(input_ids=torch.tensor([[to_active[t] for t in prompt]])).logits[0]  # (T, active)
    torch.testing.assert_close(full[:, active], small + SEEN_LOGIT_SHIFT, atol=1e-4, rtol=1e-4)  # the same softmax
    assert SEEN_LOGIT_SHIFT <= -10 and float(full[:, active].mean()) < 0  # where GPT-2's are: the penalty multiplies them
    unseen = sorted(set(range(50257)) - set(active))
    assert torch.all(full[:, unseen] == UNSEEN_TOKEN_LOGIT)
    random_tiny = load_model("random-tiny", device="cpu")
    held_out = trained["corpus"].held_out["en"]
    assert perplexity(demo.model, held_out, context=16) < perplexity(random_tiny.model, held_out, context=16) / 10


@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_greedy_engine_equals_generate_on_the_demo_model(demo, penalty):
    config = DecodingConfig(strategy=GREEDY, repetition_penalty=penalty, max_new_tokens=40).effective()
    results = engine(demo).run([GenerationRequest(i, ids(demo, p), config, 0) for i, p in enumerate(PROMPTS)])
    for prompt, result in zip(PROMPTS, results):
        expected = generate_reference(demo, prompt, config)
        if expected[-1] == demo.eos_token_id:  # a trained model ends texts: the engine drops the EOS itself
            assert result.finish_reason == "eos" and result.token_ids == expected[:-1]
        else:
            assert result.finish_reason == "length" and result.token_ids == expected


def test_mixed_configs_in_one_batch_equal_each_run_alone_on_the_demo_model(demo):
    requests = [GenerationRequest((p, c), ids(demo, prompt), config.effective(), seed=100 + p)
                for p, prompt in enumerate(PROMPTS) for c, config in enumerate(MIXED)]
    alone = {r.key: engine(demo).run([r])[0].token_ids for r in requests}
    together = engine(demo, max_batch=7).run(requests)
    assert {r.key: r.token_ids for r in together} == alone


def test_run_falls_back_to_the_demo_model_when_distilgpt2_cannot_load(trained, monkeypatch, capsys, tmp_path):
    from scripts import run

    missing = str(tmp_path / "no-such-model")  # stands for distilgpt2 on a machine without the hub
    monkeypatch.setattr(run, "DEFAULT_MODEL", missing)
    env = {**settings_env_for_check(), "DECODELAB_MODEL": missing}
    monkeypatch.setattr(run, "DEMO_MODEL_DIR", tmp_path / "not-built")
    run.choose_model(env)
    assert env["DECODELAB_MODEL"] == missing and "make demo-model" in capsys.readouterr().out
    monkeypatch.setattr(run, "DEMO_MODEL_DIR", trained["dir"])
    run.choose_model(env)
    assert env["DECODELAB_MODEL"] == DEMO_MODEL and "using the small demo model" in capsys.readouterr().out
    env = {**settings_env_for_check(), "DECODELAB_MODEL": "random-tiny"}  # any other model: left alone
    run.choose_model(env)
    assert env["DECODELAB_MODEL"] == "random-tiny"


def settings_env_for_check() -> dict:
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


def test_worker_check_loads_the_model_and_exits(settings, trained, tmp_path):
    env = {**settings_env(settings), "DECODELAB_MODEL": str(trained["dir"])}
    done = subprocess.run([sys.executable, "-m", "worker", "--check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_pages_say_the_demo_model_is_not_distilgpt2(app_env, store):  # noqa: F811 - app_env fixture
    from devtools.factories import PROVENANCE, make_output, store_outputs

    store_outputs(store, [make_output(0, TEST_CLASS, student="eve", text="and the king said", model=DEMO_MODEL,
                                      provenance=replace(PROVENANCE, model=DEMO_MODEL, random_weights=False,
                                                         demo_model=True))])
    app = joined_app()
    app.switch_page("views/gallery.py").run()
    assert any("modelo pequeño de demostración" in t for t in texts(app))
