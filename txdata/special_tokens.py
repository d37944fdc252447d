"""Special tokens, their fixed ids, and the loss convention shared by every objective."""

from __future__ import annotations

from dataclasses import dataclass

from tokenizers import Tokenizer

from txdata.errors import TokenizerError

IGNORE_INDEX = -100
"""Label value that `torch.nn.functional.cross_entropy(ignore_index=-100)` skips (HF convention)."""

PAD, UNK, CLS, SEP, MASK, BOS, EOS = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[BOS]", "[EOS]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK, BOS, EOS)
"""In id order: tokenizers that txdata builds give `[PAD]` id 0 and `[EOS]` id 6."""


@dataclass(frozen=True)
class SpecialIds:
    """The id of each special token in one tokenizer.

    >>> from txdata.tokenizer import alternating_tokenizer
    >>> SpecialIds.of(alternating_tokenizer("1 0"))
    SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4, bos=5, eos=6)
    """

    pad: int
    unk: int
    cls: int
    sep: int
    mask: int
    bos: int
    eos: int

    @classmethod
    def of(cls, tokenizer: Tokenizer) -> SpecialIds:
        ids = [tokenizer.token_to_id(token) for token in SPECIAL_TOKENS]
        missing = [token for token, id_ in zip(SPECIAL_TOKENS, ids) if id_ is None]
        if missing:
            raise TokenizerError(f"tokenizer lacks special tokens {' '.join(missing)}")
        return cls(*ids)

    def as_dict(self) -> dict[str, int]:
        """Token string to id, `{"[PAD]": 0, ...}`, as `txdata show --format json` prints it."""
        return dict(zip(SPECIAL_TOKENS, self.all()))

    def all(self) -> tuple[int, ...]:
        return (self.pad, self.unk, self.cls, self.sep, self.mask, self.bos, self.eos)
