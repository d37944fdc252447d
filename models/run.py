"""A training run end to end: data, model, loop, evaluation, checkpoints, sample predictions.

>>> config = RunConfig("seq2seq", DataConfig(objective="seq2seq"), ModelConfig())
>>> train_run(config, Path("runs/s2s")).metrics["exact_match"]
1.0
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import datasets
import numpy as np
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
from models.decode import greedy_decode, top_k_fills
from models.evaluate import evaluate
from models.run_directory import new_run
from models.train import Callbacks, LoopResult, make_optimizer, train_loop
from models.transformer import build_model
from txdata.batches import Batches
from txdata.errors import ConfigError, TrainingError
from txdata.files import atomic_write_text
from txdata.pipeline import PreparedData, prepare
from txdata.special_tokens import IGNORE_INDEX, SpecialIds

EVAL_SEED = 12345  # held-out masks stay the same across evaluations and runs


@dataclass
class RunResult:
    directory: Path
    step: int
    interrupted: bool
    heldout: str  # what the held-out examples are
    metrics: dict[str, float] = field(default_factory=dict)
    samples: list[dict] = field(default_factory=list)
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
    """
    directory = Path(directory)
    device = resolve_device(config.train.device)
    if resume:
        resumed = load_run(directory, device)
        remove_leftovers(directory, resumed.step)
        return _train(config, device, directory, directory, resumed, callbacks)
    with new_run(directory, overwrite) as folder:
        return _train(config, device, folder, directory, None, callbacks)


def _train(
    config: RunConfig,
    device: torch.device,
    folder: Path,
    directory: Path,
    resumed: LoadedRun | None,
    callbacks: Callbacks | None,
) -> RunResult:
    """Train in `folder`, the run's place while it trains; `directory` is where it will stay."""
    torch.manual_seed(config.train.seed)
    data = prepare(config.data, tokenizer=resumed.tokenizer if resumed else None)
    train_examples, eval_examples, heldout = heldout_split(
        data, config.train.eval_examples, config.train.eval_length
    )
    config = replace(
        config, model=replace(config.model, vocab_size=data.tokenizer.get_vocab_size())
    )
    # A resumed run continues with the model it saved; a new one starts from fresh weights.
    model = resumed.model if resumed else build_model(config.mode, config.model).to(device)
    optimizer = make_optimizer(model, config.train)
    start = 0
    if resumed:
        start = resumed.step
        load_training_state(resumed.checkpoint, optimizer, start)
    write_run_files(folder, config, data.tokenizer)  # on resume: the new number of steps
    metrics_path = folder / "metrics.jsonl"
    _keep_metrics_until(metrics_path, start)

    special = SpecialIds.of(data.tokenizer)
    collate, size, seed = data.objective.collate, config.train.batch_size, config.train.seed
    per_epoch = len(Batches(train_examples, collate, size, seed))
    epochs: dict[int, Batches] = {}

    def batch_at(step: int) -> dict[str, torch.Tensor]:
        epoch, index = divmod(step, per_epoch)
        if epoch not in epochs:
            epochs.clear()
            epochs[epoch] = Batches(train_examples, collate, size, seed, epoch)
        return epochs[epoch][index]

    eval_batches = Batches(eval_examples, collate, size, EVAL_SEED, shuffle=False)
    baseline = (
        unigram_accuracy(train_examples, eval_batches, special) if config.mode == "mlm" else None
    )
    decode_ids = (special.bos, special.eos) if config.mode == "seq2seq" else (None, None)
    latest: dict[str, float] = {}
    last_saved = {"step": start}

    def run_eval(step: int) -> dict[str, float]:
        latest.clear()
        latest.update(evaluate(model, eval_batches, device, *decode_ids))
        if baseline is not None:
            latest["unigram_accuracy"] = baseline
        with metrics_path.open("a") as handle:
            handle.write(json.dumps({"step": step, **latest}) + "\n")
        return dict(latest)

    def save(step: int) -> None:
        save_checkpoint(folder, model, optimizer, step)
        last_saved["step"] = step

    try:
        loop = train_loop(
            model, optimizer, batch_at, config.train, device, start, run_eval, save, callbacks
        )
    except TrainingError as error:
        kept = last_saved["step"]
        if folder != directory:
            where = f"the run in {directory} was left as it was"
        elif kept:
            where = f"the checkpoint of step {kept} is kept in {directory}"
        else:
            where = f"no checkpoint was written in {directory}"
        raise TrainingError(f"{error}; stopped, and {where}") from None
    samples = sample_predictions(config.mode, model, eval_batches, data, device)
    return RunResult(directory, loop.step, loop.interrupted, heldout, dict(latest), samples, loop)


def heldout_split(
    data: PreparedData, limit: int, length: int | None = None
) -> tuple[datasets.Dataset, datasets.Dataset, str]:
    """Training examples, held-out examples, and a sentence saying what was held out.

    `length` (alternating only) evaluates on windows of another length than training saw.
    """
    source = data.config.source
    if source.source == "alternating":
        # A periodic sequence leaves nothing unseen to hold out: evaluate on windows further
        # along the sequence than any training window, and say that their contents recur.
        later = replace(source, offset=source.offset + source.count, count=min(limit, 64))
        length = length or data.config.length
        held = prepare(replace(data.config, source=later, length=length), data.tokenizer)
        first, last = later.offset, later.offset + later.count - 1
        if length != data.config.length:
            note = (
                f"windows of {length} tokens at offsets {first}-{last}; "
                f"training saw {data.config.length}-token windows"
            )
            return data.examples, held.examples, note
        note = (
            f"windows at offsets {first}-{last}, after every training window "
            "(the sequence is periodic, so their contents also occur in training)"
        )
        return data.examples, held.examples, note
    if length is not None:
        raise ConfigError("--eval-length works with the alternating source only")
    size = min(limit, max(1, data.examples.num_rows // 10))
    if data.examples.num_rows < 2:
        raise ConfigError("need at least 2 examples to hold one out for evaluation")
    split = data.examples.train_test_split(test_size=size, seed=0)
    return split["train"], split["test"], f"{size} random examples never trained on"


def unigram_accuracy(examples: datasets.Dataset, eval_batches: Batches, special) -> float:
    """Masked-token accuracy of always guessing the most frequent training token."""
    ids = np.concatenate([np.asarray(row) for row in examples["input_ids"]])
    ids = ids[~np.isin(ids, special.all())]
    guess = int(np.bincount(ids).argmax())
    hits = total = 0
    for batch in eval_batches:
        labels = batch["labels"][batch["labels"] != IGNORE_INDEX]
        hits += int((labels == guess).sum())
        total += labels.numel()
    return hits / max(total, 1)


def sample_predictions(
    mode: str, model, eval_batches: Batches, data: PreparedData, device, count: int = 5
) -> list[dict]:
    """A few held-out examples with the model's answer: free-running decodes or top-3 fills."""
    model.eval()
    batch = {key: value[:count].to(device) for key, value in eval_batches[0].items()}
    special, decode = SpecialIds.of(data.tokenizer), data.tokenizer.decode
    labels = batch["labels"].cpu()
    if mode == "seq2seq":
        outputs = greedy_decode(
            model,
            batch["input_ids"],
            batch["attention_mask"],
            special.bos,
            special.eos,
            labels.shape[1],
        )
        samples = []
        for source, target, output in zip(batch["input_ids"].tolist(), labels.tolist(), outputs):
            target = [t for t in target if t != IGNORE_INDEX]
            samples.append(
                {
                    "input": decode(source),
                    "target": decode(target),
                    "prediction": decode(output),
                    "correct": output == target,
                }
            )
        return samples
    positions = (labels != IGNORE_INDEX).nonzero()  # (N, 2)
    ids, chances = top_k_fills(
        model, batch["input_ids"], batch["attention_mask"], positions.to(device), k=3
    )
    token = data.tokenizer.id_to_token
    samples = []
    for (row, column), candidates, probabilities in zip(
        positions.tolist(), ids.tolist(), chances.tolist()
    ):
        real = batch["input_ids"][row, : int(batch["attention_mask"][row].sum())].tolist()
        shown = [token(i) for i in real]
        shown[column] = f"<{shown[column]}>"
        samples.append(
            {
                "context": " ".join(shown[max(column - 4, 1) : column + 5])
                .replace(" [SEP]", "")
                .replace(" [PAD]", ""),
                "input": data.tokenizer.decode(real[1:-1], skip_special_tokens=False),
                "target": token(int(labels[row, column])),
                "top": [[token(c), round(p, 3)] for c, p in zip(candidates, probabilities)],
                "correct": candidates[0] == int(labels[row, column]),
            }
        )
    return samples


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
