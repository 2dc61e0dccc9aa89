r"""The op table's LaTeX rules, adapted for a reader: on-screen names, or plain terminal text.

Rules are written with generic letters (``\bar{a} \mathrel{+}= \bar{z}\, b``: a, b are the op's
arguments, z its output). ``substitute`` puts the names a reader sees in their place, and
``plain_text`` turns the LaTeX into something a terminal shows (``ā += z̄ b``).
"""

from __future__ import annotations

import re

_LETTER = re.compile(r"(?<![\\A-Za-z])[A-Za-z](?![A-Za-z])")
_BARRED = re.compile(r"\\(?:bar|overline)\{((?:[^{}]|\{[^{}]*\})*)\}")  # one level of nested braces
_PLAIN = (
    (_BARRED, "\\1\u0304"),
    (re.compile(r"\\checkmark"), "✓"),
    (re.compile(r"\\_"), "_"),
    (re.compile(r"_\{([^{}]*)\}"), "\\1"),
    (re.compile(r"\\mathrel\{\+\}="), "+="),
    (re.compile(r"\^\{-\\top\}"), "⁻ᵀ"),
    (re.compile(r"\^\\top"), "ᵀ"),
    (re.compile(r"\\(?:,|;|!|quad|textstyle)"), " "),
    (re.compile(r"\\(?:operatorname|text|mathrm|mathbf)\{([^{}]*)\}"), "\\1"),
    (re.compile(r"\\odot"), "⊙"),
    (re.compile(r"\\langle"), "⟨"),
    (re.compile(r"\\rangle"), "⟩"),
    (re.compile(r"\\sum"), "Σ"),
    (re.compile(r"\\prod"), "Π"),
    (re.compile(r"\\sqrt"), "√"),
    (re.compile(r"\\lfloor"), "⌊"),
    (re.compile(r"\\rfloor"), "⌋"),
    (re.compile(r"\\le(?![a-z])"), "≤"),
    (re.compile(r"\\ge(?![a-z])"), "≥"),
    (re.compile(r"\\ne(?![a-z])"), "≠"),
    (re.compile(r"\\lnot"), "¬"),
    (re.compile(r"\\#"), "#"),
    (re.compile(r"\\big|\\!"), ""),
    (re.compile(r"\\([A-Za-z]+)"), "\\1"),
    (re.compile(r"\\([{}])"), "\\1"),
)


def substitute(rule: str, names: dict) -> str:
    """Rename the generic one-letter names of a rule, never letters inside commands (``\\cos``)."""
    return _LETTER.sub(lambda m: names.get(m[0], m[0]), rule)


def plain_text(rule: str) -> str:
    r"""LaTeX to terminal text: ``\bar{x} \mathrel{+}= \bar{z} \cos x`` -> ``x̄ += z̄ cos x``."""
    text = rule
    for pattern, replacement in _PLAIN:
        text = pattern.sub(replacement, text)
    text = text.replace("{", "").replace("}", "")
    return " ".join(text.split())
