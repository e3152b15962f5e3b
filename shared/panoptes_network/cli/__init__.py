"""Command-line entry points behind bin/ (edge code: they may use cloud clients).

This package module itself imports nothing but the standard library, so tools outside the
package (the emulator stack, infra, the benchmarks) may use :func:`plain_text` for their own
help texts.
"""

from __future__ import annotations

import re

__all__ = ["plain_text", "summary"]

#: A reST role, ``:role:`target``` or ``:role:`title <target>```, e.g. ``:mod:`~a.b.c```.
_ROLE = re.compile(r":[a-z][a-z:]*:`(?P<body>[^`]+)`")
#: A reST literal, ````text````.
_LITERAL = re.compile(r"``(?P<text>[^`]+?)``")
#: ``::`` ending a line after a word: it announces a literal block and reads as ``:``.
_MARKER_AFTER_WORD = re.compile(r"(?<=\S)::$", re.MULTILINE)
#: ``::`` alone or after a space: it announces a literal block and reads as nothing.
_MARKER_ALONE = re.compile(r"\s*(?<!\S)::$", re.MULTILINE)


def _role_text(match: re.Match[str]) -> str:
    """Return what a reader should see of one role: its title, or its target's name."""
    body = match.group("body").strip()
    titled = re.fullmatch(r"(?P<title>.+?)\s*<[^<>]+>", body)
    if titled:
        return titled.group("title")
    if body.startswith("~"):
        return body.rsplit(".", 1)[-1]
    return body.lstrip(".")


def plain_text(docstring: str) -> str:
    """Turn reST inline markup into the plain text a terminal should show.

    ````x```` becomes ``x``; ``:role:`~a.b.c``` becomes ``c``, ``:role:`a.b``` becomes
    ``a.b`` and ``:role:`title <a.b>``` becomes ``title``; a line ending in ``::`` (a literal
    block follows) ends in ``:``. Everything else, line breaks included, is kept.

    Parameters
    ----------
    docstring : str
        A docstring, or a part of one.

    Returns
    -------
    str
        The text without the markup.
    """
    text = _ROLE.sub(_role_text, docstring)
    text = _LITERAL.sub(lambda match: match.group("text"), text)
    text = _MARKER_AFTER_WORD.sub(":", text)
    return _MARKER_ALONE.sub("", text)


def summary(docstring: str | None) -> str:
    """Return the first paragraph of a docstring as plain text, for an argparse description.

    Parameters
    ----------
    docstring : str or None
        A module's ``__doc__`` (None when Python runs with ``-OO``).

    Returns
    -------
    str
        The first paragraph without reST markup, its lines joined; empty without a docstring.
    """
    if not docstring:
        return ""
    first = docstring.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in plain_text(first).splitlines())
