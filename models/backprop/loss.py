"""Cross-entropy with label smoothing, and its gradient, written out.

>>> import torch
>>> loss = CrossEntropy()
>>> round(loss.forward(torch.zeros(2, 4), torch.tensor([1, 3])).item(), 4)  # log 4
1.3863
>>> loss.backward()  # (softmax − one-hot) / rows
tensor([[ 0.1250, -0.3750,  0.1250,  0.1250],
        [ 0.1250,  0.1250,  0.1250, -0.3750]])
"""

from __future__ import annotations

import torch


class CrossEntropy:
    """loss = (1/N) Σ_n −Σ_c q_nc log p_nc, p = softmax(z) over the C classes of each row and
    q = (1 − ε) one-hot(y) + ε / C the smoothed target (ε = 0: the plain one-hot).
    z (N, C), y (N,) -> a scalar; rows labelled -100 are left out before they get here (the LM
    head keeps only the labelled positions), so N counts the predictions that carry a loss,
    as `F.cross_entropy(..., ignore_index=-100, label_smoothing=ε)` counts them.

    Backward: dz = (p − q) / N. The softmax and the log cancel into this one short formula,
    which is why frameworks fuse the two.
    """

    def forward(
        self, logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0
    ) -> torch.Tensor:
        rows, classes = logits.shape
        shifted = logits - logits.amax(dim=-1, keepdim=True)  # (N, C); exp ≤ 1, no overflow
        log_p = shifted - torch.log(torch.exp(shifted).sum(dim=-1, keepdim=True))
        target = torch.full_like(logits, label_smoothing / classes)  # (N, C)
        target[torch.arange(rows, device=logits.device), labels] += 1.0 - label_smoothing
        self.saved = torch.exp(log_p), target, rows
        return -(target * log_p).sum() / rows  # NaN when N = 0, as PyTorch gives

    def backward(self) -> torch.Tensor:
        p, target, rows = self.saved
        return (p - target) / rows  # (N, C)
