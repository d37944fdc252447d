"""clm: GPT's causal language modelling. A decoder reads the text and predicts each next token.

Documents are tokenized, each followed by `[EOS]`, run together and cut into rows of exactly
`length` tokens (GPT-2 and nanoGPT packing: no padding inside the corpus; only the last row
may be short). The labels are the inputs themselves, -100 on padding; the model shifts them
inside, as Hugging Face's causal LMs do, so position t is scored on token t + 1. `[EOS]` keeps
its label, so the model learns where a document ends.

Window "1 0 1 0 1" ([PAD]=0 [EOS]=6 "0"=7 "1"=8), length 6:

    input_ids  [8, 7, 8, 7, 8, 6]     1 0 1 0 1 [EOS]
    labels     [8, 7, 8, 7, 8, 6]     the model scores position t on labels[t + 1]:
    scored on   0 1 0 1 [EOS] -       "1" -> "0", "0" -> "1", …, "1" -> [EOS]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from txdata.collate import pad_right
from txdata.lazy_import import lazy_import
from txdata.objectives.base import Columns, Objective
from txdata.objectives.registry import register
from txdata.special_tokens import IGNORE_INDEX
from txdata.tokenizer import encode_texts

# Imported at first use (txdata/lazy_import.py): `import txdata` costs none of them.
datasets = lazy_import("datasets", globals())
np = lazy_import("numpy", globals())
pa = lazy_import("pyarrow", globals())
torch = lazy_import("torch", globals())


@dataclass
class CausalLMOptions:
    """clm's options."""

    pack: bool = field(
        default=True,
        metadata={"help": "Run documents together into full rows; --no-pack: one per row."},
    )


@register
class CausalLM(Objective):
    name = "clm"
    summary = "GPT: a decoder reads the text left to right and predicts every next token."
    architecture = "decoder"
    Options = CausalLMOptions
    batch_size = 64
    reserved = 1  # [EOS] after each document
    metric = "exact_match"
    metric_label = "exact match {} continuing held-out text freely"
    columns = ("input", "label", "next")
    example_columns: ClassVar[dict[str, str]] = {
        "input_ids": "documents' tokens, each document ending in [EOS], run together and cut "
        "into rows of --length (--no-pack: one document per row)",
    }

    def examples(self, source, num_proc: int | None = None) -> datasets.Dataset:
        texts = source.texts()
        documents = texts.map(
            self._encode, batched=True, remove_columns=texts.column_names, num_proc=num_proc
        )
        if not self.options.pack:
            return documents
        return datasets.Dataset(pa.table({"input_ids": self._packed(documents)}))

    def _encode(self, batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
        """Each document's ids and `[EOS]`; unpacked, cut to the row length."""
        encodings = encode_texts(self.tokenizer, batch["text"])
        rows = [[*encoding.ids, self.special.eos] for encoding in encodings]
        if not self.options.pack:
            rows = [row[: self.length] for row in rows]
        return {"input_ids": rows}

    def _packed(self, documents: datasets.Dataset) -> pa.ListArray:
        """Every document's ids run together, cut into rows of `length`; built in Arrow, so a
        corpus of millions of tokens never becomes Python lists."""
        column = documents.data.column("input_ids").combine_chunks()  # a ListArray
        ids = column.flatten().to_numpy().astype(np.int64)  # (N,)
        offsets = np.append(np.arange(0, len(ids), self.length), len(ids)).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(ids))

    def collate(
        self, rows: Columns, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Pad; the labels are the inputs, -100 on padding. Nothing is random here."""
        input_ids, attention_mask = pad_right(
            rows["input_ids"], self.special.pad, self.pad_to_multiple_of
        )  # (B, T)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "labels": input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX),
        }

    def frame(self, ids: list[int]) -> dict[str, torch.Tensor]:
        """The prompt as it is: generation continues it."""
        input_ids = torch.tensor([ids[-self.length :]])
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
