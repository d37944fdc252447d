"""`txdata show --mode all`: the atlas as text, a grid per objective and a summary table."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from txdata.atlas import Panel

SCORED_STYLE = "bold green"
LABELS = 28  # characters taken by the two label columns, "encoder-decoder" and "scored on"


def atlas_tables(panels: list[Panel], width: int) -> list[Table]:
    """Grids of one token per column: a row per stream the model reads, and under the stream
    that predicts, the token each position is scored on (· where none), its scored positions
    underlined. A panel wider than `width` characters goes on in a second grid, and so on."""
    grids = []
    for panel in panels:
        columns = range(max(map(len, panel.reads.values())))
        cells = [_cell_width(panel, column) for column in columns]
        start = 0
        while start < len(cells):
            stop, used = start + 1, cells[start]
            while stop < len(cells) and used + cells[stop] <= width - LABELS:
                used, stop = used + cells[stop], stop + 1
            grids.append(_grid(panel, start, stop))
            start = stop
    return grids


def _cell_width(panel: Panel, column: int) -> int:
    """Characters a column takes: its longest token or target, and a space."""
    texts = [tokens[column] for tokens in panel.reads.values() if column < len(tokens)]
    if column < len(panel.targets) and panel.targets[column] is not None:
        texts.append(panel.targets[column])
    return max(map(len, texts)) + 1


def _grid(panel: Panel, start: int, stop: int) -> Table:
    """Columns `start` … `stop` − 1 of a panel; after the first grid, "…" stands for the name."""
    table = Table(box=None, pad_edge=False, show_header=False, padding=(0, 1, 0, 0))
    table.add_column("objective", min_width=16, no_wrap=True)
    table.add_column("row", min_width=10, no_wrap=True, style="dim")
    for _ in range(stop - start):
        table.add_column(justify="center", no_wrap=True)
    names = [Text(panel.name if start == 0 else "…", style="bold")]
    names.append(Text(panel.architecture if start == 0 else "", style="dim"))
    for stream, tokens in panel.reads.items():
        cells = [Text(token) for token in tokens[start:stop]]
        if stream == panel.predicts:
            for cell, target in zip(cells, panel.targets[start:stop]):
                cell.stylize("underline" if target is not None else "")
        table.add_row(names.pop(0), stream, *cells)
    scored = [
        Text("·", style="dim") if target is None else Text(target, style=SCORED_STYLE)
        for target in panel.targets[start:stop]
    ]
    table.add_row(names.pop(0) if names else "", "scored on", *scored)
    return table


def atlas_summary(panels: list[Panel]) -> Table:
    """Per objective: tokens read, those scored, and the labels of the whole example."""
    table = Table(box=None, pad_edge=False)
    for column in ("objective", "architecture", "tokens read", "scored", "share", "example label"):
        table.add_column(
            column, justify="right" if column in ("tokens read", "scored", "share") else "left"
        )
    for panel in panels:
        labels = ", ".join(f"{key} = {value}" for key, value in panel.example_labels.items())
        table.add_row(
            panel.name,
            panel.architecture,
            str(panel.tokens_read),
            str(panel.scored),
            f"{panel.scored / max(panel.tokens_read, 1):.0%}",
            labels or "-",
        )
    return table
