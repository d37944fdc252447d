"""span: SpanBERT's span masking. Runs of whole words are hidden; the encoder fills them in.

Batches are mlm's (the same keys; labels hold the original id where chosen, -100 elsewhere).
What differs is which tokens are chosen, and that a span is corrupted as one unit:

1. Each row has a budget of round(0.15 · n) tokens (halves to even, at least 1), n its
   tokens that are neither special nor padding.
2. Until the budget is reached, a span is drawn: a length ℓ in words from Geometric(p = 0.2)
   truncated at 10 (P(ℓ) ∝ 0.2 · 0.8^(ℓ-1) for ℓ = 1 … 10: mean 3.797, the paper's "3.8"),
   and a start word, uniformly among the words that no span holds yet. The span takes that
   word and the ones after it, whole (every token of each), ℓ words in all, but stops early
   at a special token, at padding, at a word of an earlier span (spans never overlap), and
   at the word that reaches the budget. So a row's last span may be short, and a row
   overshoots its budget only when that last word has several tokens, by fewer than it has.
3. Each span, as one unit, becomes all `[MASK]` (80 %), all random non-special tokens (10 %,
   each token drawn on its own) or stays as it is (10 %).

Spans are drawn at collation, fresh for every (seed, epoch, batch index), for every row of the
batch at once: each round of a short loop draws one span in each row still short of its budget.

Alternating window "1 0 1 0 1 0 1 0 1 0" (`txdata show --mode span`, example 0; [PAD]=0
[CLS]=2 [SEP]=3 [MASK]=4 "0"=7 "1"=8). Its 10 tokens have a budget of 2. The first span drew
ℓ = 1 and took the word at position 8; the second started at 5 and stopped at the budget:

    original   [2, 8, 7, 8, 7, 8, 7, 8, 7, 8, 7, 3]   [CLS] 1 0 1 0 1 0 1 0 1 0 [SEP]
    input_ids  [2, 8, 7, 8, 7, 4, 7, 8, 4, 8, 7, 3]   [CLS] 1 0 1 0 [MASK] 0 1 [MASK] 1 0 [SEP]
    labels     [-100, -100, -100, -100, -100, 8, -100, -100, 7, -100, -100, -100]

On the alternating sequence a hidden run, however long, is given away by its neighbours and
its position: span masking makes that task no harder than mlm's. On text, spans hide whole
phrases, which masking single tokens seldom does.

SpanBERT's released code (`masking.py`) differs in details: its budget is ceil(n · 0.15); a
span starts at the word of a random token (long words start more spans); its last span stops
at the exact budget, inside a word if need be; a span may run into earlier ones, and touching
spans merge into one unit; and its default draws the 80/10/10 choice per token, where the
paper, and this module, draw it per span. Its span boundary objective is not part of this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from txdata.collate import pad_right
from txdata.errors import ConfigError
from txdata.lazy_import import lazy_import
from txdata.objectives.base import Columns
from txdata.objectives.mlm import NO_WORD, MaskedLM, check_shares
from txdata.objectives.registry import register
from txdata.special_tokens import IGNORE_INDEX

# Imported at first use (txdata/lazy_import.py): `import txdata` costs none of them.
np = lazy_import("numpy", globals())
torch = lazy_import("torch", globals())

NOT_CHOSEN = -1  # span number of a position that no span holds


@dataclass
class SpanMaskingOptions:
    """span's options, SpanBERT's defaults. Named `span_…`: the CLI has one flat namespace."""

    span_budget: float = field(
        default=0.15, metadata={"help": "Share of each row's tokens chosen, in whole-word spans."}
    )
    span_geometric_p: float = field(
        default=0.2, metadata={"help": "Span lengths in words ~ Geometric(p), truncated."}
    )
    span_max_words: int = field(default=10, metadata={"help": "Longest span, in words."})
    span_mask_probability: float = field(
        default=0.8, metadata={"help": "Of the spans: share set to [MASK], every token."}
    )
    span_random_probability: float = field(
        default=0.1, metadata={"help": "Of the spans: share set to random tokens."}
    )

    def __post_init__(self) -> None:
        if not 0.0 < self.span_budget <= 1.0:
            raise ConfigError(f"span budget must lie in (0, 1], got {self.span_budget}")
        if not 0.0 < self.span_geometric_p <= 1.0:
            raise ConfigError(f"span geometric p must lie in (0, 1], got {self.span_geometric_p}")
        if self.span_max_words < 1:
            raise ConfigError(f"span max words must be at least 1, got {self.span_max_words}")
        check_shares(self, "span_mask_probability", "span_random_probability")


@register
class SpanMasking(MaskedLM):
    """mlm's rows (`windows`, with word ids), tables and `frame`; spans chosen at `collate`."""

    name = "span"
    summary = (
        "SpanBERT: hide runs of whole words, about 15 % of the tokens; the encoder fills them."
    )
    Options = SpanMaskingOptions

    def collate(self, rows: Columns, generator: torch.Generator) -> dict[str, torch.Tensor]:
        original, attention_mask = pad_right(
            rows["input_ids"], self.special.pad, self.pad_to_multiple_of
        )  # (B, T)
        word_ids, _ = pad_right(rows["word_ids"], NO_WORD, self.pad_to_multiple_of)  # (B, T)
        # numpy from here on: on arrays this small, a numpy call costs a fraction of a torch op.
        ids = original.numpy()
        eligible = ~self.is_special[ids]  # (B, T): neither special nor padding
        span = choose_spans(eligible, word_numbers(word_ids.numpy()), self.options, generator)
        return {
            "input_ids": torch.from_numpy(self.corrupt_spans(ids, span, generator)),
            "attention_mask": attention_mask,
            "token_type_ids": torch.zeros_like(original),
            "labels": torch.from_numpy(np.where(span == NOT_CHOSEN, IGNORE_INDEX, ids)),
        }

    def corrupt_spans(
        self, ids: np.ndarray, span: np.ndarray, generator: torch.Generator
    ) -> np.ndarray:
        """The 80/10/10 rule, one draw per span: all its tokens [MASK], all random, or kept.
        (B, T) ids and spans (`choose_spans`) -> (B, T) ids."""
        rows, width = ids.shape
        chosen = np.flatnonzero(span != NOT_CHOSEN)  # (N,): the chosen positions, flat
        number = span.reshape(-1)[chosen]  # (N,): the span of each
        spans = int(number.max(initial=0)) + 1  # the most spans in a row
        draw = torch.rand(rows * spans, generator=generator).numpy()  # (B·S,): one a span
        draw = draw[chosen // width * spans + number]  # (N,): the draw of each one's span
        # A random span draws each of its tokens on its own, as BERT's random tokens are.
        pick = torch.randint(len(self.random_ids), draw.shape, generator=generator).numpy()
        p_mask, p_random = self.options.span_mask_probability, self.options.span_random_probability
        corrupted = ids.copy()
        corrupted.reshape(-1)[chosen] = np.where(
            draw < p_mask,
            self.special.mask,
            np.where(draw < p_mask + p_random, self.random_ids[pick], ids.reshape(-1)[chosen]),
        )
        return corrupted


def span_length_probabilities(p: float, longest: int) -> np.ndarray:
    """P(ℓ) for ℓ = 1 … longest: Geometric(p) truncated at `longest` and renormalized, as
    SpanBERT draws span lengths. (Clipping instead, min(ℓ, 10), would give a mean of 4.46.)

    >>> probabilities = span_length_probabilities(0.2, 10)
    >>> round(float(probabilities @ np.arange(1, 11)), 3)  # the mean span length, in words
    3.797
    """
    weights = p * (1 - p) ** np.arange(longest)  # (L,)
    return weights / weights.sum()


def draw_span_lengths(
    shape: tuple[int, ...], p: float, longest: int, generator: torch.Generator
) -> np.ndarray:
    """Span lengths in words, each drawn from `span_length_probabilities(p, longest)`."""
    cumulative = span_length_probabilities(p, longest).cumsum()  # (L,)
    cumulative[-1] = 1.0  # a draw just below 1 must not fall past the end through rounding
    return np.searchsorted(cumulative, torch.rand(shape, generator=generator).numpy(), "right") + 1


def word_numbers(word_ids: np.ndarray) -> np.ndarray:
    """Each position's word, counted from 0 in its row; a position without a word ([CLS],
    [SEP], padding: `NO_WORD`) is a word of its own. (B, T) -> (B, T)

    >>> word_numbers(np.array([[-1, 0, 0, 1, 2, 2, 2, -1, -1]]))
    array([[0, 1, 1, 2, 3, 3, 3, 4, 5]])
    """
    continues = np.zeros(word_ids.shape, dtype=bool)
    continues[:, 1:] = (word_ids[:, 1:] == word_ids[:, :-1]) & (word_ids[:, 1:] != NO_WORD)
    return (~continues).cumsum(axis=1) - 1


def choose_spans(
    eligible: np.ndarray,
    word: np.ndarray,
    options: SpanMaskingOptions,
    generator: torch.Generator,
) -> np.ndarray:
    """The span that holds each position: (B, T), 0, 1, … in the order a row's spans were
    drawn, `NOT_CHOSEN` where no span holds the position.

    `eligible` (B, T) bool: the positions that may be chosen (not special, not padding).
    `word` (B, T): each position's word (`word_numbers`). A word with nothing eligible in it
    (a special token, a pad) is one that no span takes or crosses.

    Drawing a start uniformly among the free words, span after span, is the same as putting
    the words in a random order once and starting each span at the first word in that order
    that is still free; so the order is drawn up front, with the length of each row's k-th
    span. Round k of the loop then draws span k of every row still short of its budget, as a
    window of at most `span_max_words` words from its start. (A span depends on the spans
    before it, which decide where it may start and stop, hence a loop: a round costs about the
    same for 1 row as for 128, and a batch takes as many rounds as its row with the most
    spans, about 10 for full rows of 128 tokens.)
    """
    rows, width = eligible.shape
    longest = options.span_max_words
    # Words are indexed flat, row after row, W = T + L a row: at most T words, then L with
    # nothing to choose, so that a window never runs into the next row.
    words = width + longest
    flat_word = np.arange(rows)[:, None] * words + word  # (B, T)
    # The eligible tokens of each word that no span holds yet: 0 once a span takes it.
    open_size = np.bincount(flat_word[eligible], minlength=rows * words)  # (B·W,)
    # Each span starts at the first open word in this random order; the others come last.
    order = torch.rand(rows, words, generator=generator).numpy()  # (B, W)
    order[(open_size == 0).reshape(rows, words)] = np.inf
    tokens = open_size.reshape(rows, words).sum(axis=1)  # (B,)
    remaining = np.minimum(np.maximum(np.round(tokens * options.span_budget), 1), tokens)
    # A span takes at least one token, so a row needs at most `remaining` spans.
    spans = int(remaining.max(initial=0))
    lengths = draw_span_lengths((spans, rows), options.span_geometric_p, longest, generator)
    # Windows are (L, B), a column a row, so that runs add up along the rows at once.
    steps = np.arange(longest)[:, None]  # (L, 1)
    allowed = steps < lengths[:, None, :]  # (K, L, B): the words that span k may hold
    first_words = np.arange(rows) * words + steps  # (L, B): each row's first L words
    span = np.full(rows * words, NOT_CHOSEN)  # (B·W,)
    order_flat = order.reshape(-1)  # the same numbers, indexed as the words are
    for number in range(spans):
        if remaining.max() <= 0:
            break
        window = first_words + order.argmin(axis=1)  # (L, B): the words from each start
        # Open words from the start, up to the first it may not take (a special token,
        # padding, a word of an earlier span) and as many as its length allows, ...
        size = open_size[window]  # (L, B)
        takes = np.logical_and.accumulate((size > 0) & allowed[number], axis=0)
        # ... and up to the word that reaches the budget (a row that is done takes none).
        taken = size * takes
        running = taken.cumsum(axis=0)  # (L, B): the span's tokens up to each word
        takes &= running - taken < remaining
        chosen = window[takes]
        open_size[chosen], order_flat[chosen], span[chosen] = 0, np.inf, number
        # Counted before the budget's cut: where it cut, the row is done all the same.
        remaining -= running[-1]
    # Every token takes its word's span; a special token inside a word takes none.
    return np.where(eligible, span[flat_word], NOT_CHOSEN)
