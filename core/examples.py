"""The example gallery (``assets/examples.toml``): title, program and a teaching note each; the
"find the bug" examples also hold a derivation with a bug (``claims``) and a correct one
(``solution``), in the claims language of ``core.claims``."""

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
    claims: str | None = None  # a typical wrong derivation, already typed in ("find the bug")
    solution: str | None = None  # a correct derivation of the same nodes: every claim right


@functools.lru_cache(maxsize=4)
def load_examples(path: Path | str = EXAMPLES_FILE) -> tuple:
    """Every example, in the file's order. Programs, claims and solutions lose their leading blank
    line.

    Cached: the page asks for the gallery on every run. The result is immutable (a tuple of
    frozen records), so sharing it between sessions shares nothing that can change."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return tuple(Example(e["title"], _text(e["program"]), " ".join(e["note"].split()), _text(e.get("claims")),
                         _text(e.get("solution")))
                 for e in data["example"])


def _text(text: str | None) -> str | None:
    return None if text is None else text.strip("\n") + "\n"
