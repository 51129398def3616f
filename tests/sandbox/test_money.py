"""The invoice arithmetic rule, on hand-checked cases."""

from __future__ import annotations

from decimal import Decimal as D

from st_sandbox.money import DiscountInput, LineInput, compute_invoice_totals, to_cents


def test_half_up_rounding_to_cents() -> None:
    assert to_cents(D("1.005")) == D("1.01")
    assert to_cents(D("1.004")) == D("1.00")
    assert to_cents(D("-1.005")) == D("-1.01")


def test_two_lines_one_taxable_with_percent_discount() -> None:
    # 2 x 45.00 taxable + 1 x 129.00 not taxable = 219.00; 10 % off = 21.90
    # taxable base = 90.00 - round(21.90 * 90 / 219) = 90.00 - 9.00 = 81.00; tax 8.25 % = 6.68
    totals = compute_invoice_totals(
        [LineInput(D("2"), D("45.00"), True), LineInput(D("1"), D("129.00"), False)],
        [DiscountInput(percent=D("10"))],
        D("8.25"),
    )
    assert totals.sub_total == D("219.00")
    assert totals.discount_total == D("21.90")
    assert totals.sales_tax == D("6.68")
    assert totals.total == D("203.78")
    assert totals.balance(D("100.00")) == D("103.78")


def test_amount_discount_is_capped_at_the_subtotal_and_exempt_has_no_tax() -> None:
    totals = compute_invoice_totals(
        [LineInput(D("1"), D("20.00"))], [DiscountInput(amount=D("25.00"))], D("8.00")
    )
    assert totals.discount_total == D("20.00")
    assert totals.total == D("0.00")
    exempt = compute_invoice_totals([LineInput(D("3"), D("3.33"))], [], D("10"), tax_exempt=True)
    assert (exempt.sub_total, exempt.sales_tax, exempt.total) == (D("9.99"), D("0"), D("9.99"))


def test_fractional_quantities_round_per_line() -> None:
    totals = compute_invoice_totals(
        [LineInput(D("1.5"), D("1.99")), LineInput(D("0.333"), D("10.00"))], [], D("6.25")
    )
    # 2.985 -> 2.99 ; 3.33 -> 3.33 ; subtotal 6.32 ; tax 0.395 -> 0.40
    assert totals.line_totals == (D("2.99"), D("3.33"))
    assert totals.sales_tax == D("0.40")
    assert totals.total == D("6.72")
