"""The errors txdata raises. The CLI prints their message on one line and exits with code 1."""


class TxdataError(Exception):
    """Base class: something the user can fix, described in one line."""


class ConfigError(TxdataError):
    """An option is out of range or two options contradict each other."""


class UnknownNameError(TxdataError):
    """A mode, sample, task or tokenizer kind that txdata does not have."""


class SourceError(TxdataError):
    """A corpus is missing, unreadable, empty, or lacks the column asked for."""


class TokenizerError(TxdataError):
    """A tokenizer file is invalid, or a tokenizer cannot serve an objective."""


class RunError(TxdataError):
    """A run directory is missing, incomplete, inconsistent, or would be overwritten."""


class TrainingError(TxdataError):
    """Training cannot go on (a NaN loss, a device that is not there)."""


class PeerFailure(TrainingError):
    """Another process of a distributed run stopped, so this one cannot go on."""


class OutputError(TxdataError):
    """A path to write cannot be written: it is a folder, lies under a file, or is not allowed."""
