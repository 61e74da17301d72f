"""Card numbers for tests: an independent Luhn implementation (not the product's), shared by the redaction
tests so that both generate valid cards the same way."""

from __future__ import annotations


def luhn_complete(digits: str) -> str:
    """``digits`` with the check digit that makes the whole pass the Luhn check."""
    for check in "0123456789":
        candidate = digits + check
        total = 0
        for i, c in enumerate(reversed(candidate)):
            d = int(c)
            if i % 2:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable: one of ten check digits always completes a Luhn number")
