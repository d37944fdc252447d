"""Bad input, as a hostile but realistic user types it: one line on stderr, a non-zero exit,
no traceback, and nothing outside the run directory changed.

`CASES` holds every case that once printed a traceback, crashed or hung, and more of their
kind; the hypothesis tests below throw arbitrary option values at `show` and `train`.
Damaged run directories are in `test_damaged_runs.py`; `--out`, `--png` and `--overwrite`
in `test_overwrite_safety.py`.
"""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from tests.cli_errors import one_line_error

runner = CliRunner()
TINY = ["--d-model", "16", "--heads", "2", "--layers", "1", "--count", "32"]
HUGE = "1000000000000"


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def jsonl(rows: list) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


# (name, argv as a function of the folder with the files and the run, exit code, message part)
CASES = [
    # sizes no machine can hold: refused before anything is allocated
    ("show huge length", lambda d: ["show", "--length", HUGE], 1, "would need"),
    ("show huge count", lambda d: ["show", "--count", HUGE], 1, "would need"),
    ("show huge padding", lambda d: ["show", "--pad-to-multiple-of", HUGE], 1, "would need"),
    (
        "show huge horizon",
        lambda d: ["show", "--mode", "seq2seq", "--task", "continue", "--horizon", HUGE],
        1,
        "would need",
    ),
    (
        "train huge width",
        lambda d: ["train", "--d-model", HUGE, "--out", d["out"]],
        1,
        "would need",
    ),
    ("train huge depth", lambda d: ["train", "--layers", HUGE, "--out", d["out"]], 1, "would need"),
    ("train huge ffn", lambda d: ["train", "--d-ff", HUGE, "--out", d["out"]], 1, "would need"),
    # numbers out of range
    ("train no heads", lambda d: ["train", "--heads", "0", "--out", d["out"]], 1, "heads"),
    ("train nan lr", lambda d: ["train", "--lr", "nan", "--out", d["out"]], 1, "lr"),
    ("train inf lr", lambda d: ["train", "--lr", "inf", "--out", d["out"]], 1, "lr"),
    ("train nan dropout", lambda d: ["train", "--dropout", "nan", "--out", d["out"]], 1, "dropout"),
    (
        "train nan smoothing",
        lambda d: ["train", "--label-smoothing", "nan", "--out", d["out"]],
        1,
        "label smoothing",
    ),
    ("train nan clip", lambda d: ["train", "--clip", "nan", "--out", d["out"]], 1, "clip"),
    # model options that are not there, or that the objective has no part for
    (
        "train bogus positional",
        lambda d: ["train", "--positional", "bogus", "--out", d["out"]],
        1,
        "positional must be one of sinusoidal, learned, rope, none",
    ),
    (
        "train bogus memory",
        lambda d: ["train", "--memory", "bogus", "--out", d["out"]],
        1,
        "memory must be one of attention, pooled",
    ),
    (
        "train pooled memory for mlm",
        lambda d: ["train", "--mode", "mlm", "--memory", "pooled", "--out", d["out"]],
        1,
        "memory pooled needs an encoder-decoder objective",
    ),
    (
        "train no causal mask for mlm",
        lambda d: ["train", "--mode", "mlm", "--no-causal-mask", "--out", d["out"]],
        1,
        "causal_mask off needs a decoder",
    ),
    (
        "train odd rope heads",
        lambda d: [
            "train",
            "--positional",
            "rope",
            "--d-model",
            "6",
            "--heads",
            "2",
            "--out",
            d["out"],
        ],
        1,
        "must be even",
    ),
    ("train seed 2^64", lambda d: ["train", "--seed", str(2**64), "--out", d["out"]], 1, "seed"),
    ("train negative seed", lambda d: ["train", "--seed", "-1", "--out", d["out"]], 1, "seed"),
    ("show seed 2^64", lambda d: ["show", "--seed", str(2**64)], 1, "seed"),
    ("show negative epoch", lambda d: ["show", "--epoch", "-1"], 1, "epoch"),
    ("show no examples", lambda d: ["show", "--batch-size", "0"], 1, "batch size"),
    ("show nan probability", lambda d: ["show", "--mlm-probability", "nan"], 1, "probability"),
    ("show length 0", lambda d: ["show", "--length", "0"], 1, "length"),
    # the alternating pattern
    ("special token in pattern", lambda d: ["show", "--pattern", "[MASK] 1"], 1, "[MASK]"),
    ("empty pattern", lambda d: ["show", "--pattern", ""], 1, "pattern"),
    ("blank pattern", lambda d: ["show", "--pattern", "   "], 1, "pattern"),
    # sources
    ("missing jsonl", lambda d: ["show", "--source", "missing.jsonl"], 1, "missing.jsonl"),
    ("jsonl of lists", lambda d: ["show", "--source", d["lists"]], 1, "text"),
    ("jsonl of objects", lambda d: ["show", "--source", d["dicts"]], 1, "text"),
    ("jsonl of nulls", lambda d: ["show", "--source", d["nulls"]], 1, "text"),
    (
        "tokenizer without [UNK]",
        lambda d: ["show", "--source", d["text"], "--tokenizer", d["no_unk"]],
        1,
        "cannot encode",
    ),
    # a trained run asked oddly
    (
        "predict top-k -1",
        lambda d: ["predict", "--run", d["run"], "--top-k", "-1", "1 0"],
        1,
        "top-k",
    ),
    (
        "predict top-k huge",
        lambda d: ["predict", "--run", d["run"], "--top-k", HUGE, "1 0"],
        1,
        "top-k",
    ),
    ("predict empty text", lambda d: ["predict", "--run", d["run"], ""], 1, "empty"),
    ("plot nulls", lambda d: ["plot", "--run", d["null_metrics"]], 1, "metrics.jsonl"),
    ("plot strings", lambda d: ["plot", "--run", d["string_metrics"]], 1, "metrics.jsonl"),
    ("plot cut middle line", lambda d: ["plot", "--run", d["cut_middle"]], 1, "metrics.jsonl"),
    # typer's own usage errors: one line too, exit code 2 as click gives them
    ("batch size nan", lambda d: ["train", "--batch-size", "nan"], 2, "--batch-size"),
    ("format xml", lambda d: ["show", "--format", "xml"], 2, "--format"),
    ("unknown option", lambda d: ["show", "--colour"], 2, "--colour"),
    ("unknown command", lambda d: ["frobnicate"], 2, "frobnicate"),
    ("missing argument", lambda d: ["predict", "--run", d["run"]], 2, "Missing argument 'text'"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """The bad files and the runs the cases read; every case writes only under `out`."""
    root = tmp_path_factory.mktemp("hostile")
    run = root / "run"
    result = runner.invoke(app, ["train", *TINY, "--steps", "2", "--no-plots", "--out", str(run)])
    assert result.exit_code == 0, result.output
    good = (run / "metrics.jsonl").read_text().splitlines()[0]
    paths = {"run": str(run), "out": str(root / "out")}
    for name, lines in (
        ("null_metrics", '{"step": 1, "loss": null}\n'),
        ("string_metrics", '{"step": 1, "loss": "low"}\n'),
        ("cut_middle", f'{good}\n{{"step": 3, "lo\n{good}\n'),
    ):
        folder = root / name
        folder.mkdir()
        (folder / "metrics.jsonl").write_text(lines)
        paths[name] = str(folder)
    paths["lists"] = write(root / "lists.jsonl", jsonl([{"text": ["a", "b"]}] * 3))
    paths["dicts"] = write(root / "dicts.jsonl", jsonl([{"text": {"a": 1}}] * 3))
    paths["nulls"] = write(root / "nulls.jsonl", jsonl([{"text": None}] * 3))
    paths["csv"] = write(root / "pairs.csv", "source,target\none,1\n,2\nthree,\n")
    paths["text"] = write(root / "story.txt", "The cat sat on the mat.\n")
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({"the": 0, "cat": 1}))  # no [UNK] to fall back on
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(root / "no-unk.json"))
    paths["no_unk"] = str(root / "no-unk.json")
    return paths


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("name", "argv", "code", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(
    files, tmp_path, monkeypatch, name, argv, code, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "thesis.tex").write_text("mine")
    root = Path(files["run"]).parent
    before, here = snapshot(root), snapshot(tmp_path)
    line = one_line_error(runner.invoke(app, argv(files)), code)
    assert message in line, line
    assert snapshot(root) == before and snapshot(tmp_path) == here
    assert not Path(files["out"]).exists()


def test_rows_with_an_empty_cell_are_skipped(files):
    result = runner.invoke(
        app, ["show", "--mode", "seq2seq", "--source", files["csv"], "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    tokens = json.loads(result.stdout)["tokens"]
    assert len(tokens["input_ids"]) == 1  # one whole pair is left: "one" -> "1"
    assert [t for t in tokens["labels"][0] if t is not None] == ["1", "[EOS]"]


def test_a_metrics_line_cut_by_a_kill_is_ignored_by_plot(files, tmp_path):
    run = Path(files["run"])
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "metrics.jsonl").write_text((run / "metrics.jsonl").read_text() + '{"step": 3, "lo')
    result = runner.invoke(app, ["plot", "--run", str(cut), "--png", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output


# Small numbers, and numbers no machine can hold; not the slow middle (10^5 layers would be
# valid and only slow to build).
NUMBERS = st.one_of(
    st.integers(-5, 64).map(str),
    st.integers(2**40, 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["nan", "inf", "-inf", "", " ", "1e400", "0x10", "½"]),
)
TEXT = st.text(max_size=12)
SHOW_OPTIONS = {
    "--length": NUMBERS,
    "--count": NUMBERS,
    "--offset": NUMBERS,
    "--horizon": NUMBERS,
    "--batch-size": NUMBERS,
    "--seed": NUMBERS,
    "--epoch": NUMBERS,
    "--mlm-probability": NUMBERS,
    "--mask-probability": NUMBERS,
    "--pad-to-multiple-of": NUMBERS,
    "--pattern": TEXT,
    "--task": TEXT,
    "--mode": TEXT,
}
TRAIN_OPTIONS = {
    "--d-model": NUMBERS,
    "--heads": NUMBERS,
    "--layers": NUMBERS,
    "--d-ff": NUMBERS,
    "--dropout": NUMBERS,
    "--lr": NUMBERS,
    "--warmup": NUMBERS,
    "--label-smoothing": NUMBERS,
    "--seed": NUMBERS,
    "--positional": TEXT,
    "--memory": TEXT,
    "--schedule": TEXT,
}


def fuzzed(options: dict) -> st.SearchStrategy[list[str]]:
    """Two of `options`, each with an arbitrary value."""
    pairs = st.lists(st.sampled_from(sorted(options)), min_size=1, max_size=2, unique=True)
    return pairs.flatmap(
        lambda names: st.tuples(*(options[n] for n in names)).map(
            lambda values: [part for n, v in zip(names, values) for part in (n, v)]
        )
    )


def survives(result) -> None:
    """Either it worked, or it said why in one line; never a traceback."""
    if result.exit_code == 0:
        return
    assert result.exit_code in (1, 2), (result.exit_code, result.output)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=fuzzed(SHOW_OPTIONS))
def test_show_survives_any_option_values(args):
    survives(runner.invoke(app, ["show", "--batch-size", "1", *args]))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=fuzzed(TRAIN_OPTIONS))
def test_train_survives_any_option_values(tmp_path_factory, args):
    out = tmp_path_factory.mktemp("fuzz") / "run"
    survives(
        runner.invoke(
            app,
            [
                "train",
                "--steps",
                "1",
                "--count",
                "16",
                "--eval-every",
                "1",
                "--no-plots",
                "--d-model",
                "8",
                "--heads",
                "2",
                "--d-ff",
                "8",
                "--layers",
                "1",
                *args,
                "--out",
                str(out),
            ],
        )
    )
