"""Invoice arithmetic: the one rounding rule the sandbox uses everywhere (generation,
activity and ``POST /jobs/{id}/invoices``), documented in docs/api.md.

Amounts are ``Decimal`` at the edges; every step rounds to cents with ROUND_HALF_UP, the
way invoices are printed, so a total can always be re-added from its printed parts. The
rule itself runs on integer cents with exact rational rounding (``invoice_totals_cents``),
which gives the same cents as decimal arithmetic and lets the generator price a hundred
thousand invoices without a ``Decimal`` in its hot loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_cents(value: Decimal) -> Decimal:
    """Round to cents, half up (1.005 → 1.01)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineInput:
    """One invoice line before totals: quantity × unit price, taxable or not."""

    quantity: Decimal
    unit_price: Decimal
    taxable: bool = True


@dataclass(frozen=True)
class DiscountInput:
    """A discount: either a percent of the subtotal or a fixed amount."""

    percent: Decimal | None = None
    amount: Decimal | None = None


@dataclass(frozen=True)
class InvoiceTotals:
    """The computed amounts of an invoice; ``line_totals`` are in input order."""

    line_totals: tuple[Decimal, ...]
    sub_total: Decimal
    discount_total: Decimal
    sales_tax: Decimal
    total: Decimal

    def balance(self, applied: Decimal = ZERO) -> Decimal:
        """What is still owed after ``applied`` payments."""
        return to_cents(self.total - applied)


def cents(value: Decimal) -> int:
    """Integer cents of an amount, rounded half up."""
    return int(to_cents(value).scaleb(2))


def from_cents(amount: int) -> Decimal:
    """The ``Decimal`` of integer cents, with two places (``1234`` → ``12.34``)."""
    return Decimal(amount).scaleb(-2)


def cents_str(amount: int) -> str:
    """Integer cents as the API's decimal string (``-1234`` → ``"-12.34"``)."""
    whole, frac = divmod(abs(amount), 100)
    return f"{'-' if amount < 0 else ''}{whole}.{frac:02d}"


def div_round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to an integer, halves away from zero."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return q if numerator >= 0 else -q


def percent_of_cents(amount: int, percent: tuple[int, int]) -> int:
    """``round(amount × p / 100)`` in cents, ``percent`` as an integer ratio ``(num, den)``."""
    return div_round_half_up(amount * percent[0], percent[1] * 100)


def invoice_totals_cents(
    line_totals: Sequence[int],
    taxable: Sequence[bool],
    percent_discounts: Sequence[tuple[int, int]] = (),
    amount_discounts: int = 0,
    tax_rate_percent: tuple[int, int] = (0, 1),
    tax_exempt: bool = False,
) -> tuple[int, int, int, int]:
    """Steps 1-5 of ``compute_invoice_totals`` on integer cents (lines already rounded).

    Percents are integer ratios (``Decimal("8.25").as_integer_ratio()``). Returns
    ``(sub_total, discount_total, sales_tax, total)`` in cents.
    """
    sub_total = sum(line_totals)
    discount_total = amount_discounts
    for percent in percent_discounts:
        discount_total += percent_of_cents(sub_total, percent)
    discount_total = min(discount_total, sub_total)
    taxable_lines = sum(t for t, tx in zip(line_totals, taxable, strict=True) if tx)
    if tax_exempt or taxable_lines == 0 or sub_total == 0:
        sales_tax = 0
    else:
        taxable_base = taxable_lines - div_round_half_up(discount_total * taxable_lines, sub_total)
        sales_tax = percent_of_cents(taxable_base, tax_rate_percent)
    return sub_total, discount_total, sales_tax, sub_total - discount_total + sales_tax


def compute_invoice_totals(
    lines: Sequence[LineInput],
    discounts: Sequence[DiscountInput] = (),
    tax_rate_percent: Decimal = ZERO,
    tax_exempt: bool = False,
) -> InvoiceTotals:
    """Compute subtotal, discounts, sales tax and total by the documented rule.

    1. ``line = round(quantity × unit_price)``; ``sub_total = Σ line``.
    2. Percent discounts are taken off the subtotal (``round(sub_total × p / 100)``), amount
       discounts as given; ``discount_total`` is capped at ``sub_total``.
    3. Discounts are spread over the taxable lines in proportion to their amount.
    4. ``sales_tax = round(taxable_base × rate / 100)``, zero when tax exempt.
    5. ``total = sub_total − discount_total + sales_tax``.

    Every rounding is exact (integer cents, rational division), so no intermediate result
    depends on a decimal context's precision.
    """
    line_cents = [cents(line.quantity * line.unit_price) for line in lines]
    percents = [d.percent.as_integer_ratio() for d in discounts if d.percent is not None]
    amounts = sum(cents(d.amount) for d in discounts if d.percent is None and d.amount is not None)
    sub_total, discount_total, sales_tax, total = invoice_totals_cents(
        line_cents,
        [line.taxable for line in lines],
        percents,
        amounts,
        tax_rate_percent.as_integer_ratio(),
        tax_exempt,
    )
    return InvoiceTotals(
        tuple(from_cents(c) for c in line_cents),
        from_cents(sub_total),
        from_cents(discount_total),
        from_cents(sales_tax),
        from_cents(total),
    )
