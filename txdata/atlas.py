"""The atlas: one document under every objective, reduced to what the model reads and what
each of its positions is scored on. `txdata show --mode all` prints it; `--png` draws it.

An objective's batch has many keys; for a learner three questions matter, and the atlas
answers only those, for the first example of a batch:
- which tokens each stack reads (the encoder's `input_ids`, the decoder's `decoder_input_ids`,
  or a decoder alone reading `input_ids`), real positions only;
- which positions of the stream that predicts carry a loss, and the token each is scored on
  (`Objective.targets`: a decoder alone is scored on the next token);
- any label of the whole example (nsp's `next_sentence_label`, which scores `[CLS]`: the
  grid shows it there as `next=0`).

`txdata show --mode all` on the alternating source (seed 0), two of its grids:

    mlm              encoder    [CLS] 1 0 1 0 1 0 1 [MASK] 1 0 [SEP]
    encoder          scored on    ·   · · · · · · ·   0    · ·   ·

    seq2seq          encoder      1   0 1 0 1 0 1 0 1 0 [EOS]
    encoder-decoder  decoder    [BOS] 0 1 0 1 0 1 0 1 0   1
                     scored on    0   1 0 1 0 1 0 1 0 1 [EOS]
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenizers import Tokenizer

from txdata.lazy_import import lazy_import
from txdata.objectives.base import Objective
from txdata.special_tokens import IGNORE_INDEX

# Imported at first use (txdata/lazy_import.py): `import txdata` does not cost it.
torch = lazy_import("torch", globals())

STREAMS = {  # stream -> (ids key, mask key), by architecture
    "encoder": {"encoder": ("input_ids", "attention_mask")},
    "encoder-decoder": {
        "encoder": ("input_ids", "attention_mask"),
        "decoder": ("decoder_input_ids", "decoder_attention_mask"),
    },
    "decoder": {"decoder": ("input_ids", "attention_mask")},
}
"""What each architecture's stacks read. The last stream listed is the one that predicts."""


@dataclass
class Panel:
    """One objective's example, as the atlas shows it."""

    name: str
    summary: str
    architecture: str
    reads: dict[str, list[str]]  # "encoder" / "decoder" -> the real tokens that stack reads
    predicts: str  # the stream whose positions are scored: "encoder" or "decoder"
    targets: list[str | None]  # per position of that stream: its target, None if unscored
    example_labels: dict[str, int]  # labels of the whole example: {"next_sentence_label": 1}

    @property
    def tokens_read(self) -> int:
        return sum(map(len, self.reads.values()))

    @property
    def scored(self) -> int:
        return sum(target is not None for target in self.targets)


def panel(
    objective: Objective, batch: dict[str, torch.Tensor], tokenizer: Tokenizer, row: int = 0
) -> Panel:
    """The atlas panel of example `row` of a batch that `objective` built.

    >>> from txdata import DataConfig, prepare
    >>> data = prepare(DataConfig(objective="clm", length=6))
    >>> batch = data.batches(1, seed=0, shuffle=False)[0]
    >>> found = panel(data.objective, batch, data.tokenizer)
    >>> found.reads, found.targets
    ({'decoder': ['1', '0', '1', '0', '1', '[EOS]']}, ['0', '1', '0', '1', '[EOS]', None])
    """
    reads = {}
    for stream, (ids_key, mask_key) in STREAMS[objective.architecture].items():
        real = batch[mask_key][row] == 1  # (T,)
        reads[stream] = [tokenizer.id_to_token(i) for i in batch[ids_key][row][real].tolist()]
    predicts = list(reads)[-1]
    width = len(reads[predicts])
    targets = objective.targets(batch)[row][:width].tolist()
    scored = objective.loss_positions(batch)[row][:width].tolist()
    example_labels = {key: int(value[row]) for key, value in batch.items() if value.dim() == 1}
    # A position scored on a label of the whole example (nsp's [CLS]) shows it, shortly.
    whole = ", ".join(f"{key.split('_')[0]}={value}" for key, value in example_labels.items())
    return Panel(
        name=objective.name,
        summary=objective.summary,
        architecture=objective.architecture,
        reads=reads,
        predicts=predicts,
        targets=[
            None if not is_scored else whole if t == IGNORE_INDEX else tokenizer.id_to_token(t)
            for t, is_scored in zip(targets, scored)
        ],
        example_labels=example_labels,
    )
