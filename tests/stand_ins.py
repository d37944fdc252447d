"""What tests hand an objective in place of a real `Source`."""

import datasets

from txdata import SourceConfig


class Texts:
    """A stand-in for a text file's `Source`: one document per text. Its config names a file,
    so an objective that packs corpora packs these texts (the alternating source is not)."""

    config = SourceConfig("stand-in.txt")

    def __init__(self, texts: list[str]):
        self._texts = datasets.Dataset.from_dict({"text": texts})

    @classmethod
    def of_words(cls, documents: list[list[str]]) -> "Texts":
        """One text per document, its words joined by spaces."""
        return cls([" ".join(words) for words in documents])

    def texts(self) -> datasets.Dataset:
        return self._texts
