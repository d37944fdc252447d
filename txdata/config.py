"""Everything that decides which examples txdata builds, in one dataclass saved with each run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from txdata.errors import ConfigError
from txdata.memory import check_fits
from txdata.objectives import Objective, objective_class
from txdata.sources import SourceConfig
from txdata.typed_json import from_json


@dataclass
class DataConfig:
    """`DataConfig("seq2seq", SourceConfig("sample:numbers"), tokenizer="char")`.

    `options` is the objective's own options dataclass (`MaskingConfig` for mlm, …); left out,
    the objective's defaults. In config.json it is a plain object, rebuilt through the
    objective's `Options` on load.
    """

    objective: str = field(default="mlm", metadata={"help": "An objective's name."})
    source: SourceConfig = field(default_factory=SourceConfig)
    tokenizer: str = field(
        default="auto",
        metadata={"help": "auto, wordpiece, bpe, char, or a tokenizer.json path."},
    )
    vocab_size: int = field(default=2000, metadata={"help": "Vocabulary of a trained tokenizer."})
    length: int = field(
        default=12, metadata={"help": "Tokens per sequence, special tokens included."}
    )
    pad_to_multiple_of: int | None = field(
        default=None, metadata={"help": "Round padded lengths up."}
    )
    options: Any = None

    def __post_init__(self) -> None:
        kind = self.kind  # an unknown objective fails here, before any work
        if isinstance(self.options, dict):
            self.options = from_json(kind.Options, self.options, "options.")
        elif self.options is None:
            self.options = kind.Options()
        elif not isinstance(self.options, kind.Options):
            raise ConfigError(
                f"{self.objective} takes {kind.Options.__name__}, not {type(self.options).__name__}"
            )
        if self.length < 3:
            raise ConfigError(
                f"length {self.length} is too short: it must hold [CLS], [SEP] and a token"
            )
        if self.pad_to_multiple_of is not None:
            if self.pad_to_multiple_of < 1:
                raise ConfigError(
                    f"pad to multiple of must be at least 1, got {self.pad_to_multiple_of}"
                )
            # Every batch is at least this wide: five int64 (B, T) tensors for one row.
            check_fits(
                f"--pad-to-multiple-of {self.pad_to_multiple_of}", self.pad_to_multiple_of * 40
            )

    @property
    def kind(self) -> type[Objective]:
        """The objective's class, from the registry."""
        return objective_class(self.objective)

    @property
    def window(self) -> int:
        """Symbols per alternating window: with the objective's special tokens, `length`."""
        return self.length - self.kind.reserved

    def build(self, tokenizer) -> Objective:
        """The objective, ready to build examples with `tokenizer`."""
        return self.kind(tokenizer, self.length, self.options, self.pad_to_multiple_of)
