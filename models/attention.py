"""Attention masks and multi-head attention, written out step by step.

Dimension legend:
    B batch   T query positions   L key positions   D model width   H heads   K head width (D/H)

Masks are boolean and say who may look at whom: `allowed[b, 0, t, l]` is True when query t of
row b may attend to key l. The head axis is 1 so one mask serves every head.

During generation a `KVCache` keeps each attention's keys and values from earlier steps, so a
step projects only its new position. With rotary positions (`models.rope`), self-attention
turns its queries and keys before anything else: a cached key was turned, at its own position,
when it was cached.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.rope import Rotation, rotate


class KVCache:
    """One attention's keys and values (B, H, L, K) from earlier generation steps.

    `grows` (self-attention): each step appends the keys and values of its new positions.
    Otherwise (cross-attention) they are the encoder memory's, projected at the first step and
    reused: the memory does not change while the decoder generates.

    >>> cache = KVCache(grows=True)
    >>> for length in (3, 1, 1):  # a 3-token prompt, then one new token a step
    ...     keys, values = cache.keys_values(lambda: (torch.zeros(1, 2, length, 4),) * 2)
    >>> keys.shape
    torch.Size([1, 2, 5, 4])
    """

    def __init__(self, grows: bool) -> None:
        self.grows = grows
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def keys_values(self, project) -> tuple[torch.Tensor, torch.Tensor]:
        """All keys and values so far; `project()` gives those of the new positions."""
        if self.keys is None:
            self.keys, self.values = project()
        elif self.grows:
            keys, values = project()
            self.keys = torch.cat([self.keys, keys], dim=2)  # (B, H, L + new, K)
            self.values = torch.cat([self.values, values], dim=2)
        return self.keys, self.values


def causal_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    """(T, T) True on and below the diagonal: position t sees positions <= t.

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, L) of 1/0 -> (B, 1, 1, L): real keys may be seen, pad keys may not.

    The mask acts on key *columns*. Masking query rows instead would leave pad queries with
    nothing to attend to, and their softmax would be NaN.
    """
    return attention_mask.bool()[:, None, None, :]


def may_attend(padding: torch.Tensor, causal: torch.Tensor | None = None) -> torch.Tensor:
    """Padding (B, 1, 1, L) and an optional causal (T, L) mask -> (B, 1, T, L).

    A query whose row allows nothing (a fully padded sequence) is let see every key instead:
    its output is never used, and an all-masked softmax would turn it to NaN.
    """
    allowed = padding if causal is None else padding & causal
    return allowed | ~allowed.any(dim=-1, keepdim=True)


def stack_masks(
    attention_mask: torch.Tensor,
    new: int,
    causal: bool,
    memory_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What a stack's queries may see: self-attention (B, 1, T, L) and, with a memory,
    cross-attention (B, 1, T, S). attention_mask (B, L) covers the L positions seen so far,
    of which the `new` last (T) are the queries; memory_mask (B, S).

    >>> allowed, _ = stack_masks(torch.tensor([[1, 1, 0]]), new=3, causal=True)
    >>> allowed[0, 0].int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 0]], dtype=torch.int32)
    """
    length = attention_mask.shape[1]
    # The new positions are the last T of L: their rows of the (L, L) causal mask.
    rows = causal_mask(length, attention_mask.device)[length - new :] if causal else None
    allowed = may_attend(padding_mask(attention_mask), rows)
    if memory_mask is None:
        return allowed, None
    # Every query may see every real memory position.
    return allowed, may_attend(padding_mask(memory_mask)).expand(-1, -1, new, -1)


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    allowed: torch.Tensor | None,
    dropout: float = 0.0,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention: softmax(q k^T / sqrt(K)) v. Returns (output, weights).

    q (B, H, T, K), k and v (B, H, L, K), allowed (B, 1, T, L) -> (B, H, T, K), (B, H, T, L).
    `scale` multiplies the scores: 1/sqrt(K) when None, as `F.scaled_dot_product_attention`.
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale  # (B, H, T, L)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))  # every row keeps a key (may_attend)
    weights = scores.softmax(dim=-1)
    return F.dropout(weights, dropout) @ v, weights


class MultiHeadAttention(nn.Module):
    """H heads of attention from x (queries) over context (keys and values).

    `scaled=False` drops the 1/sqrt(K) of scaled dot-product attention (`ModelConfig`'s
    `attention_scale`): q·k sums K products, so its spread is about sqrt(K) times one
    product's, and unscaled scores push the softmax towards one-hot weights whose gradients
    vanish. It is there to show that, not to be used.
    """

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0, scaled: bool = True) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.scale = None if scaled else 1.0  # None: 1/sqrt(K), as `attend` and SDPA take it
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.fast = True  # use F.scaled_dot_product_attention; tests hold it equal to `attend`
        self.weights: torch.Tensor | None = None  # (B, H, T, L), kept when `keep_weights`
        self.keep_weights = False

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None,
        allowed: torch.Tensor | None,
        cache: KVCache | None = None,
        rotation: Rotation | None = None,
    ) -> torch.Tensor:
        """x (B, T, D), context (B, L, D) or None for self-attention, allowed (B, 1, T, L).

        With a `cache`, x holds only the new positions and L counts the cached ones too.
        `rotation` (self-attention with rotary positions): the angles of x's T positions, by
        which its queries and keys turn; keys already cached were turned at theirs."""
        context = x if context is None else context
        q = self._split(self.q(x))  # (B, H, T, K)
        if rotation is not None:
            q = rotate(q, rotation)

        def project() -> tuple[torch.Tensor, torch.Tensor]:
            k = self._split(self.k(context))  # (B, H, T, K): self-attention's context is x
            return (k if rotation is None else rotate(k, rotation)), self._split(self.v(context))

        k, v = project() if cache is None else cache.keys_values(project)
        dropout = self.dropout if self.training else 0.0
        if self.fast and not self.keep_weights:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=allowed, dropout_p=dropout, scale=self.scale
            )
        else:
            y, self.weights = attend(q, k, v, allowed, dropout, self.scale)
        batch, _, length, head_width = y.shape
        y = y.transpose(1, 2).reshape(batch, length, self.heads * head_width)  # (B, T, D)
        return self.out(y)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        x = x.view(batch, length, self.heads, width // self.heads)  # (B, T, H, K)
        return x.transpose(1, 2)  # (B, H, T, K)
