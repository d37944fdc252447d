"""One transformer core, composed three ways: encoder (mlm), encoder-decoder (seq2seq), decoder.

Dimension legend:
    B batch   S source (encoder) positions   T target (decoder) positions
    D model width (d_model)   F feed-forward width (d_ff)   V vocabulary
    H heads   K head width (D/H)   L positions a cached attention has seen so far

A `Stack` of `Block`s with two flags does all the work: the encoder is `Stack(causal=False)`,
the decoder `Stack(causal=True)`, with cross-attention when there is an encoder. `Transformer`
composes them by architecture; `Transformer.memory` is what the decoder's cross-attention
reads of the encoder, for training and generation alike. Heads sit outside the core: one LM
head, tied to the token embedding, serves every architecture; an encoder that reads sentence
pairs (BERT's nsp) adds segment embeddings and a sentence head on [CLS].
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from models.attention import (
    KVCache,
    MultiHeadAttention,
    stack_masks,
)
from models.config import ModelConfig  # its home is models/config.py; imported from here too
from models.rope import Rotation, rotation_at
from txdata.collate import next_token_labels
from txdata.errors import ConfigError
from txdata.objectives import ARCHITECTURES
from txdata.special_tokens import IGNORE_INDEX


class Output(NamedTuple):
    logits: torch.Tensor | None  # (B, T, V); None when the model was asked for the loss only
    loss: torch.Tensor | None  # mean cross-entropy over positions whose label is not -100
    sentence_logits: torch.Tensor | None = None  # (B, 2): [CLS]'s "B follows A" and "it does not"
    # When `loss` sums several, each of them: {"token": …, "next_sentence": …}.
    losses: dict[str, torch.Tensor] | None = None


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
    """Token vectors times sqrt(D), as in "Attention Is All You Need", plus positions.

    The sqrt(D) pairs with an initialisation of std 1/sqrt(D), which makes the scaled vectors'
    components about 1, like the sinusoidal code's. These vectors start at std 0.02 (BERT's),
    so at initialisation a scaled token vector (norm ~1.3 at D = 64) is still smaller than
    the code (norm sqrt(D/2) ~5.7); training grows it (`docs/guide/embeddings.py` measures
    both)."""

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
        # BERT's token type embedding: segment A (0) or B (1), added like a position.
        self.segments = nn.Embedding(2, config.d_model) if config.sentence_pairs else None
        self.dropout = nn.Dropout(config.dropout)
        self.max_len = config.max_len

    def forward(
        self,
        ids: torch.Tensor,
        positions: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """ids (B, T) -> (B, T, D). `positions` (B, T), 0 … T-1 when not given, lets generation
        number left-padded prompts from their first real token, and one new token by its place.
        `token_type_ids` (B, T), all 0 when not given, count only with segment embeddings."""
        length = ids.shape[1] if positions is None else int(positions.max()) + 1
        if length > self.max_len:
            raise ConfigError(f"a sequence of {length} tokens exceeds max_len {self.max_len}")
        if positions is None:
            positions = torch.arange(length, device=ids.device)  # (T,)
        x = self.tokens(ids) * self.scale
        if self.learned is not None:
            x = x + self.learned(positions)
        elif self.table is not None:
            x = x + self.table[positions]
        if self.segments is not None:
            x = x + self.segments(
                torch.zeros_like(ids) if token_type_ids is None else token_type_ids
            )
        return self.dropout(x)


class Block(nn.Module):
    """Self-attention, then cross-attention (decoder only), then feed-forward."""

    def __init__(self, config: ModelConfig, cross_attention: bool) -> None:
        super().__init__()
        d, heads, dropout = config.d_model, config.heads, config.dropout
        self.pre_norm, scaled = config.norm == "pre", config.attention_scale
        self.self_attention = MultiHeadAttention(d, heads, dropout, scaled)
        self.cross_attention = None
        if cross_attention:
            self.cross_attention = MultiHeadAttention(d, heads, dropout, scaled)
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
        cache: tuple[KVCache, KVCache] | None = None,
        rotation: Rotation | None = None,
    ) -> torch.Tensor:
        """x (B, T, D); memory (B, S, D) is the encoder output the decoder attends to.
        `cache`: this block's (self-attention, cross-attention) keys and values, when generating.
        `rotation`: x's rotary angles, for self-attention (cross-attention has none)."""
        own, cross = cache if cache is not None else (None, None)
        x = self._residual(x, self.norms[0], self.self_attention, None, allowed, own, rotation)
        if self.cross_attention is not None:
            x = self._residual(
                x, self.norms[1], self.cross_attention, memory, memory_allowed, cross
            )
        return self._residual(x, self.norms[-1], self.feed_forward)

    def _residual(self, x: torch.Tensor, norm: nn.LayerNorm, sublayer, *args) -> torch.Tensor:
        if self.pre_norm:
            return x + self.dropout(sublayer(norm(x), *args))
        return norm(x + self.dropout(sublayer(x, *args)))


class Stack(nn.Module):
    """N blocks. `causal`: position t sees only positions <= t. `cross_attention`: attend to
    an encoder's output too. With rotary positions, the stack turns self-attention's queries
    and keys by each position's angles."""

    def __init__(self, config: ModelConfig, causal: bool, cross_attention: bool = False) -> None:
        super().__init__()
        self.causal = causal
        self.rotary = config.positional == "rope"
        self.head_width = config.d_model // config.heads
        self.blocks = nn.ModuleList(Block(config, cross_attention) for _ in range(config.layers))
        # Pre-LN leaves the residual stream unnormalised; one last LayerNorm closes it.
        self.final_norm = nn.LayerNorm(config.d_model) if config.norm == "pre" else nn.Identity()

    def forward(
        self,
        x: torch.Tensor,
        attention_mask: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        cache: list[tuple[KVCache, KVCache]] | None = None,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x (B, T, D), attention_mask (B, L); memory (B, S, D), memory_mask (B, S).

        L = T, unless a `cache` (one entry per block) holds the L - T positions before x.
        `positions` (B, T), 0 … T-1 when not given: x's positions, for rotary angles."""
        new = x.shape[1]
        rotation = None
        if self.rotary:
            where = torch.arange(new, device=x.device) if positions is None else positions
            rotation = rotation_at(where, self.head_width, x.dtype)  # (B or 1, 1, T, K/2)
        memory_mask = memory_mask if memory is not None else None
        # (B, 1, T, L), and (B, 1, T, S) or None
        allowed, memory_allowed = stack_masks(attention_mask, new, self.causal, memory_mask)
        for block, block_cache in zip(self.blocks, cache or [None] * len(self.blocks)):
            x = block(x, allowed, memory, memory_allowed, block_cache, rotation)
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
        self,
        hidden: torch.Tensor,
        labels: torch.Tensor,
        label_smoothing: float = 0.0,
        count: float | None = None,
    ) -> torch.Tensor:
        """`lm_loss(self(hidden), labels, …, count)`, with the same value and gradients, made
        cheaper.

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
        # NaN when nothing is labelled and no count is given, as `lm_loss` gives
        return total / (len(labels) if count is None else count)


class SentenceHead(nn.Module):
    """BERT's pooler (dense and tanh on [CLS]'s hidden state) and a 2-way classifier:
    class 0, B follows A; class 1, it does not (`next_sentence_label`)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.pooler = nn.Linear(config.d_model, config.d_model)
        self.classifier = nn.Linear(config.d_model, 2)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, 2), from position 0, [CLS]."""
        return self.classifier(torch.tanh(self.pooler(hidden[:, 0])))


def lm_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    label_smoothing: float = 0.0,
    count: float | None = None,
) -> torch.Tensor:
    """Mean cross-entropy where the label is not -100: logits (B, T, V), labels (B, T).

    `count`: divide the summed loss by it instead of by the labels here. A process that
    trains on a share of a batch passes the whole batch's count (`models/distributed.py`).
    """
    losses = F.cross_entropy(
        logits.flatten(0, 1),
        labels.flatten(),
        ignore_index=IGNORE_INDEX,
        label_smoothing=label_smoothing,
        reduction="mean" if count is None else "sum",
    )
    return losses if count is None else losses / count


def head_output(
    head: LMHead,
    hidden: torch.Tensor,
    labels: torch.Tensor | None,
    label_smoothing: float,
    logits: bool,
    count: float | None = None,
) -> Output:
    """The head's output for hidden states (B, T, D): logits, and the loss when there are
    labels. `logits=False` returns only the loss, computed the cheaper way of `LMHead.loss`."""
    if labels is not None and not logits:
        return Output(None, head.loss(hidden, labels, label_smoothing, count))
    values = head(hidden)
    loss = None if labels is None else lm_loss(values, labels, label_smoothing, count)
    return Output(values, loss)


class Transformer(nn.Module):
    """Embeddings, an encoder stack and/or a causal decoder stack, and the tied LM head.

    - encoder (mlm): every position sees every real position and predicts itself.
    - encoder-decoder (seq2seq): the encoder reads `input_ids`, the decoder
      `decoder_input_ids` and, through cross-attention, the encoder's output.
    - decoder (causal LM): the decoder reads `input_ids` alone; position t predicts t + 1.

    >>> model = Transformer(ModelConfig(vocab_size=20), "decoder")
    >>> ids = torch.tensor([[8, 7, 8, 0]])  # 1 0 1 [PAD]
    >>> labels = torch.tensor([[8, 7, 8, -100]])  # the input ids, -100 on pad; unshifted
    >>> output = model({"input_ids": ids, "attention_mask": ids.ne(0).long(), "labels": labels})
    >>> output.logits.shape  # the loss scores 7 after 8 and 8 after 7, nothing after the last 8
    torch.Size([1, 4, 20])
    """

    def __init__(self, config: ModelConfig, architecture: str) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ConfigError(
                f"no architecture {architecture!r}: choose {', '.join(ARCHITECTURES)}"
            )
        config.check_architecture(architecture)
        self.config, self.architecture = config, architecture
        self.embeddings = Embeddings(config)
        self.encoder = Stack(config, causal=False) if architecture != "decoder" else None
        self.decoder = None
        if architecture != "encoder":
            cross = architecture == "encoder-decoder"
            self.decoder = Stack(config, causal=config.causal_mask, cross_attention=cross)
        self.head = LMHead(self.embeddings)
        self.sentence_head = SentenceHead(config) if config.sentence_pairs else None

    def encode(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, S) -> the encoder's last hidden states (B, S, D): the memory a decoder reads.
        `token_type_ids` (B, S): each position's segment, for a model of sentence pairs."""
        return self.encoder(
            self.embeddings(input_ids, token_type_ids=token_type_ids), attention_mask
        )

    def memory(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """What the decoder's cross-attention reads of the source (B, S): the memory and its
        mask. `memory="attention"`: the encoder's output (B, S, D) and `attention_mask`.
        `memory="pooled"`: its mean over real positions (B, 1, D), and a mask of ones (B, 1),
        so the decoder must get the whole source from one vector of fixed width."""
        hidden = self.encode(input_ids, attention_mask)  # (B, S, D)
        if self.config.memory == "attention":
            return hidden, attention_mask
        return mean_pool(hidden, attention_mask), torch.ones_like(attention_mask[:, :1])

    def decode(
        self,
        ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        cache: list[tuple[KVCache, KVCache]] | None = None,
    ) -> torch.Tensor:
        """(B, T) -> the decoder's last hidden states (B, T, D); `self.head` makes logits.

        memory (B, S, D) and memory_mask (B, S): the encoder's output, for encoder-decoder.
        With a `cache` (from `new_cache`), ids are the new positions only, and
        attention_mask (B, L) and their `positions` (B, T) count the cached ones before them.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(ids)
        x = self.embeddings(ids, positions)
        return self.decoder(x, attention_mask, memory, memory_mask, cache, positions)

    def new_cache(self) -> list[tuple[KVCache, KVCache]]:
        """Empty keys and values for each decoder block: (self-attention, cross-attention)."""
        return [(KVCache(grows=True), KVCache(grows=False)) for _ in self.decoder.blocks]

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """(B, T): the label each output position is scored on. Decoder-only labels are the
        input ids themselves: the model shifts them, here and nowhere else, so that position
        t is scored on the token at t + 1. Every other architecture's labels stand as given."""
        return next_token_labels(labels) if self.architecture == "decoder" else labels

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        label_smoothing: float = 0.0,
        logits: bool = True,
        loss_counts: dict[str, float] | None = None,
    ) -> Output:
        """`logits=False`: the loss only, which is what training needs, and cheaper.

        `loss_counts` ({"token": …, "next_sentence": …}): what each loss's sum is divided
        by, in place of this batch's own counts (`models/distributed.py` says why).
        """
        counts = loss_counts or {}
        labels = batch.get("labels")
        if self.decoder is None:
            hidden = self.encode(
                batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids")
            )
        elif self.encoder is None:
            hidden = self.decode(batch["input_ids"], batch["attention_mask"])
            labels = None if labels is None else self.targets(labels)
        else:
            memory, memory_mask = self.memory(batch["input_ids"], batch["attention_mask"])
            hidden = self.decode(
                batch["decoder_input_ids"], batch.get("decoder_attention_mask"), memory, memory_mask
            )
        output = head_output(
            self.head, hidden, labels, label_smoothing, logits, counts.get("token")
        )
        if self.sentence_head is None:
            return output
        return with_sentence_output(
            output,
            self.sentence_head(hidden),
            batch.get("next_sentence_label"),
            label_smoothing,
            counts.get("next_sentence"),
        )


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, S, D) -> (B, 1, D): the mean of each row's real positions (mask (B, S) of 1/0), so
    padding changes nothing; a fully padded row gives zeros rather than 0/0.

    >>> mean_pool(torch.tensor([[[1.0], [3.0], [100.0]]]), torch.tensor([[1, 1, 0]]))
    tensor([[[2.]]])
    """
    real = attention_mask.to(hidden.dtype)[..., None]  # (B, S, 1)
    count = real.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1, 1)
    return (hidden * real).sum(dim=1, keepdim=True) / count


def with_sentence_output(
    output: Output,
    sentence_logits: torch.Tensor,
    sentence_labels: torch.Tensor | None,
    label_smoothing: float,
    count: float | None = None,
) -> Output:
    """`output` with the sentence head's logits (B, 2) and, when there are labels (B,), its
    loss added to the token loss, as BERT sums them; `losses` keeps each. `count`, as in
    `lm_loss`."""
    if sentence_labels is None:
        return output._replace(sentence_logits=sentence_logits)
    sentence_loss = F.cross_entropy(
        sentence_logits,
        sentence_labels,
        label_smoothing=label_smoothing,
        reduction="mean" if count is None else "sum",
    )
    if count is not None:
        sentence_loss = sentence_loss / count
    losses = {"token": output.loss, "next_sentence": sentence_loss}
    losses = {name: loss for name, loss in losses.items() if loss is not None}
    return output._replace(
        loss=sum(losses.values()), sentence_logits=sentence_logits, losses=losses
    )


def build_model(architecture: str, config: ModelConfig) -> Transformer:
    """A fresh model of an architecture: `encoder`, `encoder-decoder` or `decoder`."""
    if config.vocab_size < 1:
        raise ConfigError(f"vocab_size must be at least 1, got {config.vocab_size}")
    return Transformer(config, architecture)
