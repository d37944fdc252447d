"""The model's settings, one dataclass saved in every run's config.json.

It lives apart from the model (`models/transformer.py`, which re-exports it) so that the CLI
can build its options from it, and a run's config can be read, without importing torch.

>>> ModelConfig(d_model=64, heads=4).parameters_at_most()
262144
"""

from __future__ import annotations

from dataclasses import dataclass, field

from txdata.errors import ConfigError
from txdata.memory import check_fits
from txdata.objectives import OBJECTIVES


@dataclass
class ModelConfig:
    vocab_size: int = 0  # 0 until a run sets it from the tokenizer
    d_model: int = field(default=64, metadata={"help": "Width of token vectors."})
    heads: int = field(default=4, metadata={"help": "Attention heads; d_model must divide by it."})
    layers: int = field(default=2, metadata={"help": "Blocks per stack (encoder, decoder)."})
    d_ff: int = field(
        default=256, metadata={"help": "Feed-forward width (4 × d_model, as in the paper)."}
    )
    dropout: float = field(
        default=0.0,  # 0 trains toy tasks fastest; the paper used 0.1
        metadata={"help": "Dropout rate."},
    )
    max_len: int = 512  # longest sequence the positional encoding covers
    activation: str = field(
        default="gelu", metadata={"help": "gelu (BERT) or relu (the original paper)."}
    )
    norm: str = field(
        default="pre",
        metadata={"help": "pre LayerNorm (before each sublayer, stable) or post (the paper's)."},
    )
    positional: str = field(
        default="sinusoidal",
        metadata={
            "help": "sinusoidal, learned, rope (rotary: queries and keys of self-attention "
            "turned by their position, Su et al. 2021) or none."
        },
    )
    memory: str = field(
        default="attention",
        metadata={
            "help": "Encoder-decoder only. attention: the decoder's cross-attention sees every "
            "encoder position. pooled: the decoder's cross-attention sees one mean-pooled "
            "vector of the encoder's output, a fixed-length bottleneck as in pre-attention "
            "seq2seq (Cho et al. 2014; Sutskever et al. 2014)."
        },
    )
    # The next two each switch off a part of the paper's attention, to show what it is for.
    # causal_mask off: each decoder position also sees those after it, so training teaches it
    # to copy the next token. Teacher-forced scores reward that; free-running decoding, where
    # the next token does not exist yet, fails. Decoding with the KV cache stays causal (a
    # step's keys are cached before later tokens exist), so the bug shows in training and
    # teacher-forced evaluation. attention_scale off: scores are q·k, not q·k/√K; their spread
    # grows with K until the softmax saturates (see `MultiHeadAttention`).
    causal_mask: bool = field(
        default=True,
        metadata={
            "help": "--no-causal-mask demonstrates a classic bug: decoder positions also see "
            "the tokens after them."
        },
    )
    attention_scale: bool = field(
        default=True,
        metadata={
            "help": "--no-attention-scale drops the 1/√K of scaled dot-product attention, to "
            "show the softmax saturating."
        },
    )
    # Set by a run whose objective reads sentence pairs (nsp): BERT's segment embeddings and
    # a next-sentence head on [CLS]. Off (every other objective, and runs saved before it),
    # the model has neither, so its weights and their names are as they were.
    sentence_pairs: bool = False

    def __post_init__(self) -> None:
        for name in ("d_model", "heads", "layers", "d_ff", "max_len"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.d_model % self.heads:
            raise ConfigError(f"d_model {self.d_model} is not divisible by {self.heads} heads")
        choices = {"activation": ("gelu", "relu"), "norm": ("pre", "post")}
        choices["positional"] = ("sinusoidal", "learned", "rope", "none")
        choices["memory"] = ("attention", "pooled")
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}")
        head_width = self.d_model // self.heads
        if self.positional == "rope" and head_width % 2:
            raise ConfigError(
                f"rope turns pairs of dimensions: the head width d_model/heads must be even, "
                f"not {head_width}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")
        # Weights, their gradients and AdamW's two moments: 16 bytes a parameter.
        check_fits(
            f"a model of d_model {self.d_model}, {self.layers} layers and d_ff {self.d_ff}",
            16 * self.parameters_at_most(),
        )

    def parameters_at_most(self) -> int:
        """Parameters of the largest shape these settings build (an encoder-decoder), with
        the positional table: enough to refuse what cannot fit, before allocating any."""
        d, f = self.d_model, self.d_ff
        block = 4 * d * d + 2 * d * f  # attention projections and the feed-forward layer
        cross = 4 * d * d
        return (self.vocab_size + self.max_len) * d + self.layers * (2 * block + cross)

    def check_architecture(self, architecture: str) -> None:
        """Refuse settings that `architecture` has no part for, rather than ignore them."""
        if self.memory != "attention" and architecture != "encoder-decoder":
            names = ", ".join(
                name for name, kind in OBJECTIVES.items() if kind.architecture == "encoder-decoder"
            )
            raise ConfigError(
                f"memory {self.memory} needs an encoder-decoder objective ({names}), "
                f"not {architecture}: only a decoder reading an encoder has a memory"
            )
        if not self.causal_mask and architecture == "encoder":
            raise ConfigError("causal_mask off needs a decoder: an encoder has no causal mask")
        if self.sentence_pairs and architecture != "encoder":
            raise ConfigError(f"sentence pairs need an encoder, not {architecture}")
