"""Figures as PNG files: attention masks, learned attention weights, training curves, and
reliability diagrams.

matplotlib is imported inside each function, with the Agg backend: it takes a second or more to
import, and there may be no display.

>>> plot_metrics(Path("runs/s2s"), Path("runs/s2s/curves.png"))
PosixPath('runs/s2s/curves.png')
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from models.attention_maps import attention_maps
from models.calibration import Calibration, ReliabilityBins, run_calibration
from models.checkpoint import load_run
from models.mask_views import MaskGrid
from txdata.atlas import Panel
from txdata.errors import RunError
from txdata.files import atomic_path

DPI = 110
ACCURACIES = {  # metrics.jsonl key -> (legend, line style); drawn where a run records them
    "accuracy": ("accuracy (labelled tokens)", "-"),
    "exact_match": ("exact match (free decoding)", "-"),
    "confidence": ("confidence (mean top probability)", ":"),
    "unigram_accuracy": ("baseline: commonest token", "--"),
}
PAD_GREY = "#999999"
RELIABILITY_GAPS = {  # how a reliability diagram marks a bin's confidence above or below its bar
    "too sure": {"facecolor": "#fcbba1", "edgecolor": "#de2d26"},
    "too unsure": {"facecolor": "none", "edgecolor": "white", "hatch": "////"},
}


def masks_png(grids: list[tuple[str, MaskGrid]], path: Path, title: str = "") -> Path:
    """One panel per (title, grid), side by side: dark where a query may attend, pale where
    a [PAD] query may (its output is never used), white where masked; [PAD] labels in grey."""
    plt, colors = _pyplot()
    from matplotlib.patches import Patch

    cmap = colors.ListedColormap(["#ffffff", "#9ecae1", "#08519c"])
    widths = [max(len(grid.keys), 4) for _, grid in grids]
    height = max(max(len(grid.queries), 4) for _, grid in grids)
    figure, axes = plt.subplots(
        1,
        len(grids),
        figsize=(sum(_inches(w) for w in widths) + 1, _inches(height) + 1.6),
        width_ratios=widths,
        layout="constrained",
        squeeze=False,
    )
    for axis, (name, grid) in zip(axes[0], grids):
        real = torch.tensor(grid.query_real, dtype=torch.int)[:, None]  # (T, 1)
        state = grid.allowed.int() * (1 + real)  # (T, L): 0 masked, 1 pad query, 2 allowed
        axis.imshow(state.numpy(), cmap=cmap, vmin=0, vmax=2)
        _token_axes(axis, grid.queries, grid.keys, grid.query_real, grid.key_real)
        axis.set_xticks([x - 0.5 for x in range(len(grid.keys) + 1)], minor=True)
        axis.set_yticks([y - 0.5 for y in range(len(grid.queries) + 1)], minor=True)
        axis.grid(which="minor", color="#d9d9d9", linewidth=0.6)
        axis.tick_params(which="minor", length=0)
        axis.set_title(name.replace(" · ", "\n"), fontsize=10)  # two lines: panels are narrow
        axis.set_anchor("N")  # panels of fewer queries line up at the top
    legend = [
        Patch(facecolor="#08519c", label="may attend"),
        Patch(facecolor="#9ecae1", label="a padding query may attend (its output is unused)"),
        Patch(facecolor="#ffffff", edgecolor="#999999", label="masked"),
    ]
    figure.legend(handles=legend, loc="outside lower center", ncols=3, frameon=False)
    figure.suptitle(title)
    return _save(figure, path)


ATLAS_COLOURS = {
    "scored": "#c7e9c0",  # a position of the predicting stream that carries a loss
    "hidden": "#fbb4c9",  # [MASK] or a sentinel: what the model sees in place of tokens
    "special": "#eeeeee",
    "plain": "#ffffff",
}


def atlas_png(panels: list[Panel], path: Path, source: str) -> Path:
    """The atlas as one picture: a panel per objective, a row of token boxes per stream, the
    positions that carry a loss in green with their targets written under them."""
    plt, _ = _pyplot()
    from matplotlib.patches import FancyBboxPatch, Patch

    rows = sum(len(p.reads) + 2 for p in panels)  # streams, "scored on", the title
    widest = max(_row_width(tokens) for p in panels for tokens in p.reads.values())
    figure = plt.figure(figsize=(1.6 + 0.11 * widest, 0.36 * rows + 0.9))
    axis = figure.add_axes((0, 0.06, 1, 0.86))
    axis.set_xlim(-15, widest + 1)
    axis.set_ylim(-rows, 0.6)
    axis.axis("off")
    y = 0.0
    for panel in panels:
        scored = f"{panel.scored} of {panel.tokens_read} tokens read scored"
        labels = "".join(f", {key} = {value}" for key, value in panel.example_labels.items())
        axis.text(-15, y, f"{panel.name}", fontsize=10, fontweight="bold", va="center")
        axis.text(
            -7, y, f"{panel.architecture} · {scored}{labels}", fontsize=8, va="center", color="#555"
        )
        y -= 1
        for stream, tokens in panel.reads.items():
            axis.text(-15, y, f"{stream} reads", fontsize=8, va="center")
            targets = panel.targets if stream == panel.predicts else [None] * len(tokens)
            x = 0.0
            for token, target in zip(tokens, targets):
                width = _box_width(token, target)
                colour = _atlas_colour(token, target)
                axis.add_patch(
                    FancyBboxPatch(
                        (x + 0.15, y - 0.38), width - 0.3, 0.76,
                        boxstyle="round,pad=0,rounding_size=0.15",
                        facecolor=colour, edgecolor="#999999", linewidth=0.6,
                    )
                )  # fmt: skip
                axis.text(x + width / 2, y, token, fontsize=7, ha="center", va="center")
                if target is not None:
                    axis.text(
                        x + width / 2, y - 1, target, fontsize=7, ha="center", va="center",
                        color="#006d2c", fontweight="bold",
                    )  # fmt: skip
                x += width
            y -= 1
        axis.text(-15, y, "scored on", fontsize=8, va="center", color="#006d2c")
        y -= 1
    legend = [
        Patch(facecolor=ATLAS_COLOURS["scored"], edgecolor="#999", label="carries a loss"),
        Patch(facecolor=ATLAS_COLOURS["hidden"], edgecolor="#999", label="[MASK] or sentinel"),
        Patch(facecolor=ATLAS_COLOURS["special"], edgecolor="#999", label="special token"),
    ]
    figure.legend(handles=legend, loc="lower center", ncols=3, frameon=False, fontsize=8)
    figure.suptitle(f"One example of {source} under each objective", fontsize=11)
    return _save(figure, path)


def _box_width(token: str, target: str | None) -> float:
    """Units of a token's box: room for the longer of the token and its target."""
    return max(2.0, 0.9 * max(len(token), len(target or "")) + 0.8)


def _row_width(tokens: list[str]) -> float:
    return sum(_box_width(token, None) for token in tokens) + 12  # targets may be wider


def _atlas_colour(token: str, target: str | None) -> str:
    if target is not None:
        return ATLAS_COLOURS["scored"]
    if token == "[MASK]" or token.startswith("<extra_id_"):
        return ATLAS_COLOURS["hidden"]
    if token.startswith("[") and token.endswith("]"):
        return ATLAS_COLOURS["special"]
    return ATLAS_COLOURS["plain"]


def plot_metrics(run_dir: Path, png_path: Path) -> Path:
    """Held-out loss (log scale) and accuracies against step, from the run's metrics.jsonl."""
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    plt, _ = _pyplot()
    steps = [record["step"] for record in records]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    marker = "o" if len(steps) < 30 else None
    losses = [record["loss"] for record in records]
    loss_axis.plot(steps, losses, marker=marker, color="C3")
    ylabel = "cross-entropy"
    if min(losses) > 0 and max(losses) / min(losses) > 10:
        loss_axis.set_yscale("log")  # on toy tasks the loss falls by orders of magnitude
        ylabel += " (log scale)"
    loss_axis.set(title="held-out loss", xlabel="step", ylabel=ylabel)
    for key, (label, style) in ACCURACIES.items():
        values = [(record["step"], record[key]) for record in records if key in record]
        if values:
            x, y = zip(*values)
            accuracy_axis.plot(x, [100 * v for v in y], style, marker=marker, label=label)
    accuracy_axis.set(title="held-out accuracy", xlabel="step", ylabel="%", ylim=(0, 102))
    accuracy_axis.legend(loc="best", fontsize=9)
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
    figure.suptitle(_run_title(run_dir))
    return _save(figure, png_path)


def plot_attention(run_dir: Path, text: str, png_path: Path) -> Path:
    """A heatmap per (attention, layer, head) of what the run's model attends to on `text`:
    one row per attention and layer, one column per head, weights from 0 (white) to 1."""
    maps = attention_maps(load_run(Path(run_dir)), text)
    plt, _ = _pyplot()
    rows = [
        (name, layer) for name, weights in maps.weights.items() for layer in range(len(weights))
    ]
    heads = next(iter(maps.weights.values())).shape[1]
    longest = max(len(maps.encoder_tokens), len(maps.decoder_tokens))
    panel = _inches(max(longest, 4)) + 0.9  # room for token labels
    figure, axes = plt.subplots(
        len(rows),
        heads,
        figsize=(panel * heads + 1.2, panel * len(rows) + 0.6),
        layout="constrained",
        squeeze=False,
    )
    for row, (name, layer) in enumerate(rows):
        queries, keys = maps.tokens(name)
        for head in range(heads):
            axis = axes[row, head]
            image = axis.imshow(
                maps.weights[name][layer, head].numpy(), cmap="Blues", vmin=0, vmax=1
            )
            _token_axes(axis, queries, keys)
            stack = "decoder " if name == "cross-attention" else ""
            axis.set_title(f"{stack}{name}, layer {layer + 1}, head {head + 1}", fontsize=9)
    figure.colorbar(image, ax=axes, shrink=min(1.0, 2 / len(rows)), label="attention weight")
    figure.suptitle(f"{_run_title(Path(run_dir))}: {text!r}")
    return _save(figure, png_path)


def plot_reliability(run_dir: Path, png_path: Path, draws: int = 1) -> Calibration:
    """The reliability diagram of a run's held-out predictions (`draws` mask draws of them),
    before and after temperature scaling; returns the calibration it drew."""
    calibration = run_calibration(Path(run_dir), draws)
    reliability_png(calibration, png_path, _run_title(Path(run_dir)))
    return calibration


def reliability_png(calibration: Calibration, path: Path, title: str) -> Path:
    """A reliability diagram before and after temperature scaling, side by side: accuracy per
    confidence bin against the diagonal of perfect calibration, the gap to each bin's mean
    confidence shaded, and the predictions per bin underneath."""
    plt, _ = _pyplot()
    figure, axes = plt.subplots(
        2,
        2,
        figsize=(10, 5.8),
        height_ratios=(3, 1),
        sharex=True,
        layout="constrained",
    )
    c = calibration
    panels = (
        (c.before, f"before: ECE {c.ece:.1%}, NLL {c.nll:.3f}, confidence {c.confidence:.1%}"),
        (
            c.after,
            f"after T = {c.temperature:.2f}: ECE {c.scaled_ece:.1%}, NLL {c.scaled_nll:.3f}, "
            f"confidence {c.scaled_confidence:.1%}",
        ),
    )
    for column, (bins, heading) in enumerate(panels):
        _reliability_axes(axes[0, column], axes[1, column], bins)
        axes[0, column].set_title(heading, fontsize=10)
    axes[0, 0].set_ylabel("accuracy in the bin")
    axes[1, 0].set_ylabel("predictions")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    legend = [
        Line2D([], [], linestyle="--", color=PAD_GREY, label="perfect calibration"),
        Patch(facecolor="C0", label="accuracy"),
        Patch(**RELIABILITY_GAPS["too sure"], label="too sure: up to mean confidence"),
        Patch(facecolor="C0", edgecolor="white", hatch="////", label="too unsure: down to it"),
    ]  # fmt: skip
    axes[0, 0].legend(handles=legend, loc="upper left", fontsize=8)
    figure.suptitle(
        f"{title}: {c.count:,} held-out predictions, accuracy {c.accuracy:.1%}\n"
        "after: each prediction scaled by the T fitted on the other half of them",
        fontsize=10,
    )
    return _save(figure, path)


def _reliability_axes(top, bottom, bins: ReliabilityBins) -> None:
    """One reliability panel (`top`) and its bin counts (`bottom`)."""
    width = float(bins.edges[1] - bins.edges[0])
    centres = (bins.edges[:-1] + width / 2).numpy()
    filled = (bins.counts > 0).numpy()
    accuracy, confidence = bins.accuracy.numpy(), bins.confidence.numpy()
    top.plot([0, 1], [0, 1], "--", color=PAD_GREY, linewidth=1)
    top.bar(centres[filled], accuracy[filled], width=width, color="C0", edgecolor="white")
    # From each bar's top to its bin's mean confidence: shaded above the bar where the model
    # was surer than right, hatched inside it where it was right more often than sure.
    gap, low = confidence - accuracy, np.minimum(accuracy, confidence)
    for over, style in (
        (True, RELIABILITY_GAPS["too sure"]),
        (False, RELIABILITY_GAPS["too unsure"]),
    ):
        shown = filled & ((gap > 0) if over else (gap < 0))
        top.bar(
            centres[shown], abs(gap[shown]), bottom=low[shown], width=width, zorder=3,
            linewidth=0.5, **style,
        )  # fmt: skip
    top.set(xlim=(0, 1), ylim=(0, 1))
    top.grid(alpha=0.3)
    counts = bins.counts.numpy()
    bottom.bar(centres, counts, width=width, color=PAD_GREY, edgecolor="white")
    for x, count in zip(centres[filled], counts[filled]):
        bottom.text(x, count, f"{count}", ha="center", va="bottom", fontsize=7)
    bottom.set_ylim(0, max(counts.max(), 1) * 1.3)  # room for the numbers
    bottom.set_xlabel("confidence (top softmax probability)")


def read_metrics(run_dir: Path) -> list[dict]:
    """The records of a run's metrics.jsonl, one per evaluation."""
    path = run_dir / "metrics.jsonl"
    if not run_dir.is_dir():
        raise RunError(f"no run directory at {run_dir}")
    if not path.is_file():
        raise RunError(f"run {run_dir} has no metrics.jsonl: it was never evaluated")
    text = path.read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and not text.endswith("\n"):
        lines = lines[:-1]  # a last line that a kill cut short; its evaluation never finished
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise RunError(f"{path} line {number} is not valid JSON ({error})") from None
        if not (isinstance(record, dict) and {"step", "loss"} <= record.keys()):
            raise RunError(f"{path} line {number} is not a txdata metrics record: no step or loss")
        if not all(_is_number(value) for value in record.values()):
            raise RunError(f"{path} line {number} holds a value that is not a number")
        records.append(record)
    if not records:
        raise RunError(f"{path} is empty: the run was never evaluated")
    return records


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _run_title(run_dir: Path) -> str:
    """`seq2seq on alternating (runs/s2s)`, from config.json where it can be read."""
    try:
        config = json.loads((run_dir / "config.json").read_text())
        return f"{config['data']['objective']} on {config['data']['source']['source']} ({run_dir})"
    except (OSError, ValueError, KeyError, TypeError):
        return str(run_dir)


def _token_axes(
    axis,
    queries: list[str],
    keys: list[str],
    query_real: list[bool] | None = None,
    key_real: list[bool] | None = None,
) -> None:
    """Token strings on both axes, keys across the top read downwards, [PAD] in grey."""
    axis.set_xticks(range(len(keys)), keys, rotation=90, fontsize=8)
    axis.set_yticks(range(len(queries)), queries, fontsize=8)
    axis.xaxis.tick_top()
    axis.xaxis.set_label_position("top")
    axis.set_xlabel("key", fontsize=8)
    axis.set_ylabel("query", fontsize=8)
    for labels, real in ((axis.get_xticklabels(), key_real), (axis.get_yticklabels(), query_real)):
        for label, is_real in zip(labels, real or [True] * len(labels)):
            if not is_real:
                label.set_color(PAD_GREY)


def _inches(tokens: int) -> float:
    """Width or height of a panel holding `tokens` rows or columns: 0.26 in each, at least 2."""
    return max(2.0, 0.26 * tokens)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.colors as colors
    import matplotlib.pyplot as plt

    return plt, colors


def _save(figure, path: Path) -> Path:
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=DPI, format="png")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path
