"""Cell formats: currency number formats, dates, headers, the held-invoice fill.

XlsxWriter wants one Format object per distinct look, created up front and
reused; `Formats` creates them on first use and caches them, so a sheet can
ask for "money in JPY, highlighted" without a table of pre-built formats.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import xlsxwriter.format
import xlsxwriter.workbook

# Contract 1: currencies and their minor units. Anything else never reaches a
# workbook (it is a bad row), but an unknown code still gets 2 decimals.
MINOR_UNITS: dict[str, int] = {"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "JPY": 0}
DEFAULT_MINOR_UNIT = 2
MAX_PRICE_DECIMALS = 6  # prices are decimal(18, 6)

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
HIGHLIGHT = {"bg_color": "#FFC7CE", "font_color": "#9C0006"}  # Excel's "light red fill"


def minor_unit(currency: str | None) -> int:
    """Decimals of a currency's minor unit (JPY 0, the others 2)."""
    return MINOR_UNITS.get(currency or "", DEFAULT_MINOR_UNIT)


def quantize(amount: Decimal, currency: str | None) -> Decimal:
    """Round half-up to the currency's minor unit, as the contract rounds."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


def _number_pattern(decimals: int) -> str:
    return "#,##0" + ("." + "0" * decimals if decimals else "")


def money_format(currency: str | None, decimals: int | None = None) -> str:
    """An Excel number format showing the ISO code, e.g. `"USD "#,##0.00`.

    The ISO code rather than a symbol: USD, CAD and AUD all write `$`, and an
    accountant forwarding a workbook should not have to guess which.
    Negative amounts are in accounting style, in parentheses: `USD (1,234.50)`;
    positive ones leave the width of the `)` blank (`_)`) so digits line up.
    """
    places = minor_unit(currency) if decimals is None else decimals
    number = _number_pattern(places)
    if currency in MINOR_UNITS:
        return f'"{currency} "{number}_);"{currency} "({number})'
    return f"{number}_);({number})"


def price_decimals(price: Decimal | None, currency: str | None) -> int:
    """Decimals needed to show a unit price exactly (at least the minor unit)."""
    places = minor_unit(currency)
    if price is None:
        return places
    exponent = price.normalize().as_tuple().exponent
    needed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return max(places, min(needed, MAX_PRICE_DECIMALS))


class Formats:
    """Creates each distinct cell format once per workbook and hands it out."""

    def __init__(self, workbook: xlsxwriter.workbook.Workbook, paper: str = "letter") -> None:
        self._workbook = workbook
        self.paper = paper  # "letter" or "a4": every sheet's print setup
        self._cache: dict[tuple[Any, ...], xlsxwriter.format.Format] = {}
        self._price_places: dict[tuple[str | None, Decimal | None], int] = {}

    def _get(
        self, key: tuple[Any, ...], props: Callable[[], dict[str, Any]]
    ) -> xlsxwriter.format.Format:
        """The cached format for `key`; `props()` is only called (and added) the first time.

        Asked for on every cell, so a cache hit builds nothing.
        """
        fmt = self._cache.get(key)
        if fmt is None:
            fmt = self._cache[key] = self._workbook.add_format(props())
        return fmt

    def _props(self, base: dict[str, Any], highlight: bool) -> dict[str, Any]:
        # Numbers and dates sit right with a one-character indent, so a figure
        # never runs into the left-aligned text of the next column.
        props = {"valign": "top", **base}
        if "num_format" in base:
            props.update({"align": "right", "indent": 1})
        if highlight:
            props.update(HIGHLIGHT)
        return props

    def custom(self, **props: Any) -> xlsxwriter.format.Format:
        """A one-off look (e.g. a left-aligned date on the Cover)."""
        return self._get(("custom", *sorted(props.items())), lambda: props)

    def text(self, highlight: bool = False, wrap: bool = False) -> xlsxwriter.format.Format:
        """Text; `wrap` for long free text (reasons, descriptions) so none is cut off."""
        return self._get(
            ("text", highlight, wrap),
            lambda: self._props({"text_wrap": True} if wrap else {}, highlight),
        )

    def integer(self, highlight: bool = False) -> xlsxwriter.format.Format:
        return self._get(
            ("int", highlight), lambda: self._props({"num_format": "#,##0"}, highlight)
        )

    def date(self, highlight: bool = False) -> xlsxwriter.format.Format:
        return self._get(
            ("date", highlight), lambda: self._props({"num_format": DATE_FORMAT}, highlight)
        )

    def datetime(self, highlight: bool = False) -> xlsxwriter.format.Format:
        return self._get(
            ("datetime", highlight),
            lambda: self._props({"num_format": DATETIME_FORMAT}, highlight),
        )

    def money(
        self, currency: str | None, highlight: bool = False, bold: bool = False
    ) -> xlsxwriter.format.Format:
        return self._get(
            ("money", currency, highlight, bold),
            lambda: self._props({"num_format": money_format(currency), "bold": bold}, highlight),
        )

    def price(
        self, currency: str | None, price: Decimal | None, highlight: bool = False
    ) -> xlsxwriter.format.Format:
        known = self._price_places.get((currency, price))
        if known is None:
            known = self._price_places[(currency, price)] = price_decimals(price, currency)
        places = known
        return self._get(
            ("price", currency, places, highlight),
            lambda: self._props({"num_format": money_format(currency, places)}, highlight),
        )

    def header(self, numeric: bool = False) -> xlsxwriter.format.Format:
        """Header cell; over a column of figures it is right-aligned like them."""

        def props() -> dict[str, Any]:
            base: dict[str, Any] = {
                "bold": True,
                "bg_color": "#DDEBF7",
                "bottom": 1,
                "text_wrap": True,
                "valign": "top",
            }
            if numeric:
                base.update({"align": "right", "indent": 1})
            return base

        return self._get(("header", numeric), props)

    def title(self) -> xlsxwriter.format.Format:
        return self._get(("title",), lambda: {"bold": True, "font_size": 14})

    def label(self) -> xlsxwriter.format.Format:
        return self._get(("label",), lambda: {"bold": True, "valign": "top"})

    def note(self) -> xlsxwriter.format.Format:
        return self._get(("note",), lambda: {"italic": True, "font_color": "#595959"})

    def warning(self) -> xlsxwriter.format.Format:
        return self._get(("warning",), lambda: {"bold": True, **HIGHLIGHT})
