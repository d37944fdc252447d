"""Attention with its backward pass written out: scaled dot-product attention over a boolean
mask, the masked softmax, and multi-head self- and cross-attention, with rotary positions.

Dimension legend:
    B batch   T query positions   L key positions   D model width   H heads   K head width (D/H)

>>> import torch
>>> from models.attention import MultiHeadAttention as Module
>>> attention = MultiHeadAttention(Module(d_model=8, heads=2), dropout=None)
>>> x, allowed = torch.randn(1, 3, 8), torch.ones(1, 1, 3, 3, dtype=torch.bool)
>>> attention.forward(x, None, allowed).shape
torch.Size([1, 3, 8])
>>> attention.backward(torch.ones(1, 3, 8)).shape  # dx; q, k, v and out have their .grad
torch.Size([1, 3, 8])
"""

from __future__ import annotations

import math

import torch

from models.attention import MultiHeadAttention as MultiHeadAttentionModule
from models.backprop.layers import Dropout, Linear
from models.rope import Rotation, rotate


def softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis. −inf scores (masked keys) get exactly 0; every row keeps at
    least one finite score (`models.attention.may_attend` sees to it), so no row is NaN."""
    exp = torch.exp(scores - scores.amax(dim=-1, keepdim=True))  # the max keeps exp ≤ 1
    return exp / exp.sum(dim=-1, keepdim=True)


def softmax_backward(dp: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """dS from dP for P = softmax(S) along the last axis: dS = P ⊙ (dP − rowsum(dP ⊙ P)).

    From ∂P_j/∂S_i = P_j (δ_ij − P_i): dS_i = Σ_j dP_j P_j (δ_ij − P_i) = P_i (dP_i − Σ_j dP_j P_j).
    The rowsum term is there because raising one score lowers every other weight of its row.
    Where a key was masked, P is exactly 0, so no gradient reaches its score.
    """
    return p * (dp - (dp * p).sum(dim=-1, keepdim=True))


class ScaledDotProductAttention:
    """O = dropout(P) V, P = softmax(mask(Q Kᵀ / √K)): Q (B, H, T, K), K and V (B, H, L, K),
    allowed (B, 1, T, L) -> O (B, H, T, K). `scale` replaces 1/√K when given (1.0: unscaled).

    Backward, with P̃ = dropout(P) and S the scaled scores:
        dV = P̃ᵀ dO;   dP̃ = dO Vᵀ;   dP = dropout backward of dP̃;
        dS = P ⊙ (dP − rowsum(dP ⊙ P));   dQ = dS K / √K;   dK = dSᵀ Q / √K.
    """

    def __init__(self, dropout: Dropout | None, scale: float | None = None) -> None:
        self.dropout, self.scale = dropout, scale

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor | None
    ) -> torch.Tensor:
        scale = 1.0 / math.sqrt(q.shape[-1]) if self.scale is None else self.scale
        scores = q @ k.transpose(-2, -1) * scale  # (B, H, T, L)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        weights = softmax(scores)  # (B, H, T, L)
        dropped = weights if self.dropout is None else self.dropout.forward(weights)
        self.saved = q, k, v, weights, dropped, scale
        return dropped @ v  # (B, H, T, K)

    def backward(self, do: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v, weights, dropped, scale = self.saved
        dv = dropped.transpose(-2, -1) @ do  # (B, H, L, K)
        d_dropped = do @ v.transpose(-2, -1)  # (B, H, T, L)
        dp = d_dropped if self.dropout is None else self.dropout.backward(d_dropped)
        ds = softmax_backward(dp, weights) * scale  # (B, H, T, L), through the scale
        return ds @ k, ds.transpose(-2, -1) @ q, dv  # dQ (B, H, T, K), dK, dV (B, H, L, K)


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, T, D) -> (B, H, T, K). Only a reshape: its backward is `merge_heads`."""
    batch, length, width = x.shape
    return x.view(batch, length, heads, width // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, T, K) -> (B, T, D). Its backward is `split_heads`."""
    batch, heads, length, head_width = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * head_width)


class MultiHeadAttention:
    """H heads from x (queries) over context (keys and values; x itself for self-attention),
    with the weights of a `models.attention.MultiHeadAttention`.

    Forward: Q = x W_qᵀ, K = c W_kᵀ, V = c W_vᵀ (each + bias), split into heads, attend,
    merge, then y = O W_oᵀ + b_o. Backward runs the same steps in reverse. In
    self-attention x reaches the loss three ways (through Q, K and V), so dx sums all three;
    in cross-attention dx comes through Q alone and the context's gradient, through K and V,
    is kept in `context_grad` for the encoder.

    With rotary positions, self-attention turns Q and K after splitting them into heads:
    Q' = R Q, K' = R K, R orthogonal. Backward turns dQ' and dK' back: dQ = Rᵀ dQ', the
    rotation by −angle.
    """

    def __init__(self, module: MultiHeadAttentionModule, dropout: Dropout | None) -> None:
        self.heads = module.heads
        self.q, self.k, self.v, self.out = (
            Linear(module.q),
            Linear(module.k),
            Linear(module.v),
            Linear(module.out),
        )
        self.attention = ScaledDotProductAttention(dropout, module.scale)
        self.context_grad: torch.Tensor | None = None

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None,
        allowed: torch.Tensor | None,
        rotation: Rotation | None = None,
    ) -> torch.Tensor:
        """x (B, T, D), context (B, L, D) or None, allowed (B, 1, T, L) -> (B, T, D).
        `rotation`: rotary angles of x's positions (self-attention only)."""
        self.is_self, self.rotation = context is None, rotation
        context = x if context is None else context
        q = split_heads(self.q.forward(x), self.heads)  # (B, H, T, K)
        k = split_heads(self.k.forward(context), self.heads)  # (B, H, L, K)
        v = split_heads(self.v.forward(context), self.heads)
        if rotation is not None:
            q, k = rotate(q, rotation), rotate(k, rotation)
        return self.out.forward(merge_heads(self.attention.forward(q, k, v, allowed)))

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        """dy (B, T, D) -> dx (B, T, D)."""
        d_heads = split_heads(self.out.backward(dy), self.heads)  # (B, H, T, K)
        dq, dk, dv = self.attention.backward(d_heads)
        if self.rotation is not None:  # a rotation's backward: the same rotation, undone
            dq = rotate(dq, self.rotation, inverse=True)
            dk = rotate(dk, self.rotation, inverse=True)
        dx = self.q.backward(merge_heads(dq))
        d_context = self.k.backward(merge_heads(dk)) + self.v.backward(merge_heads(dv))
        if self.is_self:
            return dx + d_context
        self.context_grad = d_context  # (B, L, D)
        return dx
