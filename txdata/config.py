"""Everything that decides which examples txdata builds, in one dataclass saved with each run."""

from __future__ import annotations

from dataclasses import dataclass, field

from txdata.errors import ConfigError
from txdata.objectives import objective_class
from txdata.objectives.mlm import MaskingConfig
from txdata.sources import SourceConfig


@dataclass
class DataConfig:
    """`DataConfig(mode="seq2seq", source=SourceConfig("sample:numbers"), tokenizer="char")`."""

    mode: str = "mlm"  # an objective's name: mlm or seq2seq
    source: SourceConfig = field(default_factory=SourceConfig)
    tokenizer: str = "auto"  # auto, wordpiece, bpe, char, or a tokenizer.json path
    vocab_size: int = 2000  # for trained tokenizers, special tokens included
    length: int = 12  # tokens per sequence, special tokens included
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    pad_to_multiple_of: int | None = None
    leaky: bool = False  # seq2seq demonstration only: feed the decoder its own labels

    def __post_init__(self) -> None:
        objective_class(self.mode)  # an unknown mode fails here, before any work
        if self.length < 3:
            raise ConfigError(
                f"length {self.length} is too short: it must hold [CLS], [SEP] and a token"
            )
        if self.pad_to_multiple_of is not None and self.pad_to_multiple_of < 1:
            raise ConfigError(
                f"pad to multiple of must be at least 1, got {self.pad_to_multiple_of}"
            )

    @property
    def window(self) -> int:
        """Symbols per alternating window: a mlm row `[CLS] window [SEP]` is `length` long."""
        return self.length - 2
