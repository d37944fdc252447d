"""The training loop. It knows nothing about objectives: a batch goes in, `model(batch).loss`
comes out. It reports through `Callbacks` and prints nothing itself.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from models.backprop import optim as hand
from models.backprop.model import HandTransformer
from models.distributed import Processes, failures_named
from models.run_config import TrainConfig
from models.transformer import Output, Transformer
from txdata.errors import TrainingError
from txdata.special_tokens import IGNORE_INDEX


class Callbacks:
    """What the loop tells its caller. Override what you need; every hook defaults to nothing."""

    def on_start(self, step: int, steps: int) -> None: ...

    def on_step(self, step: int, loss: float, lr: float, tokens_per_second: float) -> None: ...

    def on_losses(self, step: int, losses: dict[str, float]) -> None:
        """Each part of a step's loss, when the model's loss sums several (nsp: "token" and
        "next_sentence"); called just before `on_step`."""

    def on_eval(self, step: int, metrics: dict[str, float]) -> None: ...

    def on_checkpoint(self, step: int) -> None: ...


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warmup to `config.lr`, then cosine decay to 0 or the paper's 1/sqrt(step)."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    if config.schedule == "inverse_sqrt":
        return config.lr * math.sqrt(max(config.warmup, 1) / (step + 1))
    progress = (step - config.warmup) / max(config.steps - config.warmup, 1)
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay only on matrices, not on biases, norms or (tied) embeddings' bias.
    `--backprop manual` gets the AdamW written out in `models.backprop.optim`."""
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": matrices, "weight_decay": config.weight_decay},
        {"params": others, "weight_decay": 0.0},
    ]
    if config.backprop == "manual":
        return hand.AdamW(groups, lr=config.lr)
    # fused: one kernel over all parameters instead of a dozen small ops per tensor. On the CPU
    # it made the optimizer step 6-8x faster (2.7 -> 0.3 ms for the default model).
    return torch.optim.AdamW(groups, lr=config.lr, fused=True)


class AutogradPasses:
    """The forward pass records a graph; `loss.backward()` walks it back."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        label_smoothing: float,
        loss_counts: dict[str, float] | None = None,
    ) -> Output:
        return self.model(
            batch, label_smoothing=label_smoothing, logits=False, loss_counts=loss_counts
        )

    def backward(self, output: Output, clip: float) -> None:
        output.loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), clip)


class ManualPasses:
    """Both passes by hand (`models.backprop`), with autograd switched off."""

    def __init__(self, model: Transformer) -> None:
        self.hand, self.parameters = HandTransformer(model), list(model.parameters())

    @torch.no_grad()
    def forward(
        self,
        batch: dict[str, torch.Tensor],
        label_smoothing: float,
        loss_counts: dict[str, float] | None = None,
    ) -> Output:
        assert loss_counts is None, "the hand-written passes train in one process"
        return self.hand.forward(batch, label_smoothing)

    @torch.no_grad()
    def backward(self, output: Output, clip: float) -> None:
        self.hand.backward()
        hand.clip_grad_norm(self.parameters, clip)


@dataclass
class LoopResult:
    step: int  # the last finished step
    interrupted: bool  # stopped by Ctrl-C
    tokens_read: int  # real (non-pad) tokens the model read, encoder and decoder
    loss_tokens: int  # predictions that carried a loss: labels not -100, and pair labels
    seconds: float  # spent in training steps, evaluation excluded


def train_loop(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch_at: Callable[[int], dict[str, torch.Tensor]],
    config: TrainConfig,
    device: torch.device,
    start_step: int = 0,
    evaluate: Callable[[int], dict[str, float]] = lambda step: {},
    save: Callable[[int], None] = lambda step: None,
    callbacks: Callbacks | None = None,
    processes: Processes | None = None,
) -> LoopResult:
    """Train from `start_step` to `config.steps`. `batch_at(step)` gives the step's whole
    batch; with several `processes` each trains on its share (`models/distributed.py`).

    Ctrl-C is honoured between steps: the finished step is saved, never a half-applied one.
    A loss that is NaN or infinite stops training before anything is saved, so the last good
    checkpoint stays as it was.
    """
    callbacks = callbacks or Callbacks()
    processes = processes or Processes()
    processes.check_backprop(config.backprop)
    if config.backprop == "manual":
        passes = ManualPasses(model)
    else:
        passes = AutogradPasses(processes.wrap(model))
    callbacks.on_start(start_step, config.steps)
    model.train()
    interrupted = _InterruptFlag()
    result = LoopResult(start_step, False, 0, 0, 0.0)
    with interrupted:
        # Alone, a process stops at Ctrl-C; together, all stop once any of them was interrupted.
        while result.step < config.steps and not (
            result.interrupted or (interrupted.raised and not processes.distributed)
        ):
            started = time.perf_counter()
            lr = learning_rate(result.step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            whole = batch_at(result.step)  # the same in every process
            targets = model.targets(whole["labels"])  # (B, T): what each position is scored on
            labelled = int((targets != IGNORE_INDEX).sum())
            batch = {key: value.to(device) for key, value in processes.share(whole).items()}
            with failures_named(processes):
                counts = processes.loss_counts(labelled, rows=len(targets))
                output = passes.forward(batch, config.label_smoothing, counts)
                loss, losses, result.interrupted = _exchange(output, interrupted.raised, processes)
                if not math.isfinite(loss):
                    raise TrainingError(f"the loss became {loss} at step {result.step + 1}")
                optimizer.zero_grad(set_to_none=True)
                passes.backward(output, config.clip)  # under DDP: the gradients' mean
            optimizer.step()
            step = result.step = result.step + 1
            result.tokens_read += sum(
                int(value.sum()) for key, value in whole.items() if key.endswith("attention_mask")
            )
            result.loss_tokens += labelled
            # A pair label is one more prediction with a loss, made at [CLS].
            if output.sentence_logits is not None and "next_sentence_label" in whole:
                result.loss_tokens += whole["next_sentence_label"].numel()
            result.seconds += time.perf_counter() - started
            if output.losses:
                callbacks.on_losses(step, dict(zip(output.losses, losses)))
            callbacks.on_step(step, loss, lr, result.tokens_read / result.seconds)
            if step % config.eval_every == 0 or step == config.steps:
                callbacks.on_eval(step, evaluate(step))
            if step % config.checkpoint_every == 0 or step == config.steps:
                save(step)
                callbacks.on_checkpoint(step)
    result.interrupted = result.interrupted or interrupted.raised
    if result.interrupted and result.step % config.checkpoint_every:
        save(result.step)
        callbacks.on_checkpoint(result.step)
    return result


def _exchange(
    output: Output, interrupted: bool, processes: Processes
) -> tuple[float, list[float], bool]:
    """The whole batch's loss, its parts, and whether any process was interrupted, in one
    exchange: every process sees the same, so all stop after the same step."""
    parts = [output.loss, *(output.losses or {}).values()]
    flag = output.loss.new_tensor(float(interrupted))
    reduced = processes.mean(torch.stack([*parts, flag]))  # detached
    loss, *losses = reduced[:-1].tolist()
    return loss, losses, bool(reduced[-1] > 0)


class _InterruptFlag:
    """Turns Ctrl-C into a flag the loop checks between steps (main thread only)."""

    def __init__(self) -> None:
        self.raised = False
        self._previous = None

    def __enter__(self) -> _InterruptFlag:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave Ctrl-C as it is
            self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        self.raised = True
