"""CSV cells that a spreadsheet shows as text, never runs as a formula (CSV injection).

Model names, labels and key names come from callers; ``=HYPERLINK(...)`` or ``@SUM(...)`` in
a usage export would run when the file is opened. As OWASP recommends, a text cell that
begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``.
Numbers are written as they are.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` as a CSV writer should get it: text that could start a formula is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
