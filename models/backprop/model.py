"""The whole core with its backward pass written out: embeddings, residual blocks (pre- and
post-LN), stacks, the tied LM head, the sentence head, for every architecture, with each of
`ModelConfig`'s options (rotary positions, pooled memory, no causal mask, no 1/√K).

`HandTransformer(model)` reads its weights from an autograd `models.transformer.Transformer`
(the very same tensors, not copies), so the two can be compared on identical weights and an
optimizer that updates one updates both. `forward(batch)` gives the loss; `backward()` fills
every parameter's `.grad`, as `loss.backward()` would.

Dimension legend:
    B batch   S source (encoder) positions   T target (decoder) positions   D model width

>>> from models.transformer import ModelConfig, Transformer
>>> model = Transformer(ModelConfig(vocab_size=10, d_model=8, heads=2, d_ff=16), "encoder")
>>> batch = {"input_ids": torch.tensor([[2, 8, 4, 3]]), "attention_mask": torch.ones(1, 4),
...          "labels": torch.tensor([[-100, -100, 7, -100]])}
>>> hand = HandTransformer(model)
>>> with torch.no_grad():  # nothing for autograd to record
...     loss = hand.forward(batch).loss
...     hand.backward()
>>> model.embeddings.tokens.weight.grad.shape  # read by the embedding and by the LM head
torch.Size([10, 8])
"""

from __future__ import annotations

import torch
from torch import nn

from models import transformer
from models.attention import stack_masks
from models.backprop.attention import MultiHeadAttention
from models.backprop.layers import (
    GELU,
    Dropout,
    Embedding,
    LayerNorm,
    Linear,
    MeanPool,
    ReLU,
    Tanh,
    accumulate,
)
from models.backprop.loss import CrossEntropy
from models.rope import Rotation, rotation_at
from txdata.collate import next_token_labels
from txdata.errors import ConfigError
from txdata.special_tokens import IGNORE_INDEX


class Dropouts:
    """Makes each dropout of a model, all drawing from one generator (None: torch's own)."""

    def __init__(self, p: float, generator: torch.Generator | None, training: bool) -> None:
        self.p, self.generator, self.training = p, generator, training

    def __call__(self) -> Dropout:
        return Dropout(self.p, self.generator, self.training)


class Embeddings:
    """x = dropout(E[ids] · √D + positions + segments): (B, T) -> (B, T, D).

    Backward: dE gets dx · √D scattered to the rows read; a learned position table gets dx
    summed over the batch (every row reads the same positions); the sinusoidal table has no
    weights."""

    def __init__(self, module: transformer.Embeddings, dropouts: Dropouts) -> None:
        self.tokens = Embedding(module.tokens)
        self.scale, self.table, self.max_len = module.scale, module.table, module.max_len
        self.learned = Embedding(module.learned) if module.learned is not None else None
        self.segments = Embedding(module.segments) if module.segments is not None else None
        self.dropout = dropouts()

    def forward(
        self, ids: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        length = ids.shape[1]
        if length > self.max_len:
            raise ConfigError(f"a sequence of {length} tokens exceeds max_len {self.max_len}")
        x = self.tokens.forward(ids) * self.scale  # (B, T, D)
        positions = torch.arange(length, device=ids.device)  # (T,)
        if self.learned is not None:
            x = x + self.learned.forward(positions)  # (T, D), the same for every row
        elif self.table is not None:
            x = x + self.table[positions]
        if self.segments is not None:
            segments = torch.zeros_like(ids) if token_type_ids is None else token_type_ids
            x = x + self.segments.forward(segments)
        return self.dropout.forward(x)

    def backward(self, dx: torch.Tensor) -> None:
        dx = self.dropout.backward(dx)
        self.tokens.backward(dx * self.scale)
        if self.learned is not None:
            self.learned.backward(dx.sum(dim=0))  # (T, D)
        if self.segments is not None:
            self.segments.backward(dx)


class FeedForward:
    """y = W₂ act(W₁ x + b₁) + b₂, act GELU or ReLU: (B, T, D) -> (B, T, D)."""

    def __init__(self, module: nn.Sequential) -> None:
        first, activation, second = module
        act = GELU() if isinstance(activation, nn.GELU) else ReLU()
        self.layers = [Linear(first), act, Linear(second)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy


class Residual:
    """A sublayer f with its residual connection and LayerNorm:
    pre-LN  y = x + dropout(f(norm(x)))    backward  dx = dy + norm'(f'(dropout'(dy)))
    post-LN y = norm(x + dropout(f(x)))    backward  dz = norm'(dy); dx = dz + f'(dropout'(dz))
    The residual's `dx = dy + …` is why deep stacks train: the gradient reaches every layer
    along the identity path, whatever the sublayers do to it."""

    def __init__(self, norm: LayerNorm, sublayer, dropout: Dropout, pre_norm: bool) -> None:
        self.norm, self.sublayer, self.dropout, self.pre_norm = norm, sublayer, dropout, pre_norm

    def forward(self, x: torch.Tensor, *args) -> torch.Tensor:
        if self.pre_norm:
            return x + self.dropout.forward(self.sublayer.forward(self.norm.forward(x), *args))
        return self.norm.forward(x + self.dropout.forward(self.sublayer.forward(x, *args)))

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            return dy + self.norm.backward(self.sublayer.backward(self.dropout.backward(dy)))
        dz = self.norm.backward(dy)
        return dz + self.sublayer.backward(self.dropout.backward(dz))


class Block:
    """Self-attention, cross-attention (a decoder with an encoder), feed-forward; each a
    `Residual`. The cross-attention's memory gradient is kept in `memory_grad`."""

    def __init__(self, module: transformer.Block, dropouts: Dropouts) -> None:
        norms = [LayerNorm(norm) for norm in module.norms]
        pre = module.pre_norm
        self.self_attention = MultiHeadAttention(module.self_attention, dropouts())
        self.cross_attention = None
        residuals = [Residual(norms[0], self.self_attention, dropouts(), pre)]
        if module.cross_attention is not None:
            self.cross_attention = MultiHeadAttention(module.cross_attention, dropouts())
            residuals.append(Residual(norms[1], self.cross_attention, dropouts(), pre))
        residuals.append(Residual(norms[-1], FeedForward(module.feed_forward), dropouts(), pre))
        self.residuals = residuals

    def forward(
        self,
        x: torch.Tensor,
        allowed: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_allowed: torch.Tensor | None = None,
        rotation: Rotation | None = None,
    ) -> torch.Tensor:
        x = self.residuals[0].forward(x, None, allowed, rotation)
        if self.cross_attention is not None:
            x = self.residuals[1].forward(x, memory, memory_allowed)
        return self.residuals[-1].forward(x)

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        for residual in reversed(self.residuals):
            dy = residual.backward(dy)
        return dy

    @property
    def memory_grad(self) -> torch.Tensor | None:
        return None if self.cross_attention is None else self.cross_attention.context_grad


class Stack:
    """The blocks and, with pre-LN, the final LayerNorm; the masks and rotary angles as
    `transformer.Stack` makes them (a decoder without its causal mask has padding alone).
    Backward also gives `memory_grad`: the encoder memory's gradient summed over every
    block's cross-attention (each block reads the same memory)."""

    def __init__(self, module: transformer.Stack, dropouts: Dropouts) -> None:
        self.causal, self.rotary, self.head_width = module.causal, module.rotary, module.head_width
        self.blocks = [Block(block, dropouts) for block in module.blocks]
        final = module.final_norm
        self.final_norm = LayerNorm(final) if isinstance(final, nn.LayerNorm) else None

    def forward(
        self,
        x: torch.Tensor,
        attention_mask: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        length = x.shape[1]
        rotation = None  # positions 0 … T-1, as in training
        if self.rotary:
            rotation = rotation_at(torch.arange(length, device=x.device), self.head_width, x.dtype)
        # The core's own masks: (B, 1, T, T) and (B, 1, T, S) or None.
        allowed, memory_allowed = stack_masks(
            attention_mask, length, self.causal, memory_mask if memory is not None else None
        )
        for block in self.blocks:
            x = block.forward(x, allowed, memory, memory_allowed, rotation)
        return x if self.final_norm is None else self.final_norm.forward(x)

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        if self.final_norm is not None:
            dy = self.final_norm.backward(dy)
        for block in reversed(self.blocks):
            dy = block.backward(dy)
        grads = [block.memory_grad for block in self.blocks if block.memory_grad is not None]
        self.memory_grad = sum(grads) if grads else None
        return dy


class LMHead:
    """logits = h Eᵀ + b at the N positions whose label is not -100: hidden (B, T, D) ->
    (N, V), E the token embedding's weight (tied: the same tensor).

    Backward: dh = dlogits E, scattered back to the labelled positions (the others get 0);
    dE += dlogitsᵀ h, added to what the embedding's own use gives; db = Σ_N dlogits."""

    def __init__(self, module: transformer.LMHead) -> None:
        self.weight, self.bias = module.weight, module.bias

    def forward(self, hidden: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        keep = labels != IGNORE_INDEX  # (B, T)
        rows = hidden[keep]  # (N, D)
        self.saved = keep, rows, hidden.shape
        return rows @ self.weight.T + self.bias

    def backward(self, d_logits: torch.Tensor) -> torch.Tensor:
        keep, rows, shape = self.saved
        accumulate(self.weight, d_logits.T @ rows)  # (V, D): the head's use of the tied weight
        accumulate(self.bias, d_logits.sum(dim=0))
        d_hidden = torch.zeros(shape, dtype=rows.dtype, device=rows.device)  # (B, T, D)
        d_hidden[keep] = d_logits @ self.weight
        return d_hidden


class SentenceHead:
    """BERT's pooler and next-sentence classifier on [CLS]: logits = W_c tanh(W_p h₀ + b_p)
    + b_c, hidden (B, T, D) -> (B, 2). Backward reaches position 0 only."""

    def __init__(self, module: transformer.SentenceHead) -> None:
        self.layers = [Linear(module.pooler), Tanh(), Linear(module.classifier)]

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        self.shape = hidden.shape
        x = hidden[:, 0]  # (B, D)
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, d_logits: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            d_logits = layer.backward(d_logits)
        d_hidden = torch.zeros(self.shape, dtype=d_logits.dtype, device=d_logits.device)
        d_hidden[:, 0] = d_logits
        return d_hidden


class HandTransformer:
    """A `Transformer`'s forward and backward passes, by hand, on its own weights.

    `training`: dropout active (as after `model.train()`); masks come from `generator`, or
    torch's global generator when None. The loss is the one `Transformer.forward` computes
    for training (`logits=False`): the token loss, plus the next-sentence loss for a model of
    sentence pairs; `losses` keeps each.
    """

    def __init__(
        self,
        model: transformer.Transformer,
        training: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        self.architecture = model.architecture
        dropouts = Dropouts(model.config.dropout, generator, training)
        # The encoder-decoder reads the one embedding twice: each use saves its own ids.
        self.encoder_embeddings = Embeddings(model.embeddings, dropouts)
        self.decoder_embeddings = Embeddings(model.embeddings, dropouts)
        self.encoder = Stack(model.encoder, dropouts) if model.encoder is not None else None
        self.decoder = Stack(model.decoder, dropouts) if model.decoder is not None else None
        self.pool = MeanPool() if model.config.memory == "pooled" else None
        self.head, self.token_loss = LMHead(model.head), CrossEntropy()
        self.sentence_head = None
        if model.sentence_head is not None:
            self.sentence_head, self.sentence_loss = SentenceHead(model.sentence_head), None

    def forward(
        self, batch: dict[str, torch.Tensor], label_smoothing: float = 0.0
    ) -> transformer.Output:
        labels = batch["labels"]
        if self.decoder is None:
            x = self.encoder_embeddings.forward(batch["input_ids"], batch.get("token_type_ids"))
            hidden = self.encoder.forward(x, batch["attention_mask"])
        elif self.encoder is None:
            x = self.decoder_embeddings.forward(batch["input_ids"])
            hidden = self.decoder.forward(x, batch["attention_mask"])
            labels = next_token_labels(labels)  # position t is scored on token t + 1
        else:
            x = self.encoder_embeddings.forward(batch["input_ids"])
            memory = self.encoder.forward(x, batch["attention_mask"])  # (B, S, D)
            memory_mask = batch["attention_mask"]
            if self.pool is not None:  # as `Transformer.memory`: one mean vector, always seen
                memory = self.pool.forward(memory, memory_mask)  # (B, 1, D)
                memory_mask = torch.ones_like(memory_mask[:, :1])
            ids = batch["decoder_input_ids"]
            mask = batch.get("decoder_attention_mask", torch.ones_like(ids))
            x = self.decoder_embeddings.forward(ids)
            hidden = self.decoder.forward(x, mask, memory, memory_mask)
        logits = self.head.forward(hidden, labels)  # (N, V)
        targets = labels[labels != IGNORE_INDEX]  # (N,), in the order the head took the rows
        token_loss = self.token_loss.forward(logits, targets, label_smoothing)
        if self.sentence_head is None:
            self.sentence_loss = None
            return transformer.Output(None, token_loss)
        sentence_logits = self.sentence_head.forward(hidden)  # (B, 2)
        pair_labels = batch.get("next_sentence_label")
        if pair_labels is None:
            self.sentence_loss = None
            return transformer.Output(None, token_loss, sentence_logits)
        self.sentence_loss = CrossEntropy()
        sentence_loss = self.sentence_loss.forward(sentence_logits, pair_labels, label_smoothing)
        losses = {"token": token_loss, "next_sentence": sentence_loss}
        return transformer.Output(None, token_loss + sentence_loss, sentence_logits, losses)

    def backward(self) -> None:
        """Add ∂loss/∂θ to every parameter's `.grad` (set it to None or 0 first, as before
        `loss.backward()`). Each loss term enters with gradient 1: the loss is their sum."""
        d_hidden = self.head.backward(self.token_loss.backward())  # (B, T, D)
        if self.sentence_loss is not None:
            d_hidden = d_hidden + self.sentence_head.backward(self.sentence_loss.backward())
        if self.decoder is None:
            self.encoder_embeddings.backward(self.encoder.backward(d_hidden))
            return
        self.decoder_embeddings.backward(self.decoder.backward(d_hidden))
        if self.encoder is not None:  # the memory's gradient, from every cross-attention
            d_memory = self.decoder.memory_grad  # (B, S, D), or (B, 1, D) pooled
            if self.pool is not None:
                d_memory = self.pool.backward(d_memory)  # (B, S, D)
            self.encoder_embeddings.backward(self.encoder.backward(d_memory))
