"""What the benchmarks share: the corpus, full-length windows, and HF's view of a tokenizer."""

from __future__ import annotations

import os
from pathlib import Path

from tokenizers import Tokenizer

from models.config import ModelConfig
from txdata import DataConfig, SourceConfig, prepare
from txdata.pipeline import PreparedData

ROOT = Path(__file__).parents[1]
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
VOCAB = 8000
D_MODEL, HEADS, LAYERS, D_FF = 256, 4, 2, 1024  # the size issue 5 compares at


def benchmark_model(**fields) -> ModelConfig:
    """The model size the races compare at, with `fields` (vocab_size, max_len, …) on top."""
    return ModelConfig(d_model=D_MODEL, heads=HEADS, layers=LAYERS, d_ff=D_FF, **fields)


def corpus() -> str:
    """tinyshakespeare when `../shared/data` has it, else the bundled English sample."""
    return str(SHAKESPEARE) if SHAKESPEARE.is_file() else "sample:english"


def corpus_name() -> str:
    """`corpus()` as printed: relative to the repository, never this machine's own path."""
    name = corpus()
    return os.path.relpath(name, ROOT) if name == str(SHAKESPEARE) else name


def prepared(length: int = 128) -> PreparedData:
    """mlm examples of the corpus with an 8,000-token WordPiece vocabulary."""
    config = DataConfig(
        source=SourceConfig(corpus()), length=length, tokenizer="wordpiece", vocab_size=VOCAB
    )
    return prepare(config)


def model_vocab(data: PreparedData) -> int:
    """The models' vocabulary: 8,000, the size issue 5 compares at, on every corpus.

    The bundled sample is too small for its WordPiece trainer to reach 8,000 tokens (it stops
    at 907). Sizing the models by the tokenizer would then shrink the LM head, the largest
    matmul of an mlm step, and the race would no longer be at the issue's size. Ids above the
    tokenizer's never occur in a batch; their rows cost what an 8,000-token vocabulary costs.
    """
    return max(VOCAB, data.tokenizer.get_vocab_size())


def describe(data: PreparedData) -> str:
    """`corpus …, vocab 8,000 (tokenizer 8,000)`: what a benchmark ran on."""
    tokens = data.tokenizer.get_vocab_size()
    return f"corpus {corpus_name()}, vocab {model_vocab(data):,} (tokenizer {tokens:,})"


def packed_windows(
    data: PreparedData, count: int | None = None
) -> tuple[list[list[int]], list[list[int]]]:
    """`count` rows (all that fit when None) of exactly `data.config.length` tokens,
    [CLS] … [SEP], with their word ids.

    txdata cuts windows within a document, and most tinyshakespeare speeches are shorter than
    128 tokens, so most of its rows are short. Speed figures at "128 tokens" need full rows:
    these run the documents together first, as HF's `group_texts` recipe does. Word ids are
    offset per document so that words stay distinct across a boundary.
    """
    span = data.config.length - 2
    cls, sep = data.objective.special.cls, data.objective.special.sep
    ids: list[int] = []
    words: list[int] = []
    for row_ids, row_words in zip(data.examples["input_ids"], data.examples["word_ids"]):
        offset = words[-1] + 1 if words else 0
        ids += row_ids[1:-1]
        words += [word + offset for word in row_words[1:-1]]
        if count is not None and len(ids) >= span * count:
            break
    if count is None:
        count = len(ids) // span
    elif len(ids) < span * count:  # a small corpus (the bundled sample): go round it again
        laps = -(-span * count // len(ids))
        ids, words = ids * laps, [w + lap * (words[-1] + 1) for lap in range(laps) for w in words]
    rows = [[cls, *ids[i : i + span], sep] for i in range(0, span * count, span)]
    row_words = [[-1, *words[i : i + span], -1] for i in range(0, span * count, span)]
    return rows, row_words


def hf_tokenizer(tokenizer: Tokenizer):
    """The same tokenizer, wrapped as the `PreTrainedTokenizerFast` that HF collators take."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        bos_token="[BOS]",
        eos_token="[EOS]",
    )


def hf_bert(vocab_size: int, max_len: int, dropout: float = 0.0):
    """HF's `BertForMaskedLM` at the benchmarks' size, with PyTorch's SDPA attention."""
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=D_MODEL,
        num_attention_heads=HEADS,
        num_hidden_layers=LAYERS,
        intermediate_size=D_FF,
        max_position_embeddings=max_len,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        attn_implementation="sdpa",
    )
    return BertForMaskedLM(config)
