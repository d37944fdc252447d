import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

USE_THE_INSTALLED_COPY = """
import json
import txdata
from txdata.samples import sample_names, sample_path
english = txdata.load_source(txdata.SourceConfig("sample:english"))
numbers = txdata.load_source(txdata.SourceConfig("sample:numbers"))
print(json.dumps({
    "package": txdata.__file__,
    "names": sample_names(),
    "paths": [str(sample_path(name)) for name in sample_names()],
    "english_documents": english.texts().num_rows,
    "numbers_pairs": numbers.pairs().num_rows,
}))
"""


def test_bundled_samples_load_after_a_non_editable_wheel_install(tmp_path):
    """The samples live outside the package in a checkout; the wheel must carry them inside."""
    wheels, site, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "HF_DATASETS_CACHE": str(tmp_path / "datasets-cache"),
        "TXDATA_CACHE": str(tmp_path / "cache"),
    }
    pip = [sys.executable, "-m", "pip"]
    build = [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    subprocess.run([*build, str(REPO_ROOT)], env=env, cwd=elsewhere, check=True)
    (wheel,) = wheels.glob("txdata-*.whl")
    install = [*pip, "install", "-q", "--no-deps", "--target", str(site), str(wheel)]
    subprocess.run(install, env=env, cwd=elsewhere, check=True)

    result = subprocess.run(
        [sys.executable, "-c", USE_THE_INSTALLED_COPY],
        env={**env, "PYTHONPATH": str(site)},
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout)

    package_dir = site / "txdata"
    assert Path(report["package"]).parent == package_dir
    assert report["names"] == ["english", "numbers"]
    for path in map(Path, report["paths"]):
        assert path.is_relative_to(package_dir / "sample_data")
        assert path.is_file()
    assert report["english_documents"] > 10
    assert report["numbers_pairs"] == 3000


def test_torch_is_pinned_without_a_local_build_label():
    """`torch==2.13.0+cpu` exists only on PyTorch's own index: a fresh machine with the
    standard index could not resolve it. `torch==2.13.0` resolves everywhere, and pip still
    takes the CPU build where that index (or a local wheel) offers it."""
    pins = (REPO_ROOT / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in pins
    assert not [pin for pin in pins if pin.startswith("torch==") and "+" in pin]


def test_shell_completion_is_offered():
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0 and "--install-completion" in result.output
