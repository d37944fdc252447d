"""seq2seq: an encoder reads the source, a decoder predicts the target one token at a time.

Teacher forcing feeds the decoder the target shifted right behind `[BOS]`, so at step t it has
seen target tokens < t and must predict token t. Feeding it the labels themselves would let it
copy the answer.

Source "1 0 1 0", target "0 1 0 1" ([PAD]=0 [BOS]=5 [EOS]=6 "0"=7 "1"=8):

    input_ids          [8, 7, 8, 7, 6]    1 0 1 0 [EOS]
    decoder_input_ids  [5, 7, 8, 7, 8]    [BOS] 0 1 0 1
    labels             [7, 8, 7, 8, 6]    0 1 0 1 [EOS]

In a batch, shorter rows are padded on the right: pad in the inputs, -100 in the labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from txdata.collate import pad_right, shift_right
from txdata.lazy_import import lazy_import
from txdata.objectives.base import Columns, Objective
from txdata.objectives.registry import register
from txdata.special_tokens import IGNORE_INDEX
from txdata.tokenizer import encode_texts

# Imported at first use (txdata/lazy_import.py): `import txdata` costs none of them.
datasets = lazy_import("datasets", globals())
torch = lazy_import("torch", globals())


@dataclass
class Seq2SeqOptions:
    """seq2seq's options."""

    labels_as_decoder_input: bool = field(
        default=False,
        metadata={"help": "Demonstrate a classic bug: the decoder reads its own labels."},
    )


@register
class Seq2Seq(Objective):
    name = "seq2seq"
    summary = "Encoder-decoder: the encoder reads a source, the decoder writes the target."
    architecture = "encoder-decoder"
    Options = Seq2SeqOptions
    batch_size = 64
    metric = "exact_match"
    metric_label = "exact match {} decoding freely"
    columns = ("input", "decoder_input", "label")
    example_columns: ClassVar[dict[str, str]] = {
        "input_ids": "source tokens [EOS]: what the encoder reads",
        "labels": "target tokens [EOS]: collation shifts them right behind [BOS] for the decoder",
    }

    def examples(self, source, num_proc: int | None = None) -> datasets.Dataset:
        pairs = source.pairs()
        return pairs.map(
            self._encode, batched=True, remove_columns=pairs.column_names, num_proc=num_proc
        )

    def _encode(self, batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
        keep, eos = self.length - 1, self.special.eos
        sources = encode_texts(self.tokenizer, batch["source"])
        targets = encode_texts(self.tokenizer, batch["target"])
        return {
            "input_ids": [[*encoding.ids[:keep], eos] for encoding in sources],
            "labels": [[*encoding.ids[:keep], eos] for encoding in targets],
        }

    def collate(
        self, rows: Columns, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Pad and build the decoder input. Nothing is random here; `generator` is unused."""
        pad, multiple = self.special.pad, self.pad_to_multiple_of
        input_ids, attention_mask = pad_right(rows["input_ids"], pad, multiple)  # (B, S)
        labels, decoder_attention_mask = pad_right(rows["labels"], IGNORE_INDEX, multiple)  # (B, T)
        if self.options.labels_as_decoder_input:
            # Wrong on purpose: position t reads the very token it must predict, so teacher
            # forcing reaches ~100 % while free-running decoding, with no labels to copy, fails.
            decoder_input_ids = labels.masked_fill(labels == IGNORE_INDEX, pad)
        else:
            decoder_input_ids = shift_right(labels, self.special.bos, pad)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "decoder_input_ids": decoder_input_ids,
            "decoder_attention_mask": decoder_attention_mask,
            "labels": labels,
        }

    def frame(self, ids: list[int]) -> dict[str, torch.Tensor]:
        """The encoder's input `ids [EOS]`; the decoder starts from `[BOS]` when it generates."""
        input_ids = torch.tensor([[*ids[: self.length - 1], self.special.eos]])
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
