"""Calibration: ECE on hand-made and synthetic predictions, temperature scaling that recovers
a known temperature, the held-out predictions of a run, and `txdata plot --kind reliability`."""

import json
import math
import shutil

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from models.calibration import (
    BINS,
    calibrate,
    confidence_and_correct,
    expected_calibration_error,
    fit_temperature,
    heldout_logits,
    reliability_bins,
)
from models.checkpoint import load_run
from tests.cli_errors import one_line_error
from tests.test_figures import png_size
from txdata.errors import ConfigError

runner = CliRunner()
TINY = ["--d-model", "16", "--heads", "2", "--layers", "1", "--count", "64"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_ece_of_a_hand_made_example_is_exact():
    # 90 % sure twice, right once; 70 % sure twice, right twice: two bins of two.
    confidence = torch.tensor([0.9, 0.9, 0.7, 0.7], dtype=torch.float64)
    correct = torch.tensor([True, False, True, True])
    expected = 2 / 4 * abs(0.5 - 0.9) + 2 / 4 * abs(1.0 - 0.7)
    assert expected_calibration_error(confidence, correct) == pytest.approx(expected, abs=1e-12)
    # All right at 100 % confidence is perfect; all right at 70 %, 30 points underconfident.
    ones = torch.ones(4, dtype=torch.bool)
    assert expected_calibration_error(torch.ones(4), ones) == 0.0
    assert expected_calibration_error(torch.full((4,), 0.7), ones) == pytest.approx(0.3)


def test_ece_is_about_zero_when_calibrated_and_the_gap_when_overconfident():
    generator = torch.Generator().manual_seed(0)
    confidence = 0.1 + 0.9 * torch.rand(200_000, generator=generator)  # (N,) in (0.1, 1)
    draws = torch.rand(200_000, generator=generator)
    calibrated = draws < confidence  # right as often as sure
    overconfident = draws < 0.7 * confidence  # right 30 % less often than sure
    assert expected_calibration_error(confidence, calibrated) < 0.005
    # Each bin's gap is 0.3 × its confidence, so ECE = 0.3 × the mean confidence, 0.165.
    expected = 0.3 * float(confidence.mean())
    assert expected_calibration_error(confidence, overconfident) == pytest.approx(
        expected, abs=0.005
    )


@settings(max_examples=100, deadline=None)
@given(
    confidence=st.lists(st.floats(min_value=1e-6, max_value=1.0), min_size=1, max_size=200),
    bins=st.integers(1, 20),
    data=st.data(),
)
def test_bins_hold_every_prediction_once_within_their_edges(confidence, bins, data):
    correct = data.draw(st.lists(st.booleans(), min_size=len(confidence), max_size=len(confidence)))
    found = reliability_bins(torch.tensor(confidence), torch.tensor(correct), bins)
    assert found.counts.shape == (bins,) and int(found.counts.sum()) == len(confidence)
    filled = found.counts > 0
    assert (found.confidence[filled] > found.edges[:-1][filled] - 1e-9).all()
    assert (found.confidence[filled] <= found.edges[1:][filled] + 1e-9).all()
    assert (found.accuracy >= 0).all() and (found.accuracy <= 1).all()
    hits = sum(correct)
    assert float((found.accuracy * found.counts).sum()) == pytest.approx(hits)


def test_bins_are_closed_on_the_right():
    edges = torch.linspace(0, 1, BINS + 1, dtype=torch.float64)  # 0, 1/15, …, 1
    # An edge belongs to the bin below it: 1/15 to bin 0, 2/15 to bin 1, 1 to the last.
    found = reliability_bins(edges[[1, 2, BINS]], torch.ones(3, dtype=torch.bool))
    assert found.counts.nonzero().flatten().tolist() == [0, 1, BINS - 1]


def synthetic(temperature: float, count: int = 20_000, vocabulary: int = 12, seed: int = 0):
    """Logits `temperature` times too sharp: labels drawn from softmax(true logits), and the
    model's logits true × temperature, so dividing by `temperature` recovers the truth."""
    generator = torch.Generator().manual_seed(seed)
    true = 2 * torch.randn(count, vocabulary, generator=generator)  # (N, V)
    labels = torch.multinomial(true.softmax(-1), 1, generator=generator).flatten()  # (N,)
    return true * temperature, labels


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0])
def test_temperature_scaling_recovers_a_known_temperature(temperature):
    logits, labels = synthetic(temperature)
    assert fit_temperature(logits, labels) == pytest.approx(temperature, rel=0.05)


def test_scaling_keeps_accuracy_and_repairs_ece_and_nll():
    logits, labels = synthetic(3.0)
    found = calibrate(logits, labels)
    assert found.count == len(labels)
    assert found.temperature == pytest.approx(3.0, rel=0.05)
    assert found.ece > 0.15 and found.scaled_ece < 0.02
    assert found.scaled_nll < found.nll and found.scaled_confidence < found.confidence
    # Dividing by T > 0 keeps every argmax: the accuracy before is the accuracy after.
    after = found.after
    assert float((after.accuracy * after.counts).sum()) / found.count == pytest.approx(
        found.accuracy
    )
    assert int(after.counts.sum()) == found.count


def test_confidence_is_the_top_probability_and_correct_its_argmax():
    logits = torch.tensor([[math.log(3), 0.0], [0.0, math.log(3)]])  # 75 % on 0, 75 % on 1
    confidence, correct = confidence_and_correct(logits, torch.tensor([0, 0]))
    assert torch.allclose(confidence, torch.tensor([0.75, 0.75]))
    assert correct.tolist() == [True, False]


def test_calibrate_refuses_what_it_cannot_score():
    with pytest.raises(ConfigError, match="at least 2 predictions"):
        calibrate(torch.zeros(1, 3), torch.tensor([0]))
    with pytest.raises(ConfigError, match=r"\(N, V\)"):
        calibrate(torch.zeros(4, 3), torch.tensor([0, 1]))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for mode in ("mlm", "seq2seq", "clm"):
        result = invoke(
            "train", "--mode", mode, *TINY, "--steps", "20", "--eval-every", "10",
            "--no-plots", "--out", str(root / mode),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    return root


@pytest.mark.parametrize("mode", ["mlm", "seq2seq", "clm"])
def test_heldout_predictions_are_those_the_run_was_scored_on(runs, mode):
    logits, labels = heldout_logits(load_run(runs / mode))
    found = calibrate(logits, labels)
    last = json.loads((runs / mode / "metrics.jsonl").read_text().splitlines()[-1])
    assert found.accuracy == pytest.approx(last["accuracy"], abs=1e-6)
    assert found.confidence == pytest.approx(last["confidence"], abs=1e-5)
    assert found.nll == pytest.approx(last["loss"], abs=1e-4)


def test_more_draws_mask_the_same_examples_afresh(runs):
    run = load_run(runs / "mlm")
    once = heldout_logits(run)
    twice = heldout_logits(run, draws=2)
    first = len(once[1])
    assert torch.equal(twice[1][:first], once[1]) and len(twice[1]) > first
    assert not torch.equal(twice[1][first : 2 * first], once[1])  # other positions chosen


def test_plot_draws_a_reliability_diagram(runs, tmp_path):
    run = tmp_path / "mlm"
    shutil.copytree(runs / "mlm", run)
    result = invoke("plot", "--run", str(run), "--kind", "reliability", "--draws", "2")
    assert result.exit_code == 0, result.output
    output = result.stdout.replace("\n", "")
    assert f"reliability diagram drawn: {run / 'reliability.png'}" in output
    assert "held-out predictions" in output and "T = " in output
    width, height = png_size(run / "reliability.png")
    assert 800 < width < 2000 and 400 < height < width  # before and after, side by side
    assert not (run / "curves.png").exists()


def test_plot_refuses_bad_runs_on_one_line(runs, tmp_path):
    missing = str(tmp_path / "nothing")
    message = one_line_error(invoke("plot", "--run", missing, "--kind", "reliability"))
    assert "no run directory at" in message
    run = tmp_path / "mlm"
    shutil.copytree(runs / "mlm", run)
    message = one_line_error(
        invoke("plot", "--run", str(run), "--kind", "reliability", "--draws", "0")
    )
    assert "draws must be at least 1" in message
    # A run whose held-out rows have nothing scored: mlm that chooses no position.
    config = json.loads((run / "config.json").read_text())
    config["data"]["options"]["mlm_probability"] = 0.0
    (run / "config.json").write_text(json.dumps(config))
    message = one_line_error(invoke("plot", "--run", str(run), "--kind", "reliability"))
    assert "has no held-out predictions" in message
    shutil.rmtree(run / "checkpoints")
    message = one_line_error(invoke("plot", "--run", str(run), "--kind", "reliability"))
    assert "has no checkpoint yet" in message
    assert not (run / "reliability.png").exists()
