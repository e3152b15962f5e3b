"""plotly.js for the explorer's pages, under a strict Content-Security-Policy (no inline style).

plotly.js (shipped by the plotly package, served by the explorer: no CDN) injects its own
stylesheet into the page at load, as an inline ``<style>`` element; the explorer's policy
(``style-src 'self'``) blocks that, and the plots then lose their layout. plotly.js skips
the injection when the page holds an element ``#plotly.js-style-global`` of class
``no-inline-styles``, and expects the page to load the rules itself. So the explorer serves
them as ``/static/plotly.css``, read from the bundle the package ships (the rules object
plotly.js passes to its ``addStyleRule``, its ``X`` and ``Y`` placeholders expanded as plotly.js
expands them, in the order its ``insertRule(rule, 0)`` calls leave them), and the page holds
the marker element, plus one element for each other stylesheet the bundle injects only when
no element of its id exists (:func:`preempted_style_ids`).
"""

from __future__ import annotations

import functools
import re
from importlib import resources

__all__ = ["PLOTLY_JS", "plotly_css", "plotly_js", "preempted_style_ids"]

#: plotly.js inside the plotly package.
PLOTLY_JS = ("plotly", "package_data/plotly.min.js")
#: The start of plotly.js's rules object.
_RULES_START = '{"X,X div":'
_PLOT = ".js-plotly-plot .plotly"
_NOTIFIER = ".plotly-notifier"


@functools.cache
def plotly_js() -> bytes:
    """Return the plotly.js bundle of the installed plotly package."""
    package, name = PLOTLY_JS
    return resources.files(package).joinpath(name).read_bytes()


def _string(text: str, start: int) -> tuple[str, int]:
    """Read the JavaScript string literal (or bare key) at ``start``; return it and the end."""
    if text[start] not in "'\"":
        name = re.match(r"[A-Za-z_$][\w$]*", text[start:])
        if name is None:
            raise ValueError(f"plotly.js: unexpected {text[start]!r} in its style rules")
        return name.group(0), start + name.end()
    quote, out, i = text[start], [], start + 1
    while text[i] != quote:
        if text[i] == "\\":
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), i + 1


def _rules(text: str) -> list[tuple[str, str]]:
    """Return the ``(selector, declarations)`` pairs of plotly.js's rules object."""
    start = text.find(_RULES_START)
    if start < 0:
        raise ValueError("plotly.js: its style rules were not found in the bundle")
    rules, i = [], start + 1
    while text[i] != "}":
        key, i = _string(text, i)
        if text[i] != ":":
            raise ValueError(f"plotly.js: unexpected {text[i]!r} in its style rules")
        value, i = _string(text, i + 1)
        rules.append((key, value))
        if text[i] == ",":
            i += 1
    return rules


@functools.cache
def plotly_css() -> str:
    """Return the stylesheet plotly.js would inject, for ``/static/plotly.css``.

    Returns
    -------
    str
        One rule per line, in the order plotly.js leaves them in its sheet (each rule is
        inserted first, so the last one it adds comes first).

    Raises
    ------
    ValueError
        When the installed bundle does not hold the rules where expected.
    """
    text = plotly_js().decode("utf-8")
    lines = []
    for selector, declarations in _rules(text):
        full = re.sub(r"^,", " ,", selector).replace("X", _PLOT).replace("Y", _NOTIFIER)
        lines.append(f"{full}{{{declarations}}}")
    return "/* plotly.js's own rules, served so that no inline style is needed. */\n" + (
        "\n".join(reversed(lines)) + "\n"
    )


@functools.cache
def preempted_style_ids() -> tuple[str, ...]:
    """Return the ids of the other stylesheets the bundle injects unless the id exists."""
    text = plotly_js().decode("utf-8")
    return tuple(
        dict.fromkeys(
            re.findall(
                r'if\(!document\.getElementById\("([0-9a-f]{64})"\)\)\{var \w+=document'
                r'\.createElement\("style"\)',
                text,
            )
        )
    )
