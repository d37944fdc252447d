"""Test-wide isolation: caches live in a temporary folder, never in the user's home."""

import os
import tempfile

_CACHE = tempfile.mkdtemp(prefix="txdata-tests-")
os.environ["TXDATA_CACHE"] = os.path.join(_CACHE, "txdata")
os.environ["HF_DATASETS_CACHE"] = os.path.join(_CACHE, "datasets")  # read when datasets loads

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One pytest worker per core, one thread per worker and per process it starts: a second
    # torch thread would only spin-wait for a core that the other worker holds, which made
    # the suite several times slower.
    os.environ["OMP_NUM_THREADS"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from txdata.tokenizer import alternating_tokenizer  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def wide_tokenizer() -> Tokenizer:
    """A WordLevel tokenizer with 1,000 ordinary symbols, "s0" … "s999", after the specials."""
    return alternating_tokenizer(" ".join(f"s{i}" for i in range(1000)))
