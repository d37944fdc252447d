"""Calibration: how far a model's confidence is from how often it is right, and temperature
scaling, the one-number fix of Guo et al., "On Calibration of Modern Neural Networks" (2017).

    confidence    the top softmax probability of a prediction
    correct       whether that top token is the label
    reliability   predictions grouped into 15 equal-width confidence bins (lo, hi]; a
                  calibrated model is right in each bin as often as it is sure there
    ECE           expected calibration error, Σ_b (n_b / N) · |accuracy_b − confidence_b|
    temperature   one T > 0 that divides every logit: argmaxes, so the accuracy, stay as they
                  are; T > 1 softens an overconfident model. T minimises the held-out NLL.

Two predictions 90 % sure, one right; two 70 % sure, both right:
(2/4)·|0.5 − 0.9| + (2/4)·|1.0 − 0.7| = 0.2 + 0.15.

>>> round(expected_calibration_error(torch.tensor([0.9, 0.9, 0.7, 0.7]),
...                                  torch.tensor([True, False, True, True])), 6)
0.35
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from models.checkpoint import LoadedRun, load_run
from models.run import EVAL_SEED
from txdata.batches import Batches
from txdata.errors import ConfigError, RunError
from txdata.heldout import heldout_split
from txdata.pipeline import prepare
from txdata.special_tokens import IGNORE_INDEX

BINS = 15  # Guo et al.'s number of confidence bins
TEMPERATURES = (1e-2, 1e2)  # the range searched for T
_GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass
class ReliabilityBins:
    """Predictions grouped by confidence into equal-width bins (lo, hi] over (0, 1].

    Empty bins have count 0 and accuracy and confidence 0.
    """

    edges: torch.Tensor  # (M + 1,) 0, 1/M, …, 1
    counts: torch.Tensor  # (M,) predictions in each bin
    accuracy: torch.Tensor  # (M,) share of them that were right
    confidence: torch.Tensor  # (M,) their mean confidence

    @property
    def ece(self) -> float:
        """Σ_b (n_b / N) · |accuracy_b − confidence_b|."""
        weights = self.counts / self.counts.sum().clamp(min=1)
        return float((weights * (self.accuracy - self.confidence).abs()).sum())


def reliability_bins(
    confidence: torch.Tensor, correct: torch.Tensor, bins: int = BINS
) -> ReliabilityBins:
    """confidence (N,) in (0, 1], correct (N,) bool: the reliability diagram's bins.

    >>> found = reliability_bins(torch.tensor([0.9, 0.9, 0.7, 0.7]), torch.tensor([1, 0, 1, 1]))
    >>> found.counts.nonzero().flatten().tolist()  # 0.7 in (10/15, 11/15], 0.9 in (13/15, 14/15]
    [10, 13]
    >>> found.counts[[10, 13]].tolist(), found.accuracy[[10, 13]].tolist()
    ([2, 2], [1.0, 0.5])
    """
    if confidence.shape != correct.shape or confidence.dim() != 1:
        raise ConfigError("confidence and correct must be two vectors of the same length")
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    confidence = confidence.double()
    index = torch.bucketize(confidence, edges[1:-1])  # (N,): bin b holds (edges[b], edges[b+1]]
    counts = torch.bincount(index, minlength=bins)  # (M,)
    hits = torch.bincount(index, weights=correct.double(), minlength=bins)
    sums = torch.bincount(index, weights=confidence, minlength=bins)
    filled = counts.clamp(min=1)
    return ReliabilityBins(edges, counts, hits / filled, sums / filled)


def expected_calibration_error(
    confidence: torch.Tensor, correct: torch.Tensor, bins: int = BINS
) -> float:
    """ECE over `bins` equal-width bins; see the module's example."""
    return reliability_bins(confidence, correct, bins).ece


def confidence_and_correct(
    logits: torch.Tensor, labels: torch.Tensor, temperature: float | torch.Tensor = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (N, V), labels (N,): the top probability (N,) of softmax(logits / T), and
    whether its token is the label (N,)."""
    top = (logits / temperature).softmax(dim=-1).max(dim=-1)
    return top.values, top.indices == labels


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (nats) of the labels (N,) under softmax(logits (N, V) / T)."""
    return float(F.cross_entropy(logits.double() / temperature, labels))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T in `TEMPERATURES` that minimises `nll(logits, labels, T)`.

    The NLL is convex in 1/T (a log-sum-exp of logits/T, less a term linear in 1/T), so it
    has one minimum along log T, which a golden-section search finds to 1e-6 without steps
    to tune. Logits that are already calibrated give T ≈ 1:

    >>> generator = torch.Generator().manual_seed(0)
    >>> true = 3 * torch.randn(4000, 10, generator=generator)  # (N, V)
    >>> labels = torch.multinomial(true.softmax(-1), 1, generator=generator).flatten()
    >>> round(fit_temperature(2 * true, labels), 1)  # twice too sure: T = 2 undoes it
    2.0
    """
    logits = logits.double()

    def loss_at(log_t: float) -> float:
        return nll(logits, labels, math.exp(log_t))

    low, high = (math.log(t) for t in TEMPERATURES)
    inner_low, inner_high = high - _GOLDEN * (high - low), low + _GOLDEN * (high - low)
    at_low, at_high = loss_at(inner_low), loss_at(inner_high)
    while high - low > 1e-6:
        if at_low <= at_high:  # the minimum lies left of inner_high
            high, inner_high, at_high = inner_high, inner_low, at_low
            inner_low = high - _GOLDEN * (high - low)
            at_low = loss_at(inner_low)
        else:
            low, inner_low, at_low = inner_low, inner_high, at_high
            inner_high = low + _GOLDEN * (high - low)
            at_high = loss_at(inner_high)
    return math.exp((low + high) / 2)


@dataclass
class Calibration:
    """How calibrated a set of predictions is, before and after temperature scaling."""

    count: int  # predictions
    accuracy: float
    confidence: float  # mean top probability
    ece: float
    nll: float
    temperature: float  # fitted on all the predictions
    # After scaling, each prediction by the T fitted on the other half (cross-fitted), so no
    # prediction is scored by a temperature chosen with it.
    scaled_confidence: float
    scaled_ece: float
    scaled_nll: float
    before: ReliabilityBins
    after: ReliabilityBins


def calibrate(logits: torch.Tensor, labels: torch.Tensor, bins: int = BINS) -> Calibration:
    """logits (N, V) and labels (N,) of held-out predictions: their calibration, and what
    temperature scaling makes of it.

    The T for the scores after scaling is fitted on alternate predictions (0, 2, 4, … for the
    odd ones, 1, 3, 5, … for the even ones), as a temperature would be fitted on a
    validation set and used on a test set; `temperature` is the one fitted on all of them.

    >>> generator = torch.Generator().manual_seed(0)
    >>> true = 3 * torch.randn(4000, 10, generator=generator)  # (N, V)
    >>> labels = torch.multinomial(true.softmax(-1), 1, generator=generator).flatten()
    >>> found = calibrate(2 * true, labels)
    >>> found.ece > 0.1, found.scaled_ece < 0.03, found.scaled_nll < found.nll
    (True, True, True)
    """
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ConfigError("logits must be (N, V) and labels (N,)")
    if len(labels) < 2:
        raise ConfigError(f"calibration needs at least 2 predictions, got {len(labels)}")
    logits = logits.double()
    confidence, correct = confidence_and_correct(logits, labels)
    odd = torch.arange(len(labels)) % 2 == 1  # (N,)
    scale = torch.empty(len(labels), 1, dtype=torch.float64)  # (N, 1): each row's T
    scale[odd] = fit_temperature(logits[~odd], labels[~odd])
    scale[~odd] = fit_temperature(logits[odd], labels[odd])
    scaled_confidence, scaled_correct = confidence_and_correct(logits, labels, scale)
    return Calibration(
        count=len(labels),
        accuracy=float(correct.double().mean()),
        confidence=float(confidence.mean()),
        ece=expected_calibration_error(confidence, correct, bins),
        nll=nll(logits, labels),
        temperature=fit_temperature(logits, labels),
        scaled_confidence=float(scaled_confidence.mean()),
        scaled_ece=expected_calibration_error(scaled_confidence, scaled_correct, bins),
        scaled_nll=float(F.cross_entropy(logits / scale, labels)),
        before=reliability_bins(confidence, correct, bins),
        after=reliability_bins(scaled_confidence, scaled_correct, bins),
    )


@torch.no_grad()
def heldout_logits(run: LoadedRun, draws: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits (N, V) and labels (N,) of every scored held-out position of a trained run:
    mlm's chosen positions, the teacher-forced targets of seq2seq and clm.

    The held-out examples and their masks are those the run was evaluated on, so draw 1
    scores what `metrics.jsonl` reports. More `draws` mask the same examples afresh (mlm and
    other objectives that draw masks); a deterministic objective repeats draw 1.

    Example (on a trained run)::

        logits, labels = heldout_logits(load_run(Path("runs/mlm")))
        calibrate(logits, labels).ece  # 0.14
    """
    if draws < 1:
        raise ConfigError(f"draws must be at least 1, got {draws}")
    config, model = run.config, run.model
    data = prepare(config.data, tokenizer=run.tokenizer)
    _, examples, _ = heldout_split(data, config.train.eval_examples, config.train.eval_length)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    found_logits, found_labels = [], []
    for draw in range(draws):
        # The evaluation's batches, masks included; a new epoch draws new masks.
        batches = Batches(
            examples, data.objective.collate, config.train.batch_size, EVAL_SEED, draw, False
        )
        for batch in batches:
            batch = {key: value.to(device) for key, value in batch.items()}
            targets = model.targets(batch["labels"])  # (B, T): what each position is scored on
            scored = targets != IGNORE_INDEX
            found_logits.append(model(batch).logits[scored].float().cpu())  # (n, V)
            found_labels.append(targets[scored].cpu())  # (n,)
    model.train(was_training)
    labels = torch.cat(found_labels)
    if not len(labels):
        raise RunError(
            f"run {run.directory} has no held-out predictions: "
            f"none of its {examples.num_rows} held-out examples has a scored position"
        )
    return torch.cat(found_logits), labels


def run_calibration(directory: Path, draws: int = 1) -> Calibration:
    """`calibrate` on the held-out predictions of the run saved in `directory`.

    Example (on a trained run)::

        found = run_calibration(Path("runs/guide/calibration/plain/seed-0"), draws=10)
        found.ece, found.temperature, found.scaled_ece  # 0.106, 1.25, 0.055
    """
    return calibrate(*heldout_logits(load_run(directory), draws))
