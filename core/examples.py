"""The example gallery (``assets/examples.toml``): title, program and a teaching note each."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

EXAMPLES_FILE = Path(__file__).resolve().parent.parent / "assets" / "examples.toml"


@dataclass(frozen=True)
class Example:
    title: str
    program: str
    note: str


@functools.lru_cache(maxsize=4)
def load_examples(path: Path | str = EXAMPLES_FILE) -> tuple:
    """Every example, in the file's order. The programs lose their leading blank line.

    Cached: the page asks for the gallery on every run. The result is immutable (a tuple of
    frozen records), so sharing it between sessions shares nothing that can change."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return tuple(Example(e["title"], e["program"].strip("\n") + "\n", " ".join(e["note"].split()))
                 for e in data["example"])
