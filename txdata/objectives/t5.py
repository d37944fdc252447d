"""t5: T5's span corruption. Random spans of a row are dropped, each replaced by a sentinel;
the encoder reads what is left and the decoder writes the dropped spans back.

`random_spans_noise_mask` follows T5: round(L·0.15) noise tokens (at least 1, at most L − 1)
in max(1, round(noise / 3)) spans; the noise and the kept tokens are each split into that many
random positive lengths, and the spans alternate, kept first (so the last span is dropped).
Inputs are the kept tokens with `<extra_id_i>` for span i, then `[EOS]`; the labels are each
sentinel followed by its span, then `[EOS]`. The decoder reads the labels shifted right
behind `[BOS]`, as seq2seq's does. Spans are drawn at collation, fresh for every
(seed, epoch, batch index).

Alternating window "1 0 1 0 1 0 1 0 1 0 1" (`txdata show --mode t5`, example 0; [PAD]=0
[BOS]=5 [EOS]=6 "0"=7 "1"=8 <extra_id_0>=9). Up to length 31 a row holds one span, which
T5's alternation puts at the end; from `--length 32` on, rows hold several:

    input_ids          [8, 7, 8, 7, 8, 7, 8, 7, 8, 9, 6]    1 0 1 0 1 0 1 0 1 <extra_id_0> [EOS]
    decoder_input_ids  [5, 9, 7, 8]                         [BOS] <extra_id_0> 0 1
    labels             [9, 7, 8, 6]                         <extra_id_0> 0 1 [EOS]

A corpus is packed as T5 packs it: documents run together with no separator (so a row's one
`[EOS]` ends it), cut into chunks of `span_corruption_lengths(length)[0]` tokens, so that the
inputs take exactly `length` tokens (T5's `random_spans_helper`: 568 raw tokens for 512, with
114 targets; at noise densities of 0.5 and more, at most `length`). An alternating window is
a row of its own, of `length` − 1 tokens: a sentinel stands for at least one dropped token,
so `[EOS]` is the one token corruption adds, and the inputs fit `length` under any options.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from txdata.collate import pack_kept, pad_right, shift_right
from txdata.errors import ConfigError
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
class SpanCorruptionOptions:
    """t5's options, T5's defaults."""

    noise_density: float = field(
        default=0.15, metadata={"help": "Share of each row's tokens dropped in spans."}
    )
    mean_span_length: float = field(
        default=3.0, metadata={"help": "Mean length of a dropped span, in tokens."}
    )

    def __post_init__(self) -> None:
        if not 0.0 < self.noise_density < 1.0:
            raise ConfigError(f"noise density must lie in (0, 1), got {self.noise_density}")
        if not (math.isfinite(self.mean_span_length) and self.mean_span_length >= 1.0):
            raise ConfigError(
                f"mean span length must be a number of 1 or more, got {self.mean_span_length}"
            )


def sentinel(index: int) -> str:
    return f"<extra_id_{index}>"


@register
class SpanCorruption(Objective):
    name = "t5"
    summary = "T5: drop random spans for sentinels; the decoder writes the dropped spans back."
    architecture = "encoder-decoder"
    Options = SpanCorruptionOptions
    batch_size = 64
    reserved = 1  # [EOS]; each sentinel replaces at least one token
    metric = "exact_match"
    metric_label = "exact match {} writing the dropped spans freely"
    columns = ("input", "decoder_input", "label")
    example_columns: ClassVar[dict[str, str]] = {
        "input_ids": "a chunk of the documents' tokens run together, uncorrupted (spans are "
        "drawn at collation; an alternating window is a chunk)",
    }

    def setup(self) -> None:
        tokenizer = self.tokenizer
        ids = []
        while (id_ := tokenizer.token_to_id(sentinel(len(ids)))) is not None:
            ids.append(id_)
        self.sentinels = np.array(ids, dtype=np.int64)  # id of <extra_id_i> at i
        if not ids:
            raise ConfigError(f"the tokenizer lacks T5's sentinels {sentinel(0)}, …")

    @classmethod
    def extra_special_tokens(cls, length: int, options: Any) -> list[str]:
        """One sentinel per span of the longest row: a packed chunk."""
        chunk, _ = span_corruption_lengths(length, options.noise_density, options.mean_span_length)
        _, spans = span_counts(chunk, options.noise_density, options.mean_span_length)
        return [sentinel(i) for i in range(spans)]

    def examples(self, source, num_proc: int | None = None) -> datasets.Dataset:
        texts = source.texts()
        # An alternating window is a row, cut to `length` − 1 tokens (a symbol may take several).
        window = self.length - self.reserved if source.config.source == "alternating" else None
        documents = texts.map(
            self._encode,
            batched=True,
            remove_columns=texts.column_names,
            fn_kwargs={"window": window},
            num_proc=num_proc,
        )
        if window:
            return documents
        return datasets.Dataset(pa.table({"input_ids": self._packed(documents)}))

    def _encode(
        self, batch: dict[str, list[str]], window: int | None
    ) -> dict[str, list[list[int]]]:
        encodings = encode_texts(self.tokenizer, batch["text"])
        return {"input_ids": [encoding.ids[:window] for encoding in encodings]}

    def _packed(self, documents: datasets.Dataset) -> pa.ListArray:
        """Every document's ids run together, cut into chunks whose inputs fill `length`."""
        options = self.options
        chunk, _ = span_corruption_lengths(
            self.length, options.noise_density, options.mean_span_length
        )
        column = documents.data.column("input_ids").combine_chunks()  # a ListArray
        ids = column.flatten().to_numpy().astype(np.int64)  # (N,)
        offsets = np.append(np.arange(0, len(ids), chunk), len(ids)).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(ids))

    def collate(self, rows: Columns, generator: torch.Generator) -> dict[str, torch.Tensor]:
        ids, real = pad_right(rows["input_ids"], self.special.pad)  # (B, T)
        noise = random_spans_noise_mask(
            real.sum(dim=1).tolist(),
            self.options.noise_density,
            self.options.mean_span_length,
            generator,
        )  # (B, T)
        slots, in_inputs, in_labels = corrupt_spans(
            ids.numpy(), real.numpy() == 1, noise, self.sentinels, self.special.eos
        )  # (B, 2T + 1) each
        multiple = self.pad_to_multiple_of
        input_ids, attention_mask = pack_kept(slots, in_inputs, self.special.pad, multiple)
        labels, decoder_attention_mask = pack_kept(slots, in_labels, IGNORE_INDEX, multiple)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "decoder_input_ids": shift_right(labels, self.special.bos, self.special.pad),
            "decoder_attention_mask": decoder_attention_mask,
            "labels": labels,
        }

    def frame(self, ids: list[int]) -> dict[str, torch.Tensor]:
        """The user's text, sentinels where they dropped spans ("1 0 <extra_id_0> 0 1"), `[EOS]`."""
        input_ids = torch.tensor([[*ids[: self.length - 1], self.special.eos]])
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}

    def reconstruct(self, input_ids: list[int], output_ids: list[int]) -> list[int]:
        """The input with each sentinel replaced by the span the output wrote after it; a
        sentinel the output never wrote stays in place, so a gap is never silently closed.

        >>> from txdata.tokenizer import alternating_tokenizer
        >>> tokenizer = alternating_tokenizer("1 0")  # "0"=7 "1"=8 [EOS]=6
        >>> tokenizer.add_special_tokens([sentinel(0), sentinel(1)])  # ids 9 and 10
        2
        >>> t5 = SpanCorruption(tokenizer, length=16)
        >>> t5.reconstruct([8, 9, 8, 10, 6], [9, 7, 7, 10, 7, 6])  # 1 <0> 1 <1>; <0> 0 0 <1> 0
        [8, 7, 7, 8, 7]
        """
        sentinels = set(self.sentinels.tolist())
        spans: dict[int, list[int]] = {}
        writing = None  # the span the output is writing, after its sentinel
        for token in output_ids:
            if token == self.special.eos:
                break
            if token in sentinels:
                writing = spans.setdefault(token, [])
            elif writing is not None:
                writing.append(token)
        restored = []
        for token in input_ids:
            if token == self.special.eos:
                break
            restored += spans.get(token, [token])
        return restored


def span_counts(length: int, noise_density: float, mean_span_length: float) -> tuple[int, int]:
    """How many of a row's `length` tokens are dropped, and in how many spans, as T5 counts:
    never every token, never more spans than there are kept or dropped tokens to fill them.
    A row of one token drops nothing.

    >>> span_counts(568, 0.15, 3.0)
    (85, 28)
    >>> span_counts(4, 0.15, 3.0)
    (1, 1)
    """
    noise = min(max(round(length * noise_density), 1), length - 1)
    spans = min(max(round(noise / mean_span_length), 1), noise, length - noise)
    return noise, spans


def corrupted_lengths(
    length: int, noise_density: float, mean_span_length: float
) -> tuple[int, int]:
    """The lengths of the inputs and of the labels that a row of `length` tokens gives.

    >>> corrupted_lengths(568, 0.15, 3.0)
    (512, 114)
    """
    noise, spans = span_counts(length, noise_density, mean_span_length)
    return length - noise + spans + 1, noise + spans + 1


def span_corruption_lengths(
    inputs_length: int, noise_density: float = 0.15, mean_span_length: float = 3.0
) -> tuple[int, int]:
    """The longest raw chunk whose inputs take at most `inputs_length` tokens, and its labels'
    length: T5's `random_spans_helper`. Below a noise density of 0.5 the inputs then take
    exactly `inputs_length`; above, where spans may be as many as the kept tokens, one raw
    token more can add two input tokens, and the inputs may come out one short.

    >>> span_corruption_lengths(512)
    (568, 114)
    >>> span_corruption_lengths(128)
    (141, 29)
    """

    def fits(length: int) -> bool:
        return corrupted_lengths(length, noise_density, mean_span_length)[0] <= inputs_length

    # The inputs never shrink as the chunk grows, and `inputs_length - 1` raw tokens fit.
    low, high = inputs_length - 1, inputs_length
    while fits(high):
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low, corrupted_lengths(low, noise_density, mean_span_length)[1]


def random_segmentation(
    totals: np.ndarray, parts: np.ndarray, generator: torch.Generator
) -> np.ndarray:
    """Split each row's total into `parts` random positive lengths, every split equally likely:
    the cuts are `parts − 1` distinct points of 1 … total − 1. (B,), (B,) -> (B, K), K the
    most parts of a row (at least 1); a row's lengths after its own parts are 0.

    Only the draw and its `topk` run in torch; the rest runs in numpy, for the reason
    `txdata.collate.pad_right` gives.
    """
    rows, most = len(totals), max(int(parts.max(initial=1)), 1)
    width = max(int(totals.max(initial=1)) - 1, 0)
    draw = torch.rand(rows, width, generator=generator)  # (B, W): point p at column p - 1
    draw.numpy()[np.arange(1, width + 1) >= totals[:, None]] = 2.0  # past the end: never drawn
    # The points of the `parts − 1` lowest draws are the cuts: a uniform choice of distinct
    # points. topk gives the K − 1 lowest of each row, lowest first, so each row's own
    # `parts − 1` come first; a row's surplus columns become its total.
    first = draw.topk(most - 1, dim=1, largest=False).indices.numpy() + 1  # (B, K - 1)
    cuts = np.where(np.arange(most - 1) < (parts - 1)[:, None], first, totals[:, None])
    cuts.sort(axis=1)
    edges = np.concatenate([np.zeros((rows, 1), np.int64), cuts, totals[:, None]], axis=1)
    return np.diff(edges, axis=1)  # (B, K)


def random_spans_noise_mask(
    lengths: Sequence[int],
    noise_density: float,
    mean_span_length: float,
    generator: torch.Generator,
) -> np.ndarray:
    """T5's noise mask for rows of `lengths`: (B, T) bool, T the longest, True on the tokens
    to drop. Spans alternate kept, dropped, kept, …, dropped, each of a random positive length.
    """
    real = np.asarray(lengths, dtype=np.int64)  # (B,)
    counts = {n: span_counts(n, noise_density, mean_span_length) for n in set(lengths)}
    noise, spans = np.array([counts[n] for n in lengths], dtype=np.int64).reshape(-1, 2).T
    dropped = random_segmentation(noise, spans, generator)  # (B, K)
    kept = random_segmentation(real - noise, spans, generator)  # (B, K)
    rows, most = kept.shape
    span_lengths = np.stack([kept, dropped], axis=2).reshape(rows, -1)  # (B, 2K): kept first
    is_dropped = np.broadcast_to(np.arange(2 * most) % 2 == 1, span_lengths.shape)
    width = int(real.max(initial=0))
    mask = np.zeros((rows, width), dtype=bool)
    # Each span's flag repeated over its length, row after row, fills the real positions.
    mask[np.arange(width) < real[:, None]] = np.repeat(is_dropped.ravel(), span_lengths.ravel())
    return mask


def corrupt_spans(
    ids: np.ndarray, real: np.ndarray, noise: np.ndarray, sentinels: np.ndarray, eos: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's inputs and labels, from its ids, real positions and noise mask, all (B, T).

    Every position offers two slots, a sentinel (if a dropped span starts there) and its
    token, and one slot more ends the row with `[EOS]`. The inputs keep the sentinels and the
    kept tokens, the labels the sentinels and the dropped tokens, and both keep `[EOS]`.
    Returns the slots, and which of them the inputs and the labels keep: (B, 2T + 1) each,
    for `pack_kept` to move to the front of each row.

    >>> ids, real = np.array([[11, 12, 13, 14, 15]]), np.ones((1, 5), bool)
    >>> noise = np.array([[False, True, False, True, True]])
    >>> slots, inputs, labels = corrupt_spans(ids, real, noise, np.array([90, 91]), eos=6)
    >>> slots[inputs].tolist(), slots[labels].tolist()
    ([11, 90, 13, 91, 6], [90, 12, 91, 14, 15, 6])
    """
    before = np.zeros_like(noise)
    before[:, 1:] = noise[:, :-1]
    opens = noise & ~before  # (B, T): the first token of each dropped span
    number = opens.cumsum(axis=1) - 1  # (B, T): its span, counted from 0 in each row
    needed = int(number.max(initial=-1)) + 1
    if needed > len(sentinels):
        raise ConfigError(
            f"a row has {needed} dropped spans, but the tokenizer holds {len(sentinels)} "
            "sentinels: build the data with the length it was prepared for"
        )
    marks = np.where(opens, sentinels[number.clip(0, len(sentinels) - 1)], eos)  # (B, T)
    rows = ids.shape[0]
    end = np.ones((rows, 1), dtype=bool)
    slots = np.concatenate([np.stack([marks, ids], axis=2).reshape(rows, -1), end * eos], 1)
    in_inputs = np.concatenate([np.stack([opens, real & ~noise], axis=2).reshape(rows, -1), end], 1)
    in_labels = np.concatenate([np.stack([opens, noise], axis=2).reshape(rows, -1), end], 1)
    return slots, in_inputs, in_labels
