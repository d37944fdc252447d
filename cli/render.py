"""How a batch looks to a person (a rich table per example) and to a script (JSON)."""

from __future__ import annotations

import torch
from rich.console import Console
from rich.table import Table
from rich.text import Text
from tokenizers import Tokenizer

from txdata.special_tokens import IGNORE_INDEX, SpecialIds

TOKEN_KEYS = ("input_ids", "decoder_input_ids", "labels")
STYLES = {"[MASK]": "bold magenta", "random": "bold yellow", "kept": "bold cyan"}


def console() -> Console:
    """A console for command output; piped, it is 100 columns wide instead of rich's 80."""
    terminal = Console(highlight=False)
    return terminal if terminal.is_terminal else Console(highlight=False, width=100)


def mlm_choice(input_id: int, label: int, mask_id: int) -> str:
    """What happened to a position: "" (not chosen), "[MASK]", "random" or "kept"."""
    if label == IGNORE_INDEX:
        return ""
    if input_id == mask_id:
        return "[MASK]"
    return "kept" if input_id == label else "random"


def batch_json(
    batch: dict[str, torch.Tensor], tokenizer: Tokenizer, mode: str, source: str, seed: int
) -> dict:
    """`txdata show --format json`. Token strings of -100 labels are null."""
    tokens = {
        key: [[None if i == IGNORE_INDEX else tokenizer.id_to_token(i) for i in row] for row in ids]
        for key, ids in ((k, batch[k].tolist()) for k in TOKEN_KEYS if k in batch)
    }
    return {
        "mode": mode,
        "source": source,
        "seed": seed,
        "batch": {key: value.tolist() for key, value in batch.items()},
        "tokens": tokens,
        "special_tokens": SpecialIds.of(tokenizer).as_dict(),
        "vocab_size": tokenizer.get_vocab_size(),
    }


def example_table(batch: dict[str, torch.Tensor], row: int, tokenizer: Tokenizer) -> Table:
    """One row per position, a column per key, token strings; seq2seq or mlm by its keys."""
    seq2seq = "decoder_input_ids" in batch
    table = Table(title=f"example {row}", title_justify="left", pad_edge=False, box=None)
    table.add_column("pos", justify="right", style="dim")
    table.add_column("input_ids")
    table.add_column("attn", justify="right")
    if seq2seq:
        table.add_column("decoder_input_ids")
        table.add_column("dec attn", justify="right")
    else:
        table.add_column("chosen")
    table.add_column("labels")
    mask_id = SpecialIds.of(tokenizer).mask
    width = max(batch["input_ids"].shape[1], batch["labels"].shape[1])
    for pos in range(width):
        cells = [str(pos)]
        cells += _cells(batch, "input_ids", "attention_mask", row, pos, tokenizer)
        if seq2seq:
            cells += _cells(
                batch, "decoder_input_ids", "decoder_attention_mask", row, pos, tokenizer
            )
        else:
            choice = mlm_choice(
                int(batch["input_ids"][row, pos]), int(batch["labels"][row, pos]), mask_id
            )
            cells.append(Text(choice, style=STYLES.get(choice, "")))
            cells[1].stylize(STYLES.get(choice, ""))
        cells.append(_label(batch, row, pos, tokenizer))
        table.add_row(*cells)
    return table


def loss_summary(batch: dict[str, torch.Tensor], row: int | None = None) -> str:
    """`loss on 3 of 20 tokens (15 %)`: loss-bearing positions over real positions."""
    rows = slice(None) if row is None else slice(row, row + 1)
    with_loss = int((batch["labels"][rows] != IGNORE_INDEX).sum())
    if "decoder_input_ids" in batch:
        real = int(batch["decoder_attention_mask"][rows].sum())
        read = int(batch["attention_mask"][rows].sum())
        share = 100 * with_loss / max(real, 1)
        return (
            f"loss on {with_loss} of {real} decoder tokens ({share:.0f} %); "
            f"the encoder reads {read} tokens"
        )
    real = int(batch["attention_mask"][rows].sum())
    return f"loss on {with_loss} of {real} tokens ({100 * with_loss / max(real, 1):.0f} %)"


def _cells(batch, key: str, mask_key: str, row: int, pos: int, tokenizer: Tokenizer) -> list:
    if pos >= batch[key].shape[1]:
        return [Text(""), Text("")]
    token = tokenizer.id_to_token(int(batch[key][row, pos]))
    attended = int(batch[mask_key][row, pos])
    return [Text(token, style="" if attended else "dim"), Text(str(attended), style="dim")]


def _label(batch, row: int, pos: int, tokenizer: Tokenizer) -> Text:
    if pos >= batch["labels"].shape[1]:
        return Text("")
    label = int(batch["labels"][row, pos])
    if label == IGNORE_INDEX:
        return Text("-100", style="dim")
    return Text(tokenizer.id_to_token(label), style="bold green")


def side_by_side_table(pair, row: int) -> Table:
    """seq2seq and mlm of one source, aligned: encoder position i beside mlm position i + 1."""
    s2s, mlm, tokenizer = pair.seq2seq, pair.mlm, pair.tokenizer
    mask_id = SpecialIds.of(tokenizer).mask
    title = f"example {row}: seq2seq on the left, mlm on the right"
    table = Table(title=title, title_justify="left", pad_edge=False, box=None)
    table.add_column("pos", justify="right", style="dim")
    titles = ("s2s in", "attn", "dec in", "attn", "label", "│", "mlm in", "attn", "chosen", "label")
    for title in titles:
        table.add_column(title, style="dim" if title == "│" else "")
    width = max(
        s2s["input_ids"].shape[1] + 1, s2s["labels"].shape[1] + 1, mlm["input_ids"].shape[1]
    )
    for pos in range(width):
        cells = [str(pos)]
        source_pos = pos - 1  # the row of [CLS] has no seq2seq counterpart
        if source_pos >= 0:
            cells += _cells(s2s, "input_ids", "attention_mask", row, source_pos, tokenizer)
            cells += _cells(
                s2s, "decoder_input_ids", "decoder_attention_mask", row, source_pos, tokenizer
            )
            cells.append(_label(s2s, row, source_pos, tokenizer))
        else:
            cells += [Text("")] * 5
        cells.append(Text("│"))
        if pos < mlm["input_ids"].shape[1]:
            token, attended = _cells(mlm, "input_ids", "attention_mask", row, pos, tokenizer)
            choice = mlm_choice(
                int(mlm["input_ids"][row, pos]), int(mlm["labels"][row, pos]), mask_id
            )
            token.stylize(STYLES.get(choice, ""))
            cells += [token, attended, Text(choice, style=STYLES.get(choice, ""))]
            cells.append(_label(mlm, row, pos, tokenizer))
        else:
            cells += [Text("")] * 4
        table.add_row(*cells)
    return table


def side_by_side_footer(pair) -> Table:
    """Per mode: tokens read, tokens that carry a loss, and what each position may attend to."""
    s2s, mlm = pair.seq2seq, pair.mlm
    encoder = int(s2s["attention_mask"].sum())
    decoder = int(s2s["decoder_attention_mask"].sum())
    s2s_loss = int((s2s["labels"] != IGNORE_INDEX).sum())
    mlm_read = int(mlm["attention_mask"].sum())
    mlm_loss = int((mlm["labels"] != IGNORE_INDEX).sum())
    table = Table(title="the whole batch", title_justify="left", box=None, pad_edge=False)
    for column in ("mode", "tokens read", "with a loss", "each position attends to"):
        table.add_column(column)
    table.add_row(
        "seq2seq",
        f"{encoder} source + {decoder} target",
        f"{s2s_loss} ({100 * s2s_loss / max(decoder, 1):.0f} % of target)",
        "encoder: every source token; decoder: targets 0..t (causal) + every source token",
    )
    table.add_row(
        "mlm",
        f"{mlm_read}",
        f"{mlm_loss} ({100 * mlm_loss / max(mlm_read, 1):.0f} % of input)",
        "every token, left and right (chosen ones hidden, swapped or kept)",
    )
    return table
