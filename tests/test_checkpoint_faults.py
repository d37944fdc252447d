"""kill -9 at every write, rename and delete of a run: the run is never lost.

A forked child trains and kills itself (SIGKILL: no `finally`, no cleanup) just before its
k-th file-system call inside the test folder, for every k the unbroken run makes. Then, in
this process: the newest checkpoint written before the kill loads, `predict` answers, and
`--resume` ends with weights bit-identical to a run that was never killed.
"""

import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
import torch

import models.run_directory
from models.checkpoint import latest_checkpoint, load_run
from models.predict import predict
from models.run import train_run
from tests.test_training import tiny
from txdata.errors import RunError

# Each of these changes the disk; a kill can land just before any of them.
OS_CALLS = ("replace", "rename", "fsync", "mkdir", "unlink", "rmdir")


class KillAt:
    """Counts the file-system calls that touch `root`; kills the process before call `k`."""

    def __init__(self, root: Path, k: int | None, log: Path) -> None:
        self.root, self.k, self.log, self.calls = str(root), k, log, []

    def install(self) -> None:
        for name in OS_CALLS:
            setattr(os, name, self.counted(name, getattr(os, name)))
        shutil.rmtree = self.counted("rmtree", shutil.rmtree)
        exchange = models.run_directory.exchange
        models.run_directory.exchange = self.counted("exchange", exchange)

    def counted(self, name, function):
        def wrapper(*args, **kwargs):
            target = self.path_of(args[0]) if args else ""
            if target.startswith(self.root):
                destination = str(args[1]) if len(args) > 1 else ""
                self.calls.append((name, target, destination))
                if len(self.calls) == self.k:
                    os.kill(os.getpid(), signal.SIGKILL)
                self.log.write_text(json.dumps(self.calls))
            return function(*args, **kwargs)

        return wrapper

    @staticmethod
    def path_of(argument) -> str:
        if isinstance(argument, int):  # fsync takes a descriptor
            try:
                return os.readlink(f"/proc/self/fd/{argument}")
            except OSError:
                return ""
        return os.path.abspath(argument) if isinstance(argument, (str, os.PathLike)) else ""


def in_child(root: Path, k: int | None, action) -> list:
    """Run `action` in a forked child that dies before call `k` (never, when k is None);
    return the calls it made before it ended."""
    log = root / f"calls-{k}.json"
    log.write_text("[]")
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            KillAt(root / "work", k, log).install()
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert killed if k is not None else os.WEXITSTATUS(status) == 0
    return json.loads(log.read_text())


def completed_checkpoints(calls: list, before: int) -> list[int]:
    """Steps whose checkpoint folder was renamed into place by the first `before` calls."""
    return [
        int(match[1])
        for name, _, destination in calls[:before]
        if name == "rename" and (match := re.search(r"step-(\d+)$", destination))
    ]


def weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_run(directory).model.state_dict()


CONFIG = tiny("seq2seq", steps=4, checkpoint_every=2, eval_every=2)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Child and parent on one thread: float sums depend on how many threads split them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def straight(tmp_path_factory, one_thread) -> Path:
    directory = tmp_path_factory.mktemp("straight") / "run"
    train_run(CONFIG, directory)
    return directory


def test_a_kill_at_any_write_of_a_new_run_loses_no_checkpoint(tmp_path, straight):
    (tmp_path / "work").mkdir()
    calls = in_child(tmp_path, None, lambda: train_run(CONFIG, tmp_path / "work" / "count"))
    assert len(completed_checkpoints(calls, len(calls))) == 2
    for k in range(1, len(calls) + 1):
        run = tmp_path / "work" / f"run-{k}"
        in_child(tmp_path, k, lambda run=run: train_run(CONFIG, run))
        saved = completed_checkpoints(calls, k - 1)
        if not saved:
            with pytest.raises(RunError):  # one line, and nothing to lose yet
                load_run(run)
            continue
        assert load_run(run).step == saved[-1], k
        assert predict(run, "1 0 1 0")["output"], k
        train_run(CONFIG, run, resume=True)
        for name, tensor in weights(straight).items():
            assert torch.equal(tensor, weights(run)[name]), (k, name)
        assert not list((run / "checkpoints").glob(".*")), "leftovers were not cleaned"
        assert latest_checkpoint(run).name == "step-0000004"
    print(f"\nnew run: killed at {len(calls)} points, 0 checkpoints lost")  # the README's figure


def test_a_kill_at_any_write_of_an_overwrite_keeps_a_whole_run(tmp_path):
    (tmp_path / "work").mkdir()
    old = tmp_path / "old"
    train_run(tiny("seq2seq", steps=2, checkpoint_every=2), old)
    new = tiny("seq2seq", steps=4, checkpoint_every=2)
    count = tmp_path / "work" / "count"
    shutil.copytree(old, count)
    calls = in_child(tmp_path, None, lambda: train_run(new, count, overwrite=True))
    assert any(name == "exchange" for name, _, _ in calls)
    for k in range(1, len(calls) + 1):
        run = tmp_path / "work" / f"run-{k}"
        shutil.copytree(old, run)
        in_child(tmp_path, k, lambda run=run: train_run(new, run, overwrite=True))
        swapped = any(name == "exchange" for name, _, _ in calls[: k - 1])
        assert load_run(run).step == (4 if swapped else 2), k
        if not swapped:
            for path in old.rglob("*"):
                if path.is_file():
                    assert path.read_bytes() == (run / path.relative_to(old)).read_bytes()
        train_run(new, run, overwrite=True)  # and the next overwrite clears what was left
        assert sorted(p.name for p in run.parent.iterdir() if p.name.startswith(".")) == []
    print(f"\n--overwrite: killed at {len(calls)} points, 0 runs lost")  # the README's figure
