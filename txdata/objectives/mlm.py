"""mlm: BERT's masked language modelling. The encoder sees the whole row and fills in blanks.

Each real, non-special position is chosen with probability 0.15. A chosen position becomes
`[MASK]` (80 %), a random non-special token (10 %) or stays itself (10 %); its label is the
original token. Every other label is -100, so the loss covers the chosen positions only.
Masks are drawn at collation, fresh for every (seed, epoch, batch index).

Window "1 0 1 0 1 0" ([PAD]=0 [CLS]=2 [SEP]=3 [MASK]=4 "0"=7 "1"=8), positions 2 and 5 chosen:

    original   [2, 8, 7, 8, 7, 8, 7, 3]      [CLS] 1 0 1 0 1 0 [SEP]
    input_ids  [2, 8, 4, 8, 7, 7, 7, 3]      [CLS] 1 [MASK] 1 0 0 0 [SEP]   (5: random "0")
    labels     [-100, -100, 7, -100, -100, 8, -100, -100]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from txdata.collate import pad_right
from txdata.errors import ConfigError
from txdata.lazy_import import lazy_import
from txdata.objectives.base import Columns, Objective
from txdata.objectives.registry import register
from txdata.special_tokens import IGNORE_INDEX
from txdata.tokenizer import encode_texts

# Imported at first use (txdata/lazy_import.py): `import txdata` costs none of them.
datasets = lazy_import("datasets", globals())
np = lazy_import("numpy", globals())
torch = lazy_import("torch", globals())

NO_WORD = -1  # word id of [CLS], [SEP] and padding


@dataclass
class MaskingConfig:
    """mlm's options: which positions are chosen, and what a chosen one becomes."""

    mlm_probability: float = field(
        default=0.15, metadata={"help": "Chance that a token is chosen."}
    )
    mask_probability: float = field(
        default=0.8, metadata={"help": "Of the chosen: share set to [MASK]."}
    )
    random_probability: float = field(
        default=0.1, metadata={"help": "Of the chosen: share set to a random token."}
    )
    whole_word: bool = field(
        default=False,
        metadata={"help": "Choose whole words (from the tokenizer's word_ids), not tokens."},
    )
    exact_count: bool = field(
        default=False,
        metadata={"help": "Choose round(n·p) tokens per row (at least 1), as BERT did."},
    )

    def __post_init__(self) -> None:
        check_shares(self, "mlm_probability", "mask_probability", "random_probability")


def check_shares(options: object, *names: str) -> None:
    """The named options are shares, each in [0, 1]; the last two are the 80/10/10 rule's
    `[MASK]` and random shares, which together may not exceed 1 (the rest stays itself)."""
    for name in names:
        value = getattr(options, name)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name.replace('_', ' ')} must lie in [0, 1], got {value}")
    mask, random = names[-2:]
    if getattr(options, mask) + getattr(options, random) > 1.0:
        raise ConfigError(
            f"{mask.replace('_', ' ')} {getattr(options, mask)} + {random.replace('_', ' ')} "
            f"{getattr(options, random)} exceed 1"
        )


@register
class MaskedLM(Objective):
    name = "mlm"
    summary = "BERT: hide about 15 % of the tokens; the encoder fills them in from both sides."
    architecture = "encoder"
    Options = MaskingConfig
    batch_size = 128  # only 15 % of the tokens carry a loss: twice seq2seq's rows
    metric = "accuracy"
    metric_label = "masked-token accuracy {}"
    baseline = True
    columns = ("input", "chosen", "label")
    example_columns: ClassVar[dict[str, str]] = {
        "input_ids": "[CLS] tokens [SEP]: a window of a document, unmasked (masks are drawn "
        "at collation)",
        "word_ids": "the word of each token, numbered within its document; -1 for [CLS] and "
        "[SEP] (--whole-word reads it)",
    }

    def setup(self) -> None:
        tokenizer = self.tokenizer
        self.masking: MaskingConfig = self.options
        # Every special token the tokenizer holds, an objective's own (sentinels) included.
        added = tokenizer.get_added_tokens_decoder()
        special = sorted({*self.special.all(), *(i for i, t in added.items() if t.special)})
        # Lookup tables, read through numpy: indexing a (B, T) batch with them costs a
        # fraction of torch.isin or of torch indexing, whose fixed overheads dominate here.
        self.is_special = np.zeros(tokenizer.get_vocab_size(), dtype=bool)  # (V,)
        self.is_special[special] = True
        self.random_ids = np.flatnonzero(~self.is_special)  # what a random replacement draws
        if len(self.random_ids) == 0:
            raise ConfigError("the tokenizer has no ordinary tokens to mask")

    def examples(self, source, num_proc: int | None = None) -> datasets.Dataset:
        texts = source.texts()
        return texts.map(
            self.windows, batched=True, remove_columns=texts.column_names, num_proc=num_proc
        )

    def windows(self, batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
        """Cut each document into rows of `length - 2` tokens, between [CLS] and [SEP]."""
        span, cls, sep = self.length - 2, self.special.cls, self.special.sep
        rows: dict[str, list[list[int]]] = {"input_ids": [], "word_ids": []}
        for encoding in encode_texts(self.tokenizer, batch["text"]):
            ids = encoding.ids
            words = [NO_WORD if word is None else word for word in encoding.word_ids]
            for start in range(0, len(ids), span):
                rows["input_ids"].append([cls, *ids[start : start + span], sep])
                rows["word_ids"].append([NO_WORD, *words[start : start + span], NO_WORD])
        return rows

    def collate(self, rows: Columns, generator: torch.Generator) -> dict[str, torch.Tensor]:
        original, attention_mask = pad_right(
            rows["input_ids"], self.special.pad, self.pad_to_multiple_of
        )
        eligible = torch.from_numpy(~self.is_special[original.numpy()])  # (B, T); pad too
        starts = None  # every token is a unit of its own
        if self.masking.whole_word:
            word_ids, _ = pad_right(rows["word_ids"], NO_WORD, self.pad_to_multiple_of)
            starts = word_starts(word_ids)
        chosen = choose_mask_positions(eligible, starts, self.masking, generator)
        return {
            "input_ids": self.corrupt(original, chosen, generator),
            "attention_mask": attention_mask,
            "token_type_ids": torch.zeros_like(original),
            "labels": original.masked_fill(~chosen, IGNORE_INDEX),
        }

    def frame(self, ids: list[int]) -> dict[str, torch.Tensor]:
        """`[CLS] ids [SEP]`, cut to the row length; `[MASK]`s in `ids` mark what to fill."""
        input_ids = torch.tensor([[self.special.cls, *ids[: self.length - 2], self.special.sep]])
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}

    def corrupt(
        self, ids: torch.Tensor, chosen: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """The 80/10/10 rule: chosen positions become [MASK], a random token, or stay."""
        draw = torch.rand(ids.shape, generator=generator)  # (B, T)
        p_mask, p_random = self.masking.mask_probability, self.masking.random_probability
        to_mask = chosen & (draw < p_mask)
        to_random = chosen & (draw >= p_mask) & (draw < p_mask + p_random)
        pick = torch.randint(len(self.random_ids), ids.shape, generator=generator)  # (B, T)
        corrupted = torch.where(to_random, torch.from_numpy(self.random_ids[pick.numpy()]), ids)
        return corrupted.masked_fill(to_mask, self.special.mask)


def word_starts(word_ids: torch.Tensor) -> torch.Tensor:
    """For each position, the position where its word starts. (B, T) -> (B, T).

    >>> word_starts(torch.tensor([[-1, 0, 0, 1, 2, 2, 2, -1]]))
    tensor([[0, 1, 1, 3, 4, 4, 4, 7]])
    """
    positions = torch.arange(word_ids.shape[1]).expand_as(word_ids)
    continues = torch.zeros_like(word_ids, dtype=torch.bool)
    continues[:, 1:] = (word_ids[:, 1:] == word_ids[:, :-1]) & (word_ids[:, 1:] != NO_WORD)
    return positions.masked_fill(continues, 0).cummax(dim=1).values


def choose_mask_positions(
    eligible: torch.Tensor,
    starts: torch.Tensor | None,
    masking: MaskingConfig,
    generator: torch.Generator,
) -> torch.Tensor:
    """Which positions carry a loss. (B, T) bool.

    Units are words (a run of positions sharing a start) or, when `starts` is None, single
    tokens. A unit is chosen by its first position, so all of a word's tokens go together.
    """
    draw = torch.rand(eligible.shape, generator=generator)  # (B, T)
    if starts is None:
        is_start = eligible
    else:
        is_start = (starts == torch.arange(eligible.shape[1])) & eligible
    if masking.exact_count:
        # Rank the starts by their draw; the k lowest win, k = round(n·p), at least 1.
        units = is_start.sum(dim=1, keepdim=True)  # (B, 1)
        k = torch.round(units * masking.mlm_probability).clamp(min=1).minimum(units)
        rank = draw.masked_fill(~is_start, 2.0).argsort(dim=1).argsort(dim=1)
        chosen_start = rank < k
    else:
        chosen_start = draw < masking.mlm_probability
    if starts is None:
        return chosen_start & eligible
    return chosen_start.gather(1, starts) & is_start.gather(1, starts) & eligible
