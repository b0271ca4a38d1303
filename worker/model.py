"""Load the model and tokenizer once per worker process.

`DECODELAB_MODEL` is a hub name or a local directory loaded with `from_pretrained` (the default,
`distilgpt2`, is what the class notebook uses). Two built-in names make a model offline, with random
weights of the real GPT-2 architecture and the real GPT-2 tokenizer, for tests, demos and benchmarks:

- `random-tiny`: 2 layers, 2 heads, 64 wide: fast enough for every test on a laptop CPU.
- `random-distilgpt2`: exactly distilgpt2's shape (6 layers, 12 heads, 768 wide, 82M parameters).

Their weights come from a fixed seed, so every process that builds one gets the same model.

`demo` is the small GPT-2 that `make demo-model` trains offline (worker/demo_training.py) and saves in
`data/models/demo`: a local directory like any other, whose config marks it so that the pages can say
it is a small demo model and not distilgpt2.
"""

from __future__ import annotations

import functools
import platform
import socket
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

from shared.contract.records import Provenance
from shared.contract.tokens import gpt2_tokenizer_files

RANDOM_MODELS = {
    # name: (n_layer, n_head, n_embd)
    "random-tiny": (2, 2, 64),
    "random-distilgpt2": (6, 12, 768),
}
RANDOM_WEIGHTS_SEED = 1234  # fixed, so the worker and a test's reference build identical weights
DEMO_MODEL = "demo"  # DECODELAB_MODEL=demo loads DEMO_MODEL_DIR
DEMO_MODEL_DIR = Path(__file__).resolve().parent.parent / "data" / "models" / "demo"  # `make demo-model` writes it
DEMO_CONFIG_FLAG = "decodelab_demo_model"  # set in the demo model's config.json by its training


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the message says why and what to do."""


@dataclass
class LoadedModel:
    name: str
    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    dtype: torch.dtype
    random_weights: bool
    context_window: int
    demo_model: bool = False  # the small model trained offline by `make demo-model`, not distilgpt2

    @property
    def eos_token_id(self) -> int:
        return self.tokenizer.eos_token_id

    @functools.cached_property
    def token_texts(self) -> list[str]:
        """Each token id's text on its own, decoded once per process: the token view shows ~11 pieces
        per generated token, and one `decode` call each cost ~0.2 ms per token (100 ms per 500-token
        output), more than generating it on a GPU."""
        return self.tokenizer.batch_decode([[token] for token in range(len(self.tokenizer))])

    def provenance(self) -> Provenance:
        """What every stored result records about where it came from."""
        return Provenance(model=self.name, random_weights=self.random_weights, demo_model=self.demo_model,
                          device=str(self.device), dtype=str(self.dtype).replace("torch.", ""),
                          torch=torch.__version__, transformers=transformers.__version__,
                          python=platform.python_version(), host=socket.gethostname())


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def pick_dtype(requested: str, device: torch.device) -> torch.dtype:
    if requested == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return getattr(torch, requested)


def gpt2_tokenizer() -> GPT2TokenizerFast:
    vocab, merges = gpt2_tokenizer_files()
    tokenizer = GPT2TokenizerFast(vocab=str(vocab), merges=str(merges))
    tokenizer.pad_token = tokenizer.eos_token  # as the notebook does: distilgpt2 has no pad token
    return tokenizer


def random_model(name: str) -> GPT2LMHeadModel:
    n_layer, n_head, n_embd = RANDOM_MODELS[name]
    config = GPT2Config(n_layer=n_layer, n_head=n_head, n_embd=n_embd, n_positions=1024, vocab_size=50257,
                        bos_token_id=50256, eos_token_id=50256, pad_token_id=50256)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        model = GPT2LMHeadModel(config)
    model.generation_config.pad_token_id = 50256
    return model


def load_model(name: str, device: str = "auto", dtype: str = "auto", demo_dir: Path = DEMO_MODEL_DIR) -> LoadedModel:
    torch_device = pick_device(device)
    torch_dtype = pick_dtype(dtype, torch_device)
    if name in RANDOM_MODELS:
        model, tokenizer = random_model(name), gpt2_tokenizer()
    elif name == DEMO_MODEL:
        model, tokenizer = _demo_model(Path(demo_dir))
    else:
        model, tokenizer = _from_pretrained(name)
    model = model.to(device=torch_device, dtype=torch_dtype).eval()
    context = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 1024)
    return LoadedModel(name=name, model=model, tokenizer=tokenizer, device=torch_device, dtype=torch_dtype,
                       random_weights=name in RANDOM_MODELS, context_window=int(context),
                       demo_model=bool(getattr(model.config, DEMO_CONFIG_FLAG, False)))


def _demo_model(directory: Path):
    if not (directory / "config.json").exists():
        raise ModelLoadError(f"the demo model is not built yet ({directory} is missing): run `make demo-model` "
                             f"(about 10 minutes on 2 CPU cores, offline)")
    return _from_pretrained(str(directory))


def _from_pretrained(name: str):
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name)
    except Exception as error:  # noqa: BLE001 - any failure here means "cannot load", said in one line
        raise ModelLoadError(
            f"cannot load model '{name}' ({type(error).__name__}: {str(error).splitlines()[0][:200]}). "
            f"Point DECODELAB_MODEL at a local copy (a directory saved with save_pretrained), e.g. "
            f"DECODELAB_MODEL=/models/distilgpt2, or DECODELAB_MODEL=demo after `make demo-model` (a small model "
            f"trained offline), or DECODELAB_MODEL=random-tiny (random weights: noise)."
        ) from error
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


@torch.inference_mode()
def next_token_logits(loaded: LoadedModel, prompt_ids: list[int]):
    """float32 NumPy logits of the token after `prompt_ids` (the explorer's raw material)."""
    ids = torch.tensor([prompt_ids], device=loaded.device)
    return loaded.model(input_ids=ids, logits_to_keep=1).logits[0, -1].float().cpu().numpy()
