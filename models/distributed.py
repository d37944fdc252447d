"""Training on several processes with PyTorch's own engine: torchrun starts them, this module
joins them up.

    torchrun --standalone --nproc-per-node 2 "$(which txdata)" train --mode mlm

torchrun gives each process RANK, WORLD_SIZE and LOCAL_RANK (and where to meet). Every
process builds the same global batch from the same (seed, epoch, batch index) generator and
trains on its own rows of it; `DistributedDataParallel` averages the gradients. So for a
given global batch (the CLI's `--batch-size` × processes) the data, and the gradients, do not
depend on how many processes share it (dropout aside: each process draws its own masks):

    global batch of 4 rows:   [r0 r1 r2 r3]
    2 processes:              process 0 trains on [r0 r1], process 1 on [r2 r3]

An average of per-process *means* is not the global mean when the processes' shares hold
different numbers of labelled tokens (mlm masks 15 % of each row at random). Each process
therefore divides its summed loss by the global batch's count over the number of processes
(`loss_counts`); the average DDP takes is then the one-process gradient, up to rounding.
Hugging Face's Trainer does the same with `num_items_in_batch` (when
`average_tokens_across_devices` is on and the model takes it).

>>> Processes().share({"input_ids": torch.arange(8).view(4, 2)})["input_ids"].shape
torch.Size([4, 2])
>>> Processes(rank=1, count=2).share({"input_ids": torch.arange(8).view(4, 2)})["input_ids"]
tensor([[4, 5],
        [6, 7]])
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from txdata.collate import DROPOUT, derived_seed
from txdata.errors import ConfigError, PeerFailure


@dataclass(frozen=True)
class Processes:
    """Which process this is, of how many: (0, 1) when nothing started several."""

    rank: int = 0
    count: int = 1  # torch's "world size"
    local_rank: int = 0  # the process's number on its own machine: its GPU

    @classmethod
    def from_environment(cls) -> Processes:
        """What torchrun (or any launcher that follows its convention) set."""
        if "WORLD_SIZE" not in os.environ:
            return cls()
        try:
            rank, count = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            local_rank = int(os.environ.get("LOCAL_RANK", rank))
        except (KeyError, ValueError):
            raise ConfigError(
                "WORLD_SIZE is set but RANK or LOCAL_RANK is missing or not a number: "
                "start several processes with torchrun"
            ) from None
        if not 0 <= rank < count:
            raise ConfigError(f"RANK {rank} does not lie in 0 … WORLD_SIZE - 1 = {count - 1}")
        return cls(rank, count, local_rank)

    @property
    def main(self) -> bool:
        """The process that writes files and prints: rank 0."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.count > 1

    def __str__(self) -> str:
        return f"process {self.rank} of {self.count}"

    def device(self, device: torch.device) -> torch.device:
        """On CUDA, each process of a machine takes its own GPU."""
        if self.distributed and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    def share(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """This process's rows of a global batch: contiguous, sizes differing by at most one."""
        if not self.distributed:
            return batch
        return {key: value.tensor_split(self.count)[self.rank] for key, value in batch.items()}

    def seed(self, seed: int, step: int) -> int:
        """A seed of this process's own, for what each draws alone (dropout), from the run's
        seed and the step it starts at: distinct across processes, the same on every rerun.

        >>> Processes(0, 2).seed(0, 0) != Processes(1, 2).seed(0, 0)
        True
        """
        return derived_seed(seed, step, self.rank, DROPOUT)

    def check_backprop(self, backprop: str) -> None:
        """The hand-written passes have no DDP to average their gradients."""
        if self.distributed and backprop == "manual":
            raise ConfigError("--backprop manual trains in one process: run it without torchrun")

    def check_shares(self, rows: int, batch_size: int) -> None:
        """Every process needs a row of every batch, the last of an epoch included."""
        smallest = min(batch_size, rows % batch_size or batch_size)
        if smallest < self.count:
            raise ConfigError(
                f"the smallest batch has {smallest} examples ({rows} examples in batches of "
                f"{batch_size}), fewer than the {self.count} processes that share it: "
                "choose another --batch-size"
            )

    def loss_counts(self, labelled: int, rows: int) -> dict[str, float] | None:
        """What this process divides its summed losses by (`Transformer.forward`'s
        `loss_counts`): the whole batch's labelled tokens and rows over the number of
        processes, so that the mean DDP takes of the gradients is the one-process gradient.
        None alone: the loss is the batch's own mean.

        >>> Processes(rank=1, count=2).loss_counts(labelled=30, rows=8)
        {'token': 15.0, 'next_sentence': 4.0}
        """
        if not self.distributed:
            return None
        return {"token": labelled / self.count, "next_sentence": rows / self.count}

    def wrap(self, model: nn.Module) -> nn.Module:
        """`model` as the training step calls it: in DDP when there are several processes."""
        if not self.distributed:
            return model
        ids = [self.local_rank] if next(model.parameters()).is_cuda else None
        return DistributedDataParallel(model, device_ids=ids)

    def agree(self, ok: bool) -> bool:
        """Whether every process is `ok`: a process that cannot go on tells the others,
        which would otherwise wait for it at the first exchange of gradients."""
        if not self.distributed:
            return ok
        verdict = torch.tensor(int(ok))
        with failures_named(self):
            dist.all_reduce(verdict, op=dist.ReduceOp.MIN)
        return bool(verdict)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of `values` over the processes (a copy; the caller's tensor is untouched)."""
        values = values.detach().clone()
        if self.distributed:
            with failures_named(self):
                dist.all_reduce(values)
            values /= self.count
        return values


@contextmanager
def process_group(processes: Processes, device: torch.device) -> Iterator[None]:
    """Join the other processes for the block: gloo on the CPU, nccl on CUDA. A group that
    the caller started already is used and left as it is."""
    if not processes.distributed or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    with failures_named(processes):
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        with _stopped_by_launcher(processes):
            yield
    finally:
        dist.destroy_process_group()


@contextmanager
def _stopped_by_launcher(processes: Processes) -> Iterator[None]:
    """When one process dies, torchrun ends the others with SIGTERM, which would kill them
    without a word. Here it becomes a `PeerFailure` instead, which says what happened and
    which checkpoint is kept. The checkpoints need no help: each is whole or absent."""

    def stop(signum, frame) -> None:
        _leaving()
        raise PeerFailure(
            f"{processes}: stopped by SIGTERM, which torchrun sends when another process fails"
        )

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave SIGTERM as it is
        yield
        return
    failed = False
    try:
        yield
    except PeerFailure:
        failed = True  # SIGTERM stays ignored: see `_leaving`
        raise
    finally:
        if not failed:
            signal.signal(signal.SIGTERM, previous)


def _leaving() -> None:
    """A process that met a peer's failure is on its way out with a message to print: the
    SIGTERM torchrun sends next must not cut that short. (torchrun still kills it with
    SIGKILL if it lingers.)"""
    with suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


@contextmanager
def failures_named(processes: Processes) -> Iterator[None]:
    """A collective that fails because a peer died says so in one line. gloo reports that as
    a plain RuntimeError, told apart from others by its words."""
    try:
        yield
    except RuntimeError as error:
        if not processes.distributed or not (
            isinstance(error, dist.DistError) or _PEER_WORDS.search(str(error))
        ):
            raise
        _leaving()
        raise PeerFailure(
            f"{processes}: another process of the run stopped ({_first_words(error)})"
        ) from None


def _first_words(error: Exception) -> str:
    """gloo's "[…/pair.cc:537] Read error [127.0.0.1]:5002: Connection reset by peer. This
    is typically…" -> "Read error [127.0.0.1]:5002: Connection reset by peer"."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", str(error).strip())
    return text.split(". ")[0].splitlines()[0] if text else type(error).__name__


_PEER_WORDS = re.compile(r"gloo|nccl|connection|peer", re.IGNORECASE)
