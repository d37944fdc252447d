"""bart: BART's text infilling. Spans of whole words become one `[MASK]` each; the encoder reads
what is left and the decoder writes the whole original text back.

Each row covers round(0.3 · words) of its words with spans, drawn at collation, fresh for
every (seed, epoch, batch index):

1. Span lengths, in words, come from Poisson(λ = 3) until they cover that many words; the last
   is trimmed to fit. A length 0 is a span too: it inserts a `[MASK]` and hides nothing, so a
   `[MASK]` may stand for 0, 1, 2 … tokens.
2. The spans go to distinct places among the words they leave visible (before the first,
   between two, after the last), in random order. They never overlap, so exactly the share
   asked for is covered (fairseq's may overlap, and cover less), and they never touch, so
   each `[MASK]` stands between visible words. A row has one place more than visible words;
   in the rare row that draws more spans (a high ratio, a small λ), the spans stop there and
   the last covers what is left.
3. With `--permute-sentences`, the row's sentences are shuffled first, as BART does. A sentence
   ends after a word whose last token ends in . ! or ?; the alternating source has none, so
   there the option changes nothing.

The encoder reads the corrupted row, then `[EOS]`; the labels are the original row (never
permuted), then `[EOS]`; the decoder reads them shifted right behind `[BOS]`. The decoder must
learn how many tokens to write for each `[MASK]`: `txdata show` prints how many each one hid.

Alternating window "0 1 0 1 0 1 0 1 0 1 0" (`txdata show --mode bart`, example 1; [PAD]=0
[MASK]=4 [BOS]=5 [EOS]=6 "0"=7 "1"=8): 3 of its 11 words covered, by spans of 1 and 2.

    input_ids          [7, 8, 7, 4, 7, 8, 7, 8, 4, 7, 6]        0 1 0 [MASK] 0 1 0 1 [MASK] 0 [EOS]
    hidden_lengths               1              2               show's column "hid"
    decoder_input_ids  [5, 7, 8, 7, 8, 7, 8, 7, 8, 7, 8, 7]     [BOS] 0 1 0 1 0 1 0 1 0 1 0
    labels             [7, 8, 7, 8, 7, 8, 7, 8, 7, 8, 7, 6]     0 1 0 1 0 1 0 1 0 1 0 [EOS]

(On text this regular, hiding 3 and 0 would read the same: the labels are what must come out.)

Sizes: a row holds `length` − 1 tokens, so the labels, with `[EOS]`, take at most `length`. A
span of k words hides k tokens or more and shrinks the input by at least k − 1, while an
insertion grows it by 1; insertions are kept, in the order drawn, only as far as that room
allows, so the input never exceeds `length` either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import ClassVar

from txdata.collate import shift_right
from txdata.errors import ConfigError
from txdata.lazy_import import lazy_import
from txdata.objectives.base import Columns, Objective
from txdata.objectives.registry import register
from txdata.special_tokens import IGNORE_INDEX, SpecialIds
from txdata.tokenizer import encode_texts

# Imported at first use (txdata/lazy_import.py): `import txdata` costs none of them.
datasets = lazy_import("datasets", globals())
np = lazy_import("numpy", globals())
torch = lazy_import("torch", globals())

SENTENCE_ENDS = (".", "!", "?")
NO_MASK = -1  # `hidden_lengths` where the input holds no [MASK]


@dataclass
class InfillingOptions:
    """bart's options: the BART paper's text infilling."""

    mask_ratio: float = field(
        default=0.3, metadata={"help": "Share of each row's words covered by masked spans."}
    )
    poisson_lambda: float = field(
        default=3.0,
        metadata={"help": "Mean span length in words (Poisson λ); a 0-length span inserts."},
    )
    permute_sentences: bool = field(
        default=False,
        metadata={
            "help": "Shuffle each row's sentences (ending in . ! ?) before masking; "
            "the alternating source has none."
        },
    )

    def __post_init__(self) -> None:
        if not 0.0 <= self.mask_ratio <= 1.0:  # NaN fails too
            raise ConfigError(f"mask ratio must lie in [0, 1], got {self.mask_ratio}")
        if not (math.isfinite(self.poisson_lambda) and self.poisson_lambda > 0.0):
            raise ConfigError(f"poisson lambda must be a number above 0, got {self.poisson_lambda}")


class InfillingBatch(dict):
    """A bart batch: Hugging Face's keys, as every batch, and one attribute for people, which
    `model(**batch)` never sees: `hidden_lengths` (B, S), how many tokens the `[MASK]` at each
    position of `input_ids` hid (0 for an insertion), -1 where there is no `[MASK]`.

    The labels cannot tell it: on repeated text ("1 0 1 0 …") several readings of a corrupted
    row match them, and permuted sentences match none.
    """

    hidden_lengths: torch.Tensor


@register
class TextInfilling(Objective):
    name = "bart"
    summary = "BART: spans of words become one [MASK] each; the decoder writes the whole text."
    architecture = "encoder-decoder"
    Options = InfillingOptions
    batch_size = 64
    reserved = 1  # [EOS]; an insertion only takes room that a longer span freed
    # The decoder rewrites the whole row, so teacher-forced accuracy is mostly copying the
    # visible tokens; only a free-running rewrite shows that the [MASK]s were filled right.
    metric = "exact_match"
    metric_label = "exact match {} rewriting the whole text freely"
    columns = ("input", "hid", "decoder_input", "label")
    example_columns: ClassVar[dict[str, str]] = {
        "input_ids": "a window of a document's tokens, uncorrupted (spans are drawn at collation)",
        "continuations": "positions whose token continues the word before it (WordPiece's ##…)",
    }

    def setup(self) -> None:
        self.ends_sentence = np.zeros(self.tokenizer.get_vocab_size(), dtype=bool)  # (V,)
        for token, id_ in self.tokenizer.get_vocab(with_added_tokens=True).items():
            self.ends_sentence[id_] = token.endswith(SENTENCE_ENDS)
        self.ends_sentence[list(self.special.all())] = False
        # A span never covers more than a row's words, fewer than `length`.
        self.poisson_cdf = poisson_cdf(self.options.poisson_lambda, self.length)

    def examples(self, source, num_proc: int | None = None) -> datasets.Dataset:
        texts = source.texts()
        return texts.map(
            self.windows, batched=True, remove_columns=texts.column_names, num_proc=num_proc
        )

    def windows(self, batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
        """Cut each document into rows of `length` − 1 tokens. `continuations` lists where a
        row's tokens continue the word before them (WordPiece's "##…"); every other token
        begins a word. Kept as positions, not word ids, so that collation reads little: for
        a row of one-token words, nothing."""
        span = self.length - self.reserved
        rows: dict[str, list[list[int]]] = {"input_ids": [], "continuations": []}
        for encoding in encode_texts(self.tokenizer, batch["text"]):
            for start in range(0, len(encoding.ids), span):
                words = encoding.word_ids[start : start + span]
                rows["input_ids"].append(encoding.ids[start : start + span])
                rows["continuations"].append(
                    [i for i in range(1, len(words)) if words[i] == words[i - 1] is not None]
                )
        return rows

    def collate(self, rows: Columns, generator: torch.Generator) -> InfillingBatch:
        """Each step works on the batch's rows run together, each followed by its `[EOS]`
        (N tokens in all), so that it is one numpy call for the whole batch."""
        flat = FlatRows.of(rows["input_ids"], rows["continuations"], self.special.eos)
        word_at = flat.starts.nonzero()[0]  # (W,): where each word of the batch begins
        first_word = np.searchsorted(word_at, flat.offsets)  # (B + 1,): each row's first
        words = first_word[1:] - first_word[:-1] - 1  # (B,) without the [EOS]
        covered = np.round(words * self.options.mask_ratio).astype(np.int64)  # (B,)
        places = words - covered + 1  # (B,): before, between and after the visible words
        spare = self.length - flat.sizes  # (B,): room in the input, [EOS] counted
        lengths = span_lengths(covered, places, spare, self.poisson_cdf, generator)  # (B, K)
        row, first, length = place_spans(lengths, places, generator)  # (M,) each
        original = flat.ids
        if self.options.permute_sentences:
            # Drawn last, so that where there is one sentence nothing else changes.
            flat = flat.permuted(self.ends_sentence, generator)
            word_at = flat.starts.nonzero()[0]  # the same words, each row's in a new order
        # The word after a row's last is its [EOS], so a span that ends the row ends there.
        word = first_word[row] + first  # (M,): the span's first word in the batch
        begin, end = word_at[word], word_at[word + length]
        input_ids, attention_mask, hidden_lengths = infill(
            flat, begin, end, self.special, self.pad_to_multiple_of
        )  # (B, S)
        labels, decoder_attention_mask = flat.padded(
            original, IGNORE_INDEX, self.pad_to_multiple_of
        )  # (B, U)
        batch = InfillingBatch(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=shift_right(labels, self.special.bos, self.special.pad),
            decoder_attention_mask=decoder_attention_mask,
            labels=labels,
        )
        batch.hidden_lengths = hidden_lengths
        return batch

    def frame(self, ids: list[int]) -> dict[str, torch.Tensor]:
        """The user's text, `[MASK]`s where words are missing ("1 0 [MASK] 0 1"), then `[EOS]`."""
        input_ids = torch.tensor([[*ids[: self.length - 1], self.special.eos]])
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


def padded_width(width: int, multiple_of: int | None) -> int:
    """`width` rounded up to a multiple of `multiple_of`, if given."""
    return -(-width // multiple_of) * multiple_of if multiple_of else width


@dataclass
class FlatRows:
    """A batch's rows run together, each followed by `[EOS]`: row b is `ids[offsets[b] :
    offsets[b + 1]]`, of `sizes[b]` tokens, its `[EOS]` last. `starts` marks the tokens that
    begin a word (`[EOS]` is a word of its own); `row` and `column` say where each token
    stands in a padded batch.

    >>> flat = FlatRows.of([[8, 7, 7], [7]], continuations=[[2], []], eos=6)
    >>> flat.ids, flat.starts
    (array([8, 7, 7, 6, 7, 6]), array([ True,  True, False,  True,  True,  True]))
    >>> flat.offsets, flat.sizes, flat.row, flat.column
    (array([0, 4, 6]), array([4, 2]), array([0, 0, 0, 0, 1, 1]), array([0, 1, 2, 3, 0, 1]))
    """

    ids: np.ndarray  # (N,)
    starts: np.ndarray  # (N,) bool
    offsets: np.ndarray  # (B + 1,)
    sizes: np.ndarray  # (B,)
    row: np.ndarray  # (N,)
    column: np.ndarray  # (N,)

    @classmethod
    def of(
        cls, ids: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]], eos: int
    ) -> FlatRows:
        sizes = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids)) + 1  # (B,)
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        row = np.repeat(np.arange(len(ids)), sizes)  # (N,)
        column = np.arange(offsets[-1]) - offsets[row]  # (N,)
        flat_ids = np.full(offsets[-1], eos, dtype=np.int64)
        flat_ids[column < (sizes - 1)[row]] = np.fromiter(chain.from_iterable(ids), np.int64)
        starts = np.ones(offsets[-1], dtype=bool)
        if any(continuations):  # none at all where every word is one token
            inside = np.fromiter(map(len, continuations), dtype=np.int64, count=len(ids))
            within = np.fromiter(chain.from_iterable(continuations), np.int64)
            starts[np.repeat(offsets[:-1], inside) + within] = False
        return cls(flat_ids, starts, offsets, sizes, row, column)

    def permuted(self, ends_sentence: np.ndarray, generator: torch.Generator) -> FlatRows:
        """Each row's sentences in a random order, `[EOS]` still last. A sentence ends after a
        word whose last token is marked in `ends_sentence` (V,); text after the last end, up
        to `[EOS]`, is a sentence too.

        >>> flat = FlatRows.of([[11, 12, 90, 13, 90]], [[]], eos=6)
        >>> ends = np.zeros(100, dtype=bool)
        >>> ends[90] = True
        >>> flat.permuted(ends, torch.Generator().manual_seed(0)).ids
        array([13, 90, 11, 12, 90,  6])
        """
        ends_word = np.append(self.starts[1:], True)  # (N,): a word's last token
        ends = ends_sentence[self.ids] & ends_word
        sentence = ends.cumsum() - ends  # (N,): sentences that end before each token
        draw = torch.rand(len(self.ids), generator=generator, dtype=torch.float64).numpy()
        # Row first, then its sentence's draw; a row's [EOS] (1.5) sorts after its text.
        key = 2.0 * self.row + draw[sentence]
        key[self.offsets[1:] - 1] = 2.0 * np.arange(len(self.offsets) - 1) + 1.5
        order = np.argsort(key, kind="stable")  # a sentence keeps its own order
        return replace(self, ids=self.ids[order], starts=self.starts[order])

    def padded(
        self, values: np.ndarray, fill: int, multiple_of: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`values` (N,), one per token, as rows (B, U) padded with `fill`, and their mask."""
        sizes = self.sizes
        width = padded_width(int(sizes.max()), multiple_of)
        padded = np.full((len(sizes), width), fill, dtype=np.int64)
        padded[self.row, self.column] = values
        mask = (np.arange(width) < sizes[:, None]).astype(np.int64)
        return torch.from_numpy(padded), torch.from_numpy(mask)


def poisson_cdf(poisson_lambda: float, most: int) -> np.ndarray:
    """P(X ≤ k) for k = 0 … most − 1, X ~ Poisson(λ). Drawing through it (see `span_lengths`)
    gives `most` for any larger X: that span covers the rest of any row here.

    >>> poisson_cdf(3.0, 3).round(4)
    array([0.0498, 0.1991, 0.4232])
    """
    k = np.arange(most)
    log_factorial = np.array([math.lgamma(i + 1) for i in k])
    return np.cumsum(np.exp(k * math.log(poisson_lambda) - poisson_lambda - log_factorial))


def span_lengths(
    covered: np.ndarray,
    places: np.ndarray,
    spare: np.ndarray,
    cdf: np.ndarray,
    generator: torch.Generator,
) -> np.ndarray:
    """Each row's span lengths in words, in the order drawn. (B,) each -> (B, K), K at most
    the most places of a row, -1 where a row has no more spans.

    Lengths are drawn (by inverting `cdf`) until they cover `covered` words, or until there
    are `places` of them: then the last takes what is left. An insertion (length 0) is kept
    while the row has room: `spare` places, and k − 1 more for each span of k words.
    """
    rows, most = len(places), int(places.max())
    # Draws for twice the spans the fullest row needs on average (the mean draw is
    # len(cdf) - sum(cdf)), and more in the rare row that they leave short.
    enough = min(most, math.ceil(2 * int(covered.max()) / (len(cdf) - cdf.sum())) + 4)
    drawn = inverse_draws(cdf, rows, enough, generator)  # (B, K)
    while drawn.shape[1] < most and (drawn.sum(axis=1) < covered).any():
        drawn = np.concatenate([drawn, inverse_draws(cdf, rows, enough, generator)], axis=1)
    drawn = drawn[:, :most]
    left = covered[:, None] + drawn - drawn.cumsum(axis=1)  # (B, K): still to cover
    column = np.arange(drawn.shape[1])
    # The span that reaches `covered` is trimmed; one that takes the last place, stretched.
    lengths = np.where(column == places[:, None] - 1, left, np.minimum(drawn, left))
    lengths[(left <= 0) | (column >= places[:, None])] = -1
    insertion = lengths == 0
    room = spare + np.maximum(lengths - 1, 0).sum(axis=1)  # (B,)
    lengths[insertion & (insertion.cumsum(axis=1) > room[:, None])] = -1
    return lengths


def inverse_draws(
    cdf: np.ndarray, rows: int, columns: int, generator: torch.Generator
) -> np.ndarray:
    """(rows, columns) draws from the distribution whose cumulative probabilities are `cdf`."""
    uniform = torch.rand(rows, columns, generator=generator, dtype=torch.float64).numpy()
    return np.searchsorted(cdf, uniform, side="right")


def place_spans(
    lengths: np.ndarray, places: np.ndarray, generator: torch.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Span j of a row takes the j-th of its places in a random order; place p comes after p
    visible words. (B, K), (B,) -> the row, first word and length of each span, (M,) each.
    """
    rows, most = len(places), int(places.max())
    draw = torch.rand(rows, most, generator=generator).numpy()  # (B, P)
    draw[np.arange(most) >= places[:, None]] = 2.0  # no such place: never drawn
    row, span = np.nonzero(lengths >= 0)
    place = np.argsort(draw, axis=1)[row, span]  # (M,): distinct places, in random order
    length = lengths[row, span]  # (M,)
    words_at = np.zeros((rows, most), dtype=np.int64)  # (B, P): words a span covers there
    words_at[row, place] = length
    covered_before = words_at.cumsum(axis=1) - words_at  # (B, P)
    return row, place + covered_before[row, place], length


def infill(
    flat: FlatRows,
    begin: np.ndarray,
    end: np.ndarray,
    special: SpecialIds,
    multiple_of: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The encoder's input: each span (M,) of tokens `begin` … `end` − 1 of `flat` becomes one
    `[MASK]`. Returns `input_ids`, `attention_mask` and `hidden_lengths`, (B, S).

    A token gives the input a `[MASK]` if a span begins there, then itself unless a span
    hides it: 0, 1 or 2 input tokens, whose running count says where each one lands.

    >>> flat = FlatRows.of([[11, 12, 13, 14]], [[]], eos=6)
    >>> special = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4, bos=5, eos=6)
    >>> infill(flat, np.array([1, 4]), np.array([3, 4]), special)
    (tensor([[11,  4, 14,  4,  6]]), tensor([[1, 1, 1, 1, 1]]), tensor([[-1,  2, -1,  0, -1]]))
    """
    opens = np.zeros(len(flat.ids), dtype=np.int64)  # (N,): 1 where a [MASK] goes before
    opens[begin] = 1
    # +1 where a span begins, -1 where it ends: spans never touch, so no two marks coincide.
    marks = np.zeros(len(flat.ids), dtype=np.int64)
    hiding = end > begin
    marks[begin[hiding]] = 1
    marks[end[hiding]] = -1
    hidden = marks.cumsum()  # (N,): 1 on the tokens a span hides
    taken = 1 + opens - hidden  # (N,): the input tokens each one gives
    position = taken.cumsum() - taken  # (N,): where the first lands, in the whole batch
    position -= position[flat.offsets[:-1]][flat.row]  # … in its row
    sizes = np.add.reduceat(taken, flat.offsets[:-1])  # (B,)
    width = padded_width(int(sizes.max()), multiple_of)
    input_ids = np.full((len(sizes), width + 1), special.pad, dtype=np.int64)  # + a bin
    input_ids[flat.row, np.where(hidden == 1, width, position + opens)] = flat.ids
    masks = flat.row[begin], position[begin]  # where the [MASK]s land
    input_ids[masks] = special.mask
    hidden_lengths = np.full((len(sizes), width), NO_MASK, dtype=np.int64)
    hidden_lengths[masks] = end - begin
    attention_mask = (np.arange(width) < sizes[:, None]).astype(np.int64)
    return (
        torch.from_numpy(input_ids[:, :width]),
        torch.from_numpy(attention_mask),
        torch.from_numpy(hidden_lengths),
    )
