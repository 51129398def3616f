"""Invoice arithmetic: the one rounding rule the sandbox uses everywhere (generation,
activity and ``POST /jobs/{id}/invoices``), documented in docs/api.md.

All amounts are ``Decimal``; every step rounds to cents with ROUND_HALF_UP, the way
invoices are printed, so a total can always be re-added from its printed parts.
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
    """
    line_totals = tuple(to_cents(line.quantity * line.unit_price) for line in lines)
    sub_total = to_cents(sum(line_totals, ZERO))
    discount_total = ZERO
    for discount in discounts:
        if discount.percent is not None:
            discount_total += to_cents(sub_total * discount.percent / 100)
        elif discount.amount is not None:
            discount_total += to_cents(discount.amount)
    discount_total = min(to_cents(discount_total), sub_total)
    taxable_lines = to_cents(
        sum((t for t, line in zip(line_totals, lines, strict=True) if line.taxable), ZERO)
    )
    if tax_exempt or taxable_lines == ZERO or sub_total == ZERO:
        sales_tax = ZERO
    else:
        taxable_base = taxable_lines - to_cents(discount_total * taxable_lines / sub_total)
        sales_tax = to_cents(taxable_base * tax_rate_percent / 100)
    total = to_cents(sub_total - discount_total + sales_tax)
    return InvoiceTotals(line_totals, sub_total, discount_total, sales_tax, total)
