"""nsp: BERT's own pretraining data. Two segments in one row, `[CLS] A [SEP] B [SEP]`; the
encoder fills in masked tokens (mlm) and says, from `[CLS]`, whether B follows A.

`next_sentence_label` is 0 when B is A's continuation in the text, 1 when it is not, as Hugging
Face's `BertForPreTraining` reads it. Half the rows, drawn at collation, are negatives: B is
taken from another row of the batch, of another document (Google's `create_pretraining_data.py`
takes a segment of a random other document). With `--order` (ALBERT's sentence-order
prediction) a negative is the row's own pair swapped, `[CLS] B [SEP] A [SEP]`.
`token_type_ids` are 0 through the first `[SEP]` and 1 after it; 0 on padding. The pair is
cut to `length` longer side first, each cut token from a random end, as Google cuts. mlm's
masking then runs over both segments; `[CLS]` and `[SEP]` are never chosen.

What a segment is:
- a text corpus: each document (blank-line separated) is split into sentences (at `.`, `!`,
  `?` or a line break; a sentence longer than the `length - 3` tokens a row holds is cut into
  even pieces that fit). Consecutive sentences fill a chunk until it holds `length - 3` tokens and
  two sentences; a lone last sentence joins the chunk before. A is the chunk's sentences up
  to the boundary nearest its middle, B the rest. A document of one sentence is cut in the
  middle of its tokens. Google also draws a shorter row length 10 % of the time; this does not.
- the alternating sequence: each window of `length - 3` symbols is a document, cut in the
  middle: A is its first half (the larger), B the rest.

A negative takes its B from a row of another document when the batch has one, else from
another row of the same document; a batch of one row has nothing to borrow, and its row
stays a positive.

On the alternating sequence a "random" B is often a true continuation all the same: another
window's B continues A whenever that window has A's phase, which with the pattern `1 0` is
about half the negatives. Those negatives are the very tokens of a positive with the other
label, so no model can score above about 75 %. `txdata train` reports that ceiling,
measured on its held-out pairs, beside the accuracy. (With `--order`, a swapped window reads
as a true one exactly when the window length is a multiple of the pattern's.)

`txdata show --mode nsp`, example 0 (window "1 0 1 0 1 0 1 0 1"; [PAD]=0 [CLS]=2 [SEP]=3
[MASK]=4 "0"=7 "1"=8): a positive, positions 1 and 5 chosen and masked:

    original             [2, 8, 7, 8, 7, 8, 3, 7, 8, 7, 8, 3]
                         [CLS] 1 0 1 0 1 [SEP] 0 1 0 1 [SEP]
    input_ids            [2, 4, 7, 8, 7, 4, 3, 7, 8, 7, 8, 3]
                         [CLS] [MASK] 0 1 0 [MASK] [SEP] 0 1 0 1 [SEP]
    token_type_ids       [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    labels               [-100, 8, -100, -100, -100, 8, -100, -100, -100, -100, -100, -100]
    next_sentence_label  0: B follows A
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import chain
from typing import ClassVar

from txdata.errors import ConfigError
from txdata.lazy_import import lazy_import
from txdata.objectives.base import Columns
from txdata.objectives.mlm import (
    NO_WORD,
    MaskedLM,
    MaskingConfig,
    choose_mask_positions,
    word_starts,
)
from txdata.objectives.registry import register
from txdata.special_tokens import IGNORE_INDEX
from txdata.tokenizer import encode_texts

# Imported at first use (txdata/lazy_import.py): `import txdata` costs none of them.
datasets = lazy_import("datasets", globals())
np = lazy_import("numpy", globals())
torch = lazy_import("torch", globals())

SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")  # where `Source.pairs()` splits sentences too
PAIR_SPECIALS = 3  # [CLS], and a [SEP] after each segment
PARTNER_TRIES = 10  # rows a negative tries for one of another document, as Google tries


@dataclass
class SentencePairOptions(MaskingConfig):
    """nsp's options: mlm's masking, and which negatives the pair label is trained on."""

    order: bool = field(
        default=False,
        metadata={
            "help": "ALBERT's sentence order: a negative is A and B swapped, not a random B."
        },
    )


@register
class NextSentence(MaskedLM):
    name = "nsp"
    summary = "BERT's pairs: [CLS] A [SEP] B [SEP]; fill the masks and say whether B follows A."
    architecture = "encoder"
    Options = SentencePairOptions
    batch_size = 128  # as mlm: most of the loss is still on 15 % of the tokens
    reserved = PAIR_SPECIALS
    sentence_pairs = True
    metric = "next_sentence_accuracy"
    metric_label = "next-sentence accuracy {} (chance 50 %)"
    columns = ("input", "segment", "chosen", "label")
    example_columns: ClassVar[dict[str, str]] = {
        "input_ids": "[CLS] A [SEP] B [SEP]: a true pair, uncut; collation cuts it to --length, "
        "draws the negatives and masks",
        "word_ids": "the word of each token, numbered within its document; -1 for [CLS] and "
        "[SEP] (--whole-word reads it)",
        "a_length": "tokens in A",
        "document": "the row of the source document the pair comes from (a negative's B is "
        "taken from another document)",
    }

    def setup(self) -> None:
        super().setup()
        if self.length < PAIR_SPECIALS + 2:
            raise ConfigError(
                f"length {self.length} is too short for nsp: [CLS] A [SEP] B [SEP] takes 5"
            )

    def examples(self, source, num_proc: int | None = None) -> datasets.Dataset:
        texts = source.texts()
        return texts.map(
            self._pairs,
            batched=True,
            with_indices=True,
            remove_columns=texts.column_names,
            num_proc=num_proc,
        )

    def _pairs(self, batch: dict[str, list[str]], indices: list[int]) -> dict[str, list]:
        """Each document's true pairs `[CLS] A [SEP] B [SEP]`, uncut, its id, and |A|."""
        budget = self.length - PAIR_SPECIALS
        sentences = [[s for s in SENTENCE_END.split(text) if s.strip()] for text in batch["text"]]
        encodings = iter(encode_texts(self.tokenizer, [s for doc in sentences for s in doc]))
        rows: dict[str, list] = {"input_ids": [], "word_ids": [], "a_length": [], "document": []}
        cls, sep = self.special.cls, self.special.sep
        for document, count in zip(indices, map(len, sentences)):
            document_encodings = [next(encodings) for _ in range(count)]
            words = numbered_words([encoding.word_ids for encoding in document_encodings])
            units = [
                piece
                for encoding, sentence_words in zip(document_encodings, words)
                for piece in pieces(encoding.ids, sentence_words, budget)
            ]
            for a, b in document_pairs(units, budget):
                (a_ids, a_words), (b_ids, b_words) = a, b
                rows["input_ids"].append([cls, *a_ids, sep, *b_ids, sep])
                rows["word_ids"].append([NO_WORD, *a_words, NO_WORD, *b_words, NO_WORD])
                rows["a_length"].append(len(a_ids))
                rows["document"].append(document)
        return rows

    def collate(self, rows: Columns, generator: torch.Generator) -> dict[str, torch.Tensor]:
        pairs, begins, lengths = flatten(rows["input_ids"])  # the true pairs, end to end
        negative, first, second = self._pair_up(rows, begins, lengths, generator)
        first, second = truncate_pair(first, second, self.length - PAIR_SPECIALS, generator)
        reads = pair_reads(first, second, self.pad_to_multiple_of)  # (N, T)
        ends = first.length + second.length + PAIR_SPECIALS  # (N,): real tokens per row
        specials = (self.special.cls, self.special.sep, self.special.pad)
        original = pair_rows(pairs, reads, first.length, ends, specials)
        positions = np.arange(reads.shape[1])
        real = positions < ends[:, None]  # (N, T)
        token_type_ids = (positions > first.length[:, None] + 1) & real
        original = torch.from_numpy(original)
        eligible = torch.from_numpy(~self.is_special[original.numpy()])  # (N, T); pad too
        starts = None
        if self.masking.whole_word:
            words = pair_rows(
                flatten(rows["word_ids"])[0], reads, first.length, ends, (NO_WORD,) * 3
            )
            starts = word_starts(torch.from_numpy(words))
        chosen = choose_mask_positions(eligible, starts, self.masking, generator)
        return {
            "input_ids": self.corrupt(original, chosen, generator),
            "attention_mask": torch.from_numpy(real.astype(np.int64)),
            "token_type_ids": torch.from_numpy(token_type_ids.astype(np.int64)),
            "labels": original.masked_fill(~chosen, IGNORE_INDEX),
            "next_sentence_label": torch.from_numpy(negative.astype(np.int64)),
        }

    def _pair_up(
        self, rows: Columns, begins: np.ndarray, lengths: np.ndarray, generator: torch.Generator
    ) -> tuple[np.ndarray, Segments, Segments]:
        """Which rows are negatives, and each row's first and second segment, uncut: its own
        A and B, or for a negative, another row's B (nsp) or its own B then A (--order)."""
        a_length = np.asarray(rows["a_length"], dtype=np.int64)  # (N,)
        b_length = lengths - a_length - PAIR_SPECIALS
        a_start, b_start = begins + 1, begins + a_length + 2  # just past [CLS], past A's [SEP]
        own = np.arange(len(a_length))
        draw = torch.rand(len(own), 1 + PARTNER_TRIES, generator=generator).numpy()  # (N, 11)
        negative = draw[:, 0] < 0.5  # (N,)
        if self.options.order:  # ALBERT: the same two segments, swapped
            first = Segments(
                np.where(negative, b_start, a_start), np.where(negative, b_length, a_length)
            )
            second = Segments(
                np.where(negative, a_start, b_start), np.where(negative, a_length, b_length)
            )
            return negative, first, second
        # BERT: B from another row, of another document where the batch has one
        partner = random_partners(np.asarray(rows["document"]), draw[:, 1:])
        negative &= partner != own  # a batch of one row has no other B to take
        lender = np.where(negative, partner, own)
        return negative, Segments(a_start, a_length), Segments(b_start[lender], b_length[lender])

    @classmethod
    def loss_positions(cls, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The masked tokens, and `[CLS]`, whose output the next-sentence label scores."""
        scored = batch["labels"] != IGNORE_INDEX  # (B, T)
        scored[:, 0] = True
        return scored

    def frame(self, ids: list[int]) -> dict[str, torch.Tensor]:
        """The user's `A [SEP] B` as `[CLS] A [SEP] B [SEP]`, the longer side cut first, at its
        end; `[MASK]`s mark what to fill. Without a `[SEP]`, A alone: `[CLS] A [SEP]`."""
        sep, budget = self.special.sep, self.length - PAIR_SPECIALS
        if ids.count(sep) > 1:
            raise ConfigError("nsp reads two segments: write 'A [SEP] B', with one [SEP]")
        if sep not in ids:
            a = ids[: self.length - 2]
            input_ids = [self.special.cls, *a, sep]
            token_type_ids = [0] * len(input_ids)
        else:
            split = ids.index(sep)
            a, b = ids[:split], ids[split + 1 :]
            if not a or not b:
                raise ConfigError("nsp reads two segments: write 'A [SEP] B', neither empty")
            keep_a, keep_b = truncated_lengths(np.array([len(a)]), np.array([len(b)]), budget)
            a, b = a[: int(keep_a[0])], b[: int(keep_b[0])]
            input_ids = [self.special.cls, *a, sep, *b, sep]
            token_type_ids = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        input_ids = torch.tensor([input_ids])
        return {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "token_type_ids": torch.tensor([token_type_ids]),
        }


@dataclass
class Segments:
    """One segment per row of a batch, as a place in the true pairs laid end to end."""

    start: np.ndarray  # (N,): where its first token is
    length: np.ndarray  # (N,)


def flatten(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows end to end, where each begins, and their lengths: `pad_right` less the padding.

    >>> flatten([[2, 11, 3, 12, 3], [2, 13, 3, 14, 15, 3]])
    (array([ 2, 11,  3, 12,  3,  2, 13,  3, 14, 15,  3]), array([0, 5]), array([5, 6]))
    """
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))  # (N,)
    values = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
    return values, np.cumsum(lengths) - lengths, lengths


def numbered_words(sentences: list[list[int | None]]) -> list[list[int]]:
    """The word ids of a document's sentences (the tokenizer's, from 0 in each), numbered on
    along the document: two sentences never share a word, and a word that a cut into pieces
    splits keeps one id.

    >>> numbered_words([[0, 0, 1, None], [0], [0, 1]])
    [[0, 0, 1, -1], [2], [3, 4]]
    """
    numbered, offset = [], 0
    for word_ids in sentences:
        numbered.append([NO_WORD if word is None else word + offset for word in word_ids])
        offset += 1 + max((word for word in word_ids if word is not None), default=-1)
    return numbered


def pieces(ids: list[int], words: list[int], budget: int) -> list[tuple[list, list]]:
    """A sentence's (ids, word ids); longer than `budget` tokens, cut into as few pieces of
    even length as fit (11 tokens in 9: 6 and 5, not 9 and a stub of 2).

    >>> pieces([11, 12, 13, 14, 15], [0, 0, 1, 2, -1], budget=4)
    [([11, 12], [0, 0]), ([13, 14, 15], [1, 2, -1])]
    """
    ends = np.linspace(0, len(ids), -(-len(ids) // budget) + 1).round().astype(int)
    return [(ids[i:j], words[i:j]) for i, j in zip(ends[:-1].tolist(), ends[1:].tolist())]


def document_pairs(
    units: list[tuple[list[int], list[int]]], budget: int
) -> list[tuple[tuple[list, list], tuple[list, list]]]:
    """A document's (A, B) pairs, each side its (ids, word ids), from its sentences `units`.

    Sentences fill a chunk until it holds `budget` tokens and two sentences; a lone last one
    joins the chunk before. A chunk splits at the sentence boundary nearest its middle; a
    document of one sentence, in the middle of its tokens (none if it has one token).

    >>> units = [([11, 12], [0, 1]), ([13], [2]), ([14, 15, 16], [3, 4, 4]), ([17], [5])]
    >>> [(a[0], b[0]) for a, b in document_pairs(units, budget=3)]
    [([11, 12], [13]), ([14, 15, 16], [17])]
    >>> document_pairs([([11, 12, 13], [0, 1, 2])], budget=9)
    [(([11, 12], [0, 1]), ([13], [2]))]
    """
    chunks, current, tokens = [], [], 0
    for unit in units:
        current.append(unit)
        tokens += len(unit[0])
        if tokens >= budget and len(current) >= 2:
            chunks.append(current)
            current, tokens = [], 0
    if current and chunks and len(current) == 1:
        chunks[-1].append(current[0])  # a lone last sentence has nothing to pair with
    elif current:
        chunks.append(current)
    pairs = []
    for chunk in chunks:
        ids, words, boundaries = [], [], []
        for unit_ids, unit_words in chunk:
            words += unit_words
            ids += unit_ids
            boundaries.append(len(ids))
        if len(chunk) > 1:
            middle = len(ids) / 2
            split = min(boundaries[:-1], key=lambda boundary: abs(boundary - middle))
        elif len(ids) > 1:
            split = (len(ids) + 1) // 2
        else:
            continue
        pairs.append(((ids[:split], words[:split]), (ids[split:], words[split:])))
    return pairs


def pair_reads(first: Segments, second: Segments, multiple_of: int | None = None) -> np.ndarray:
    """For each position of `[CLS] first [SEP] second [SEP]`, where the token it holds is in
    the true pairs. (N, T), T the longest row (rounded up to `multiple_of`); at [CLS], [SEP]
    and padding the place means nothing.

    >>> # The pair [CLS] 11 [SEP] 12 13 [SEP], kept with B cut to 13: [CLS] 11 [SEP] 13 [SEP]
    >>> pair_reads(Segments(np.array([1]), np.array([1])), Segments(np.array([4]), np.array([1])))
    array([[0, 1, 3, 4, 5]])
    """
    longest = int((first.length + second.length).max()) + PAIR_SPECIALS
    if multiple_of:
        longest = -(-longest // multiple_of) * multiple_of
    t = np.arange(longest)  # (T,)
    # Position t holds the first segment's token t - 1; past its [SEP], the second's
    # token t - |first| - 2.
    first_reads = first.start - 1  # (N,)
    second_reads = second.start - first.length - 2
    in_first = t <= first.length[:, None]  # (N, T)
    return np.where(in_first, first_reads[:, None], second_reads[:, None]) + t


def pair_rows(
    values: np.ndarray,
    reads: np.ndarray,
    first_length: np.ndarray,
    ends: np.ndarray,
    specials: tuple[int, int, int],
) -> np.ndarray:
    """`values` (the true pairs end to end) at `reads` (N, T), with `specials` ([CLS], [SEP],
    [PAD]) in their places: [CLS] first, [SEP] after the first segment and last, padding from
    `ends`. (N, T).

    >>> values = np.array([2, 11, 3, 12, 13, 3])
    >>> reads = np.array([[0, 1, 3, 4, 5, 6]])
    >>> pair_rows(values, reads, np.array([1]), np.array([5]), specials=(2, 3, 0))
    array([[ 2, 11,  3, 13,  3,  0]])
    """
    cls, sep, pad = specials
    rows = np.arange(len(reads))
    real = np.arange(reads.shape[1]) < ends[:, None]  # (N, T)
    laid = np.where(real, values.take(reads, mode="clip"), pad)  # clip: pads read anything
    laid[:, 0] = cls
    laid[rows, first_length + 1] = laid[rows, ends - 1] = sep
    return laid


def random_partners(document: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """For each row, another row of the batch: the first of the tries in `draw` (N, K),
    uniform in [0, 1), that is of another document, else the first try, of the same one.
    Google tries 10 random documents before it settles for the same. Each try is uniform over
    the other rows, so the first that succeeds is uniform over the rows of other documents.
    Only in a batch of one is a row its own partner. (N,) -> (N,).

    >>> draw = np.array([[0.2, 0.9], [0.1, 0.3], [0.6, 0.8]])
    >>> random_partners(np.array([5, 5, 9]), draw)  # row 0 tries row 1, of its document, then 2
    array([2, 2, 1])
    """
    rows = np.arange(len(document))
    tries = (rows[:, None] + 1 + (draw * (len(rows) - 1)).astype(np.int64)) % len(rows)
    elsewhere = document[tries] != document[:, None]  # (N, K)
    return tries[rows, elsewhere.argmax(axis=1)]  # argmax: the first True, or 0 if none


def truncated_lengths(
    first: np.ndarray, second: np.ndarray, budget: int
) -> tuple[np.ndarray, np.ndarray]:
    """The lengths two segments are cut to, to fit `budget` tokens together: Google's
    `truncate_seq_pair`, which cuts the longer one token at a time (the second on a tie),
    in closed form. (N,), (N,) -> (N,), (N,).

    >>> truncated_lengths(np.array([3, 20, 2, 20]), np.array([4, 2, 20, 20]), budget=9)
    (array([3, 7, 2, 5]), array([4, 2, 7, 4]))
    """
    first_kept = np.minimum(first, np.maximum(budget - second, -(-budget // 2)))
    return first_kept, np.minimum(second, budget - first_kept)


def truncate_pair(
    first: Segments, second: Segments, budget: int, generator: torch.Generator
) -> tuple[Segments, Segments]:
    """Both segments cut to fit `budget` tokens, longer first; as in Google's code each cut
    token comes off the front or the back with even odds, so the front loses a binomial share."""
    kept = truncated_lengths(first.length, second.length, budget)
    removed = np.stack([first.length, second.length]) - kept  # (2, N)
    front = np.zeros_like(removed)  # how many of them come off each segment's front
    if removed.any():
        count = torch.from_numpy(removed.astype(np.float32))
        front = torch.binomial(count, torch.full_like(count, 0.5), generator=generator)
        front = front.numpy().astype(np.int64)
    return Segments(first.start + front[0], kept[0]), Segments(second.start + front[1], kept[1])
