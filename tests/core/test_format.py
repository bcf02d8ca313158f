"""The one formatting module (core.format): how figures read in commands and alerts alike."""

from __future__ import annotations

import math

from core import format as fmt


def test_prices_keep_their_instrument_precision_and_missing_reads_n_a():
    assert fmt.price(7125.4, "IDR") == "7,125"
    assert fmt.price(91002.491, "USDT", symbol="BTC/USDT") == "91,002.49"
    assert fmt.price(None) == fmt.price(math.nan) == "n/a"
    assert fmt.money(-1250000, "IDR") == "-1,250,000 IDR" and fmt.money(12.5, "USDT", signed=True) == "+12.50 USDT"


def test_numbers_changes_and_quantities():
    assert fmt.number(1234.5) == "1,234" and fmt.number(12.345) == "12.35"
    assert fmt.number(math.inf) == fmt.number(None) == "n/a"
    assert fmt.change(3.7) == "+3.70%" and fmt.change(-1234.5) == "-1234.50%"
    assert fmt.signed(-0.5, 2, "%") == "-0.50%" and fmt.compact(1_234_567) == "1.23M"
    assert fmt.net(2_500_000) == "+2.50M" and fmt.net(-45_000) == "-45,000"
    assert fmt.quantity(1500) == "1,500" and fmt.quantity(0.000120) == "0.00012"


def test_rupiah_percentages_sizes_and_durations():
    assert fmt.rupiah(150000) == "Rp 150,000"
    assert [fmt.percent_text(bp) for bp in (1000, 250, 1225)] == ["10 %", "2.5 %", "12.25 %"]
    assert [fmt.size(n) for n in (12, 3 * 1024, 3 * 1024 * 1024 // 2)] == ["12 B", "3 KB", "1.5 MB"]
    assert [fmt.duration(s) for s in (45 * 60, 6.5 * 3600, 3 * 86400)] == ["45 min", "6.5 h", "3.0 days"]
