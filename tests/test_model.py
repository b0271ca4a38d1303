"""worker/model.py: built-in random models are reproducible; a model that cannot load says why."""

import subprocess
import sys

import torch

from tests.conftest import ROOT, settings_env
from worker.model import RANDOM_MODELS, load_model


def test_random_models_have_the_real_shapes_and_identical_weights_in_every_process():
    tiny, again = load_model("random-tiny"), load_model("random-tiny")
    assert tiny.random_weights and tiny.context_window == 1024 and tiny.eos_token_id == 50256
    for (name, a), (_, b) in zip(tiny.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert RANDOM_MODELS["random-distilgpt2"] == (6, 12, 768)  # distilgpt2: 6 layers, 12 heads, 768 wide
    assert tiny.tokenizer("In a distant future").input_ids == [818, 257, 12899, 2003]  # real GPT-2 BPE


def test_worker_exits_with_one_clear_line_when_the_model_cannot_load(settings, tmp_path):
    env = {**settings_env(settings), "DECODELAB_MODEL": str(tmp_path / "no-such-model"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "worker"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("worker: cannot load model") and "DECODELAB_MODEL=" in last


def test_dashboard_and_shared_never_import_torch_or_transformers():
    code = ("import sys; import dashboard.common, dashboard.auth, dashboard.lab_page, dashboard.widgets, shared.services.submit, shared.services.store, "
            "devtools.embedded_redis, shared.services.workers; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr
    code = "import sys, shared.services.submit, shared.services.progress, shared.services.classes; print('streamlit' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
