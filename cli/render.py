"""How a batch looks to a person (a rich table per example) and to a script (JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text
from tokenizers import Tokenizer

from txdata.objectives import Objective
from txdata.special_tokens import IGNORE_INDEX, SpecialIds

if TYPE_CHECKING:  # for the annotations only: `--help` imports this module, and no torch
    import torch

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
    """`txdata show --format json`. Token strings of -100 labels are null. A bart batch adds
    `hidden_lengths`: per input position, the tokens its [MASK] hid, -1 where there is none."""
    tokens = {
        key: [[None if i == IGNORE_INDEX else tokenizer.id_to_token(i) for i in row] for row in ids]
        for key, ids in ((k, batch[k].tolist()) for k in TOKEN_KEYS if k in batch)
    }
    document = {
        "mode": mode,
        "source": source,
        "seed": seed,
        "batch": {key: value.tolist() for key, value in batch.items()},
        "tokens": tokens,
        "special_tokens": SpecialIds.of(tokenizer).as_dict(),
        "vocab_size": tokenizer.get_vocab_size(),
    }
    if hasattr(batch, "hidden_lengths"):
        document["hidden_lengths"] = batch.hidden_lengths.tolist()
    return document


def example_table(
    batch: dict[str, torch.Tensor], row: int, tokenizer: Tokenizer, objective: type[Objective]
) -> Table:
    """One row per position, the columns the objective declares, token strings; a sentence
    pair's label in the title."""
    title = f"example {row}"
    if "next_sentence_label" in batch:
        title += PAIR_LABELS[int(batch["next_sentence_label"][row])]
    table = Table(title=title, title_justify="left", pad_edge=False, box=None)
    table.add_column("pos", justify="right", style="dim")
    for column in objective.columns:
        for title in COLUMN_TITLES[column]:
            table.add_column(title, justify="right" if "attn" in title else "left")
    mask_id = SpecialIds.of(tokenizer).mask
    width = max(value.shape[1] for key, value in batch.items() if key in TOKEN_KEYS)
    for pos in range(width):
        cells = [str(pos)]
        for column in objective.columns:
            if column == "input":
                cells += _cells(batch, "input_ids", "attention_mask", row, pos, tokenizer)
            elif column == "decoder_input":
                cells += _cells(
                    batch, "decoder_input_ids", "decoder_attention_mask", row, pos, tokenizer
                )
            elif column == "chosen":
                choice = mlm_choice(
                    int(batch["input_ids"][row, pos]), int(batch["labels"][row, pos]), mask_id
                )
                cells.append(Text(choice, style=STYLES.get(choice, "")))
                cells[1].stylize(STYLES.get(choice, ""))
            elif column == "hid":
                hid = _hidden(batch, row, pos)
                cells.append(hid)
                cells[1].stylize(hid.style)
            elif column == "next":
                cells.append(_label(batch, row, pos + 1, tokenizer, blank="-"))
            elif column == "segment":
                cells.append(Text(str(int(batch["token_type_ids"][row, pos])), style="dim"))
            else:
                cells.append(_label(batch, row, pos, tokenizer))
        table.add_row(*cells)
    return table


COLUMN_TITLES = {
    "input": ("input_ids", "attn"),
    "decoder_input": ("decoder_input_ids", "dec attn"),
    "chosen": ("chosen",),
    "hid": ("hid",),
    "segment": ("token_type",),
    "label": ("labels",),
    "next": ("scored on (next label)",),
}
"""The columns an objective can ask `show` for (`Objective.columns`), and their headers."""


def loss_summary(
    batch: dict[str, torch.Tensor], objective: type[Objective], row: int | None = None
) -> str:
    """`loss on 3 of 12 tokens read (25 %)`: real tokens read, and those that carry a loss."""
    rows = slice(None) if row is None else slice(row, row + 1)
    with_loss = int(objective.loss_positions(batch)[rows].sum())
    masks = [key for key in batch if key.endswith("attention_mask")]
    read = sum(int(batch[key][rows].sum()) for key in masks)
    parts = " + ".join(f"{int(batch[key][rows].sum())} {MASK_NAMES[key]}" for key in masks)
    detail = f": {parts}" if len(masks) > 1 else ""
    share = 100 * with_loss / max(read, 1)
    summary = f"loss on {with_loss} of {read} tokens read ({share:.0f} %){detail}"
    if "next_sentence_label" in batch:
        labels = batch["next_sentence_label"][rows]
        if row is not None:
            return f"{summary}, [CLS]'s on next_sentence_label {int(labels[0])}"
        summary += (
            f", [CLS]'s on next_sentence_label; label 1 on {int(labels.sum())} of {len(labels)} "
            f"pairs ({NEGATIVES})"
        )
    return summary


PAIR_LABELS = (": next_sentence_label 0, B follows A", ": next_sentence_label 1, B does not")
NEGATIVES = (
    "nsp takes a negative's B from another document, --order swaps A and B; on a periodic "
    "source such as alternating, another window's B continues A all the same if it has A's phase"
)


MASK_NAMES = {"attention_mask": "encoder", "decoder_attention_mask": "decoder"}


def _cells(batch, key: str, mask_key: str, row: int, pos: int, tokenizer: Tokenizer) -> list:
    if pos >= batch[key].shape[1]:
        return [Text(""), Text("")]
    token = tokenizer.id_to_token(int(batch[key][row, pos]))
    attended = int(batch[mask_key][row, pos])
    return [Text(token, style="" if attended else "dim"), Text(str(attended), style="dim")]


def _hidden(batch, row: int, pos: int) -> Text:
    """How many tokens the [MASK] at input position `pos` hid (bart's `hidden_lengths`)."""
    hidden = batch.hidden_lengths
    if pos >= hidden.shape[1] or hidden[row, pos] < 0:
        return Text("")
    return Text(str(int(hidden[row, pos])), style=STYLES["[MASK]"])


def _label(batch, row: int, pos: int, tokenizer: Tokenizer, blank: str = "") -> Text:
    if pos >= batch["labels"].shape[1]:
        return Text(blank, style="dim")
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
