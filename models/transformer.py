"""One transformer core, used two ways: encoder-decoder (seq2seq) and encoder-only (mlm).

Dimension legend:
    B batch   S source (encoder) positions   T target (decoder) positions
    D model width (d_model)   F feed-forward width (d_ff)   V vocabulary

A `Stack` of `Block`s with two flags does all the work: the encoder is
`Stack(causal=False)`, the decoder `Stack(causal=True, cross_attention=True)`. Heads sit
outside the core: one LM head, tied to the token embedding, serves both modes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from models.attention import MultiHeadAttention, causal_mask, combine, padding_mask
from txdata.errors import ConfigError
from txdata.special_tokens import IGNORE_INDEX


@dataclass
class ModelConfig:
    vocab_size: int = 0  # 0 until a run sets it from the tokenizer
    d_model: int = 64  # width of every token vector
    heads: int = 4  # attention heads; d_model must divide by it
    layers: int = 2  # blocks in the encoder, and in the decoder
    d_ff: int = 256  # hidden width of the feed-forward layer, 4 × d_model as in the paper
    dropout: float = 0.0  # 0 trains toy tasks fastest; the paper used 0.1
    max_len: int = 512  # longest sequence the positional encoding covers
    activation: str = "gelu"  # gelu (BERT) or relu (the original paper)
    norm: str = "pre"  # pre: LayerNorm before each sublayer (stable); post: after, as in the paper
    positional: str = "sinusoidal"  # sinusoidal, learned, or none

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ConfigError(f"d_model {self.d_model} is not divisible by {self.heads} heads")
        choices = {"activation": ("gelu", "relu"), "norm": ("pre", "post")}
        choices["positional"] = ("sinusoidal", "learned", "none")
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}")
        for name in ("d_model", "heads", "layers", "d_ff", "max_len"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")


class Output(NamedTuple):
    logits: torch.Tensor | None  # (B, T, V); None when the model was asked for the loss only
    loss: torch.Tensor | None  # mean cross-entropy over positions whose label is not -100


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """(length, width) sin/cos waves of geometric wavelengths, as in "Attention Is All You Need".

    Why sin/cos: each position gets a unique code with no parameters to learn, the offset
    between two positions is a fixed rotation of the code (easy for attention to read), and
    the code is defined at any position, so longer inputs than seen in training still get one.
    """
    position = torch.arange(length, dtype=torch.float32)[:, None]  # (length, 1)
    frequency = torch.exp(torch.arange(0, width, 2) * (-math.log(10000.0) / width))
    angles = position * frequency  # (length, width / 2)
    table = torch.zeros(length, width)
    table[:, 0::2], table[:, 1::2] = torch.sin(angles), torch.cos(angles[:, : width // 2])
    return table


class Embeddings(nn.Module):
    """Token vectors scaled by sqrt(D), so they are not drowned by the positional code."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.tokens = nn.Embedding(config.vocab_size, config.d_model)
        nn.init.normal_(self.tokens.weight, std=0.02)
        self.scale = math.sqrt(config.d_model)
        self.learned = None
        if config.positional == "learned":
            self.learned = nn.Embedding(config.max_len, config.d_model)
        table = sinusoidal_positions(config.max_len, config.d_model)
        self.register_buffer(
            "table", table if config.positional == "sinusoidal" else None, persistent=False
        )
        self.dropout = nn.Dropout(config.dropout)
        self.max_len = config.max_len

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, T) -> (B, T, D)."""
        length = ids.shape[1]
        if length > self.max_len:
            raise ConfigError(f"a sequence of {length} tokens exceeds max_len {self.max_len}")
        x = self.tokens(ids) * self.scale
        if self.learned is not None:
            x = x + self.learned(torch.arange(length, device=ids.device))
        elif self.table is not None:
            x = x + self.table[:length]
        return self.dropout(x)


class Block(nn.Module):
    """Self-attention, then cross-attention (decoder only), then feed-forward."""

    def __init__(self, config: ModelConfig, cross_attention: bool) -> None:
        super().__init__()
        d, heads, dropout = config.d_model, config.heads, config.dropout
        self.pre_norm = config.norm == "pre"
        self.self_attention = MultiHeadAttention(d, heads, dropout)
        self.cross_attention = MultiHeadAttention(d, heads, dropout) if cross_attention else None
        activation = nn.GELU() if config.activation == "gelu" else nn.ReLU()
        self.feed_forward = nn.Sequential(
            nn.Linear(d, config.d_ff), activation, nn.Linear(config.d_ff, d)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(3 if cross_attention else 2))
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        allowed: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_allowed: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x (B, T, D); memory (B, S, D) is the encoder output the decoder attends to."""
        x = self._residual(x, self.norms[0], self.self_attention, None, allowed)
        if self.cross_attention is not None:
            x = self._residual(x, self.norms[1], self.cross_attention, memory, memory_allowed)
        return self._residual(x, self.norms[-1], self.feed_forward)

    def _residual(self, x: torch.Tensor, norm: nn.LayerNorm, sublayer, *args) -> torch.Tensor:
        if self.pre_norm:
            return x + self.dropout(sublayer(norm(x), *args))
        return norm(x + self.dropout(sublayer(x, *args)))


class Stack(nn.Module):
    """N blocks. `causal`: position t sees only positions <= t. `cross_attention`: attend to
    an encoder's output too."""

    def __init__(self, config: ModelConfig, causal: bool, cross_attention: bool = False) -> None:
        super().__init__()
        self.causal = causal
        self.blocks = nn.ModuleList(Block(config, cross_attention) for _ in range(config.layers))
        # Pre-LN leaves the residual stream unnormalised; one last LayerNorm closes it.
        self.final_norm = nn.LayerNorm(config.d_model) if config.norm == "pre" else nn.Identity()

    def forward(
        self,
        x: torch.Tensor,
        attention_mask: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x (B, T, D), attention_mask (B, T); memory (B, S, D), memory_mask (B, S)."""
        causal = causal_mask(x.shape[1], x.device) if self.causal else None
        allowed = combine(padding_mask(attention_mask), causal)  # (B, 1, T, T)
        memory_allowed = None
        if memory is not None:
            # Every decoder query may see every real encoder position: (B, 1, T, S).
            memory_allowed = combine(padding_mask(memory_mask)).expand(-1, -1, x.shape[1], -1)
        for block in self.blocks:
            x = block(x, allowed, memory, memory_allowed)
        return self.final_norm(x)


class LMHead(nn.Module):
    """Hidden states to vocabulary logits, with the token embedding as its weight (tied)."""

    chunk_rows = 512  # rows of logits made at a time by `loss`; see there why

    def __init__(self, embeddings: Embeddings) -> None:
        super().__init__()
        self.weight = embeddings.tokens.weight  # the same Parameter: one tensor, two uses
        self.bias = nn.Parameter(torch.zeros(embeddings.tokens.num_embeddings))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, V)."""
        return F.linear(hidden, self.weight, self.bias)

    def loss(
        self, hidden: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0
    ) -> torch.Tensor:
        """`lm_loss(self(hidden), labels)`, with the same value and gradients, made cheaper.

        hidden (B, T, D), labels (B, T). Two savings, neither of which changes the loss:
        - Only the N positions whose label is not -100 go through the head, as BERT's
          `masked_lm_positions` do. For mlm that is 15 % of them, and at vocab 8,000 the head
          is over half of a training step's FLOPs.
        - Their (N, V) logits are made `chunk_rows` rows at a time. On CPU, a tensor above
          glibc's 32 MB mmap threshold is page-faulted afresh at every step: zeroing
          4096 × 8000 floats takes 58 ms at once and 2.3 ms in 512-row pieces (measured).
        """
        keep = labels != IGNORE_INDEX  # (B, T)
        hidden, labels = hidden[keep], labels[keep]  # (N, D), (N,)
        total = hidden.new_zeros(())
        for rows, targets in zip(hidden.split(self.chunk_rows), labels.split(self.chunk_rows)):
            total = total + F.cross_entropy(
                self(rows), targets, reduction="sum", label_smoothing=label_smoothing
            )
        return total / len(labels)  # NaN when nothing is labelled, as `lm_loss` gives


def lm_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0):
    """Mean cross-entropy where the label is not -100: logits (B, T, V), labels (B, T)."""
    return F.cross_entropy(
        logits.flatten(0, 1),
        labels.flatten(),
        ignore_index=IGNORE_INDEX,
        label_smoothing=label_smoothing,
    )


def scored(
    head: LMHead,
    hidden: torch.Tensor,
    labels: torch.Tensor | None,
    label_smoothing: float,
    logits: bool,
) -> Output:
    """The head's output for hidden states (B, T, D): logits, and the loss when there are
    labels. `logits=False` returns only the loss, computed the cheaper way of `LMHead.loss`."""
    if labels is not None and not logits:
        return Output(None, head.loss(hidden, labels, label_smoothing))
    values = head(hidden)
    return Output(values, None if labels is None else lm_loss(values, labels, label_smoothing))


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder: the encoder reads `input_ids`, the decoder `decoder_input_ids`."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Stack(config, causal=False)
        self.decoder = Stack(config, causal=True, cross_attention=True)
        self.head = LMHead(self.embeddings)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, S) -> memory (B, S, D)."""
        return self.encoder(self.embeddings(input_ids), attention_mask)

    def decode(
        self,
        decoder_input_ids: torch.Tensor,
        memory: torch.Tensor,
        attention_mask: torch.Tensor,
        decoder_attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, T) and memory (B, S, D) -> logits (B, T, V)."""
        return self.head(
            self.decoder_states(decoder_input_ids, memory, attention_mask, decoder_attention_mask)
        )

    def decoder_states(
        self,
        decoder_input_ids: torch.Tensor,
        memory: torch.Tensor,
        attention_mask: torch.Tensor,
        decoder_attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, T) and memory (B, S, D) -> the decoder's last hidden states (B, T, D)."""
        if decoder_attention_mask is None:
            decoder_attention_mask = torch.ones_like(decoder_input_ids)
        x = self.embeddings(decoder_input_ids)
        return self.decoder(x, decoder_attention_mask, memory, attention_mask)

    def forward(
        self, batch: dict[str, torch.Tensor], label_smoothing: float = 0.0, logits: bool = True
    ) -> Output:
        """`logits=False`: the loss only, which is what training needs, and cheaper."""
        memory = self.encode(batch["input_ids"], batch["attention_mask"])
        hidden = self.decoder_states(
            batch["decoder_input_ids"],
            memory,
            batch["attention_mask"],
            batch.get("decoder_attention_mask"),
        )
        return scored(self.head, hidden, batch.get("labels"), label_smoothing, logits)


class MaskedLMTransformer(nn.Module):
    """Encoder-only: every position sees every other real position, and predicts itself."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Stack(config, causal=False)
        self.head = LMHead(self.embeddings)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.embeddings(input_ids), attention_mask)

    def forward(
        self, batch: dict[str, torch.Tensor], label_smoothing: float = 0.0, logits: bool = True
    ) -> Output:
        """`logits=False`: the loss only, which is what training needs, and cheaper."""
        hidden = self.encode(batch["input_ids"], batch["attention_mask"])
        return scored(self.head, hidden, batch.get("labels"), label_smoothing, logits)


MODELS = {"seq2seq": Seq2SeqTransformer, "mlm": MaskedLMTransformer}


def build_model(mode: str, config: ModelConfig) -> nn.Module:
    if mode not in MODELS:
        raise ConfigError(f"no model for mode {mode!r}: choose {', '.join(sorted(MODELS))}")
    if config.vocab_size < 1:
        raise ConfigError(f"vocab_size must be at least 1, got {config.vocab_size}")
    return MODELS[mode](config)
