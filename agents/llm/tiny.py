"""A tiny random-weight causal LM saved as a Hugging Face model folder, built locally (nothing
downloaded): `testbed llm tiny-model DIR`. It exists to run the `transformers` backend end to
end (tokenizer, chat template, generation, token counts); its answers are random text, so an
agent acting on it mostly falls back. It shows plumbing, not intelligence.

The tokenizer is a byte-level BPE trained with `tokenizers` on a small built-in vocabulary
(action words, digits, grid-world words), so any text encodes; the model is a 2-layer GPT-2
with 32-wide embeddings and seeded random weights (about 60 k parameters).
"""

from __future__ import annotations

from pathlib import Path

VOCABULARY = """
up down left right north south east west stay noop move go step action actions
row column goal wall agent room door reward episode observation legal best single reply
number name nothing else you are at the is a of to and or in on with your choose
0 1 2 3 4 5 6 7 8 9 10 11 12 13 . , : ; ! ? ( ) # G A S F H
"""
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
END = "<|endoftext|>"


MARKER = "TESTBED_TINY_MODEL"
"""The file that marks a folder as one `build_tiny_model` wrote (it may be rebuilt)."""


def build_tiny_model(folder: str | Path, seed: int = 0, vocab_size: int = 384) -> Path:
    """Write a tiny random GPT-2 and its tokenizer to `folder`; returns the folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    from transformers.utils import logging

    logging.disable_progress_bar()

    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = VOCABULARY.split("\n") * 4
    tokenizer.train_from_iterator(lines, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token=END, bos_token=END, pad_token=END
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(path)
    config = GPT2Config(
        vocab_size=len(fast),
        n_positions=4096,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=fast.eos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(config)
    model.save_pretrained(path)
    (path / MARKER).write_text("a tiny random-weight model built by `testbed llm tiny-model`\n")
    return path
