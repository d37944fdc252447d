"""A training run end to end: data, model, loop, evaluation, checkpoints, sample predictions.

Example (about 10 s)::

    config = RunConfig(DataConfig("seq2seq"), ModelConfig())
    train_run(config, Path("runs/s2s")).metrics["exact_match"]  # 1.0
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from models.checkpoint import (
    LoadedRun,
    RunConfig,
    load_run,
    load_training_state,
    remove_leftovers,
    save_checkpoint,
    write_run_files,
)
from models.distributed import Processes, process_group
from models.evaluate import evaluate, next_sentence_ceiling
from models.run_directory import new_run
from models.samples import pair_predictions, sample_predictions
from models.train import Callbacks, LoopResult, make_optimizer, train_loop
from models.transformer import build_model
from txdata.batches import Batches
from txdata.errors import ConfigError, PeerFailure, TrainingError, TxdataError
from txdata.files import atomic_write_text
from txdata.heldout import heldout_split, unigram_accuracy
from txdata.pipeline import prepare
from txdata.special_tokens import SpecialIds

EVAL_SEED = 12345  # held-out masks stay the same across evaluations and runs


@dataclass
class RunResult:
    directory: Path
    step: int
    interrupted: bool
    heldout: str  # what the held-out examples are
    metrics: dict[str, float] = field(default_factory=dict)
    samples: list[dict] = field(default_factory=list)
    pairs: list[dict] = field(default_factory=list)  # sentence pairs judged, for nsp
    loop: LoopResult | None = None  # token counts and time of this session's steps


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda: CUDA is not available here; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {name!r}: choose auto, cpu or cuda")
    return torch.device(name)


def train_run(
    config: RunConfig,
    directory: Path,
    overwrite: bool = False,
    resume: bool = False,
    callbacks: Callbacks | None = None,
) -> RunResult:
    """Train `config` into `directory`, or continue the run saved there when `resume` is set.

    A new run over an old one (`overwrite`) trains beside it and replaces it only at the end,
    so a crash or a NaN loss on the way leaves the old run as it was.

    Started by torchrun, each process trains on its share of every batch of
    `config.train.batch_size` rows, and only process 0 writes the run and reports metrics
    (`models/distributed.py`).
    """
    directory = Path(directory)
    processes = Processes.from_environment()
    device = processes.device(resolve_device(config.train.device))
    processes.check_backprop(config.train.backprop)  # before any folder is made
    with process_group(processes, device):
        if resume:
            resumed = load_run(directory, device)
            if processes.main:
                remove_leftovers(directory, resumed.step)
            return _train(config, device, directory, directory, resumed, callbacks, processes)
        with ExitStack() as stack:
            folder = None  # the others write nothing
            if processes.main:
                try:
                    folder = stack.enter_context(new_run(directory, overwrite))
                except TxdataError:
                    processes.agree(False)
                    raise
            if not processes.agree(True):
                raise TrainingError(f"{processes}: process 0 could not start the run")
            return _train(config, device, folder, directory, None, callbacks, processes)


def _train(
    config: RunConfig,
    device: torch.device,
    folder: Path | None,
    directory: Path,
    resumed: LoadedRun | None,
    callbacks: Callbacks | None,
    processes: Processes,
) -> RunResult:
    """Train in `folder`, the run's place while it trains; `directory` is where it will stay.
    A process other than the main one writes nothing, and evaluates nothing."""
    writes = processes.main
    torch.manual_seed(config.train.seed)
    data = prepare(config.data, tokenizer=resumed.tokenizer if resumed else None)
    train_examples, eval_examples, heldout = heldout_split(
        data, config.train.eval_examples, config.train.eval_length
    )
    kind = config.data.kind
    config = replace(
        config,
        model=replace(
            config.model,
            vocab_size=data.tokenizer.get_vocab_size(),
            sentence_pairs=kind.sentence_pairs,
        ),
    )
    # A resumed run continues with the model it saved; a new one starts from fresh weights.
    architecture = kind.architecture
    model = resumed.model if resumed else build_model(architecture, config.model).to(device)
    optimizer = make_optimizer(model, config.train)
    start = 0
    if resumed:
        start = resumed.step
        load_training_state(resumed.checkpoint, optimizer, start)
    if processes.distributed:
        # The processes built the same weights from one seed; from here on each draws its own
        # dropout masks, or every share of a batch would get the same ones.
        torch.manual_seed(processes.seed(config.train.seed, start))
    if writes:
        write_run_files(folder, config, data.tokenizer)  # on resume: the new number of steps
        metrics_path = folder / "metrics.jsonl"
        _keep_metrics_until(metrics_path, start)

    special = SpecialIds.of(data.tokenizer)
    collate, size, seed = data.objective.collate, config.train.batch_size, config.train.seed
    per_epoch = len(Batches(train_examples, collate, size, seed))
    processes.check_shares(train_examples.num_rows, size)
    epochs: dict[int, Batches] = {}

    def batch_at(step: int) -> dict[str, torch.Tensor]:
        epoch, index = divmod(step, per_epoch)
        if epoch not in epochs:
            epochs.clear()
            epochs[epoch] = Batches(train_examples, collate, size, seed, epoch)
        return epochs[epoch][index]

    eval_batches = Batches(eval_examples, collate, size, EVAL_SEED, shuffle=False)
    baseline = unigram_accuracy(train_examples, eval_batches, special) if kind.baseline else None
    ceiling = next_sentence_ceiling(eval_batches) if kind.sentence_pairs else None
    latest: dict[str, float] = {}
    last_saved = {"step": start}

    def run_eval(step: int) -> dict[str, float]:
        if not writes:
            return {}
        latest.clear()
        latest.update(evaluate(model, eval_batches, device, special))
        if baseline is not None:
            latest["unigram_accuracy"] = baseline
        if ceiling is not None:
            latest["next_sentence_ceiling"] = ceiling
        with metrics_path.open("a") as handle:
            handle.write(json.dumps({"step": step, **latest}) + "\n")
        return dict(latest)

    def save(step: int) -> None:
        if not writes:
            return
        save_checkpoint(folder, model, optimizer, step)
        last_saved["step"] = step

    try:
        loop = train_loop(
            model,
            optimizer,
            batch_at,
            config.train,
            device,
            start,
            run_eval,
            save,
            callbacks,
            processes,
        )
    except TrainingError as error:
        kept = last_saved["step"]
        if not writes:
            where = f"process 0 keeps the run's checkpoints in {directory}"
        elif folder != directory:
            where = f"the run in {directory} was left as it was"
        elif kept:
            where = f"the checkpoint of step {kept} is kept in {directory}"
            if isinstance(error, PeerFailure):
                where += f" (--resume {directory} continues it)"
        else:
            where = f"no checkpoint was written in {directory}"
        raise type(error)(f"{error}; stopped, and {where}") from None
    samples, pairs = [], []
    if writes:
        samples = sample_predictions(model, eval_batches[0], data.tokenizer)
        if kind.sentence_pairs:
            pairs = pair_predictions(model, eval_batches[0], data.tokenizer)
    return RunResult(
        directory,
        loop.step,
        loop.interrupted,
        heldout,
        dict(latest),
        samples,
        pairs=pairs,
        loop=loop,
    )


def _keep_metrics_until(path: Path, step: int) -> None:
    """On resume, drop evaluations after the checkpoint (they are about to be redone), and a
    last line that a kill cut short."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill: its evaluation is redone like the later ones
        if (
            isinstance(record, dict)
            and isinstance(record.get("step"), int)
            and record["step"] <= step
        ):
            kept.append(line)
    atomic_write_text(path, "".join(line + "\n" for line in kept))
