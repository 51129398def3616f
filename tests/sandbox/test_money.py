"""The invoice arithmetic rule, on hand-checked cases."""

from __future__ import annotations

import random
from decimal import Decimal as D

from st_sandbox.money import (
    DiscountInput,
    LineInput,
    cents_str,
    compute_invoice_totals,
    div_round_half_up,
    to_cents,
)


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


def _decimal_rule(
    lines: list[LineInput], discounts: list[DiscountInput], rate: D, exempt: bool
) -> tuple[D, ...]:
    """The rule as docs/api.md states it, step by step in ``Decimal`` (the oracle)."""
    line_totals = [to_cents(line.quantity * line.unit_price) for line in lines]
    sub_total = sum(line_totals, D("0.00"))
    discount_total = D("0.00")
    for d in discounts:
        discount_total += to_cents(sub_total * d.percent / 100) if d.percent else d.amount  # type: ignore[operator]
    discount_total = min(to_cents(discount_total), sub_total)
    taxable = sum((t for t, x in zip(line_totals, lines, strict=True) if x.taxable), D("0.00"))
    tax = D("0.00")
    if not exempt and taxable and sub_total:
        base = taxable - to_cents(discount_total * taxable / sub_total)
        tax = to_cents(base * rate / 100)
    return (*line_totals, sub_total, discount_total, tax, sub_total - discount_total + tax)


def test_integer_cents_rule_matches_decimal_arithmetic() -> None:
    """The rule runs on integer cents; thousands of random invoices give the same cents as
    the decimal statement of the rule, halves included."""
    rng = random.Random(5)
    for _ in range(3000):
        lines = [
            LineInput(
                D(rng.choice(("1", "2", "3", "1.5", "0.333", "12.25"))),
                D(rng.randrange(0, 200_000)) / 100,
                rng.random() < 0.6,
            )
            for _ in range(rng.randrange(1, 5))
        ]
        discounts = []
        if rng.random() < 0.4:
            discounts.append(DiscountInput(percent=D(rng.choice(("10", "15", "12.5", "33.3")))))
        if rng.random() < 0.3:
            discounts.append(DiscountInput(amount=D(rng.randrange(1, 10_000)) / 100))
        rate = D(rng.choice(("8.81", "8.25", "6.25", "0", "7.125")))
        exempt = rng.random() < 0.1
        totals = compute_invoice_totals(lines, discounts, rate, exempt)
        got = (
            *totals.line_totals,
            totals.sub_total,
            totals.discount_total,
            totals.sales_tax,
            totals.total,
        )
        assert got == _decimal_rule(lines, discounts, rate, exempt), (lines, discounts, rate)
        assert all(value.as_tuple().exponent == -2 for value in got)


def test_cents_helpers_round_half_away_from_zero_and_format_like_decimal() -> None:
    assert [div_round_half_up(n, 10) for n in (5, 4, -5, -4, 15)] == [1, 0, -1, 0, 2]
    for amount in (0, 1, 99, 100, 123456, -1, -250):
        assert cents_str(amount) == format(to_cents(D(amount) / 100), "f")
    assert cents_str(-5) == "-0.05" and cents_str(700) == "7.00"
