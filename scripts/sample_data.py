"""Synthetic export folders in the exact shape of billing-rules §1 (docs/billing-rules.md).

Why this exists: the demo, the tests and the benchmark all need an export
folder that looks like what finance really hands over (a mix of billing
models and currencies, messy timestamps, awkward account names, a billing
system's own invoices and the payments against them) without shipping
anybody's real data. The same code writes the 40-account sample and the
10-million-row benchmark, so it is vectorised (numpy + pyarrow) and writes
in chunks of accounts: memory stays flat whatever the size.

Deterministic: the output depends only on the arguments. Randomness comes
from `numpy.random.Generator`s seeded from `SeedSequence([seed, stream,
chunk])`; there is no wall clock and every file is written in a stable
order, so the same arguments give byte-identical CSV files.

The bundled sample (`data/sample/`) was generated with, and is regenerated
identically by (tests/test_sample_data.py checks this):

    .venv/bin/python scripts/sample_data.py --out data/sample --accounts 40 \\
        --months 2026-08,2026-09,2026-10 --seed 7

A development tool, not part of the installed package: run it from a checkout
with the project's venv (it imports `closebook` for the contract's columns).

What it writes (rows per table come back from `generate_exports`):

- `accounts`: ids `A000001`...; 60% `hwm`, 20% `license_day`, 20% `prepaid`
  (exact quotas, shuffled, so a 40-account folder still has every kind);
  currencies mostly USD, some EUR, GBP, CAD, AUD and JPY (whole yen);
  payment_method card/invoice/none; autopay_limit mostly blank.
- `usage_snapshots`: for hwm and prepaid accounts, a level that drifts from
  month to month, a trend and noise inside the month, and in about one
  account-month in ten a peak that falls back a few snapshots later. One
  snapshot per slot of the month (so no two share an instant by accident).
  A few hwm accounts also report the other metric (ignored by the rule), a
  few contracted ones report nothing at all, some start in a later month.
- `license_events`: licenses issued (some in bulk on day one), assigned to
  sites, transferred, unassigned, revoked; events of a license strictly in
  time order and never after its revoke.
- `balance_transactions`: an opening purchase, reloads, promo codes,
  license packs (device_months, blank amount), refunds and adjustments that
  never take the balance below zero; some accounts buy too little and run
  short.
- `billed_invoices`: what the billing system invoiced, computed here
  independently by the contract's rules in integer minor units (HWM base and
  overage, license-days, prepaid shortfall), for every month.
- `payments`: most paid in full within terms (card accounts on the invoice
  date), some partially, some late, some not at all.

Timestamps are ISO 8601, mostly `Z`, some with an offset (`+02:00`,
`-05:00`, `+05:30`, ...) and some naive (UTC by the contract); the format is
chosen per account and file, as it would be per exporting system.

`with_issues=True` adds a handful of realistic problems, each kind
max(1, round(0.01% of accounts)) times, all dated in the last month so that
closing it shows every one: an unparseable snapshot quantity (`n/a`), a
snapshot of an unknown account, an exact duplicate snapshot row, a
conflicting duplicate (same account, metric and instant, another
quantity), a billed invoice with a wrong amount, a billed invoice the
computation will not produce, a computed invoice missing from billing, and
a payment for an invoice that does not exist. It also names one account
`=HYPERLINK("http://example.com","click")` (text that must never run as a
formula in a workbook). `with_issues=False` is clean data.

Choices where the brief was silent: every column is written as text (also
in Parquet), as many exports do and as the loader reads it anyway; CSV rows
end in `\\n`; files are ordered by account, then time (payments by time);
`months` must be consecutive, because the prepaid rule replays every month.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from closebook.contract import TABLES_BY_NAME

TABLE_ORDER: tuple[str, ...] = (
    "accounts",
    "license_prices",
    "usage_snapshots",
    "license_events",
    "balance_transactions",
    "billed_invoices",
    "payments",
)
# Every column we write, in order: required and optional ones of the contract.
COLUMNS: dict[str, tuple[str, ...]] = {name: TABLES_BY_NAME[name].columns for name in TABLE_ORDER}

CURRENCY_MINOR: dict[str, int] = {"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "JPY": 0}
CURRENCY_SHARE: dict[str, float] = {
    "USD": 0.70,
    "EUR": 0.09,
    "GBP": 0.07,
    "CAD": 0.05,
    "AUD": 0.05,
    "JPY": 0.04,
}
MODEL_SHARE: dict[str, float] = {"hwm": 0.6, "license_day": 0.2, "prepaid": 0.2}
PAYMENT_SHARE: dict[str, float] = {"card": 0.6, "invoice": 0.3, "none": 0.1}
PRODUCTS: tuple[str, ...] = ("backup", "scan", "search", "boost")

# Prices are held in 1/10,000 of the currency unit ("p4") so that 4-decimal
# prices stay exact integers; amounts are held in minor units.
P4 = 10_000
LICENSE_PRICES_P4: dict[str, tuple[int, ...]] = {  # backup, scan, search, boost
    "USD": (49_500, 29_500, 39_500, 79_500),
    "EUR": (49_500, 29_500, 39_500, 79_500),
    "GBP": (42_500, 25_000, 35_000, 69_500),
    "CAD": (67_500, 39_500, 52_500, 109_500),
    "AUD": (74_500, 44_500, 59_500, 119_500),
    "JPY": (7_500_000, 4_500_000, 6_000_000, 12_000_000),
}
USER_PRICES_P4 = (30_000, 50_000, 60_000, 80_000, 90_000, 110_000, 150_000, 190_000)
DEVICE_PRICES_P4 = (20_000, 25_000, 30_000, 40_000, 50_000, 75_000)
ODD_PRICES_P4 = (8_333, 24_750, 33_333, 71_250)  # 4-decimal prices exercise rounding
JPY_PRICES = (300, 400, 600, 900, 1_200, 1_650, 2_200)  # whole yen
AUTOPAY_LIMITS = {"JPY": (100_000, 500_000), "other": (1_000_00, 2_500_00, 10_000_00)}

# Timestamp styles: (suffix, offset in minutes); the last one is naive.
TS_STYLES: tuple[tuple[str, int], ...] = (
    ("Z", 0),
    ("+02:00", 120),
    ("-05:00", -300),
    ("+05:30", 330),
    ("+09:00", 540),
    ("+01:00", 60),
    ("", 0),
)
NAIVE_STYLE = len(TS_STYLES) - 1

CHUNK_ACCOUNTS = 2_000  # accounts per write chunk: bounds memory, fixed so output never varies
ISSUE_RATE = 1e-4  # with_issues: each kind hits max(1, round(rate x accounts)) times

_NAME_A = (
    "Acme", "Northwind", "Blue Harbor", "Granite", "Silver Pine", "Redwood", "Brightline",
    "Cobalt", "Evergreen", "Harbor Point", "Ironclad", "Juniper", "Keystone", "Lakeshore",
    "Meridian", "Nimbus", "Oakridge", "Pinnacle", "Quarry", "Riverbend", "Summit", "Tidewater",
    "Vantage", "Westfield", "Zephyr", "Aster", "Beacon", "Cedar", "Driftwood", "Falcon",
    "Highland", "Indigo", "Kestrel", "Larkspur", "Maple", "Northstar", "Orchard", "Polaris",
    "Sable", "Thistle", "Willow", "Copperleaf", "Halcyon", "Marigold", "Stonebridge",
    "Bluebird", "Fjord", "Ember", "Greystone", "Lighthouse",
)  # fmt: skip
_NAME_B = (
    "Analytics", "Dental", "Logistics", "Labs", "Systems", "Health", "Legal", "Studios",
    "Foods", "Robotics", "Architects", "Consulting", "Outfitters", "Media", "Capital",
    "Energy", "Freight", "Software", "Clinic", "Bakery", "Brewing", "Insurance", "Realty",
    "Engineering", "Pharmacy", "Motors", "Textiles", "Security", "Travel", "Academy",
)  # fmt: skip
_NAME_PLACE = (
    "", "", "", "", "", "North ", "West ", "Pacific ", "Atlantic ", "Central ", "Metro ",
    "Coastal ", "Alpine ", "Prairie ", "Harbour ",
)  # fmt: skip
_NAME_SUFFIX = (
    "Inc.", "LLC", "Ltd", "GmbH", "S.A.", "Pty Ltd", "B.V.", "Co.", "SAS", "AB", "Group",
    "Partners", "",
)  # fmt: skip
# Names that trip up careless CSV and spreadsheet code; always present when n allows.
SPECIAL_NAMES: tuple[str, ...] = (
    "Smith, Jones & Partners LLP",
    'The "Blue Door" Bakery',
    "Café Müller GmbH",
    "Łódź Logistyka Sp. z o.o.",
    "Société Générale d'Équipement SAS",
)
FORMULA_NAME = '=HYPERLINK("http://example.com","click")'


# ---------------------------------------------------------------------------
# small exact helpers


def _round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up, for numerator >= 0 (exact integers)."""
    return (2 * numerator + denominator) // (2 * denominator)


def _amount_minor(quantity: int, price_p4: int, minor: int) -> int:
    """quantity x price, rounded half-up once to the currency's minor unit."""
    return _round_half_up(quantity * price_p4, 10 ** (4 - minor))


def format_minor(value: int, minor: int) -> str:
    """Minor units -> decimal text (`1234, 2 -> '12.34'`; JPY `1234, 0 -> '1234'`)."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if minor == 0:
        return f"{sign}{value}"
    whole, frac = divmod(value, 10**minor)
    return f"{sign}{whole}.{frac:0{minor}d}"


def format_price(price_p4: int, minor: int) -> str:
    """A unit price as the shortest decimal with at least the currency's decimals."""
    whole, frac = divmod(price_p4, P4)
    if minor == 0 and frac == 0:
        return str(whole)
    digits = f"{frac:04d}"
    while len(digits) > max(minor, 1) and digits.endswith("0"):
        digits = digits[:-1]
    return f"{whole}.{digits}"


@dataclass(frozen=True)
class Month:
    """One period: label and [start, end) in epoch seconds (UTC)."""

    label: str
    start: int
    end: int
    days: int

    @property
    def invoice_date(self) -> date:
        return datetime.fromtimestamp(self.end, UTC).date() + timedelta(days=2)


def _parse_months(months: Sequence[str]) -> list[Month]:
    if not months:
        raise ValueError("months must not be empty")
    out: list[Month] = []
    for label in sorted(set(months)):
        try:
            first = datetime.strptime(label, "%Y-%m").replace(tzinfo=UTC)
        except ValueError:
            raise ValueError(f"month {label!r} is not YYYY-MM") from None
        days = calendar.monthrange(first.year, first.month)[1]
        start = int(first.timestamp())
        out.append(Month(label, start, start + days * 86_400, days))
    for before, after in zip(out, out[1:], strict=False):
        if before.end != after.start:
            raise ValueError(f"months must be consecutive: {before.label} then {after.label}")
    return out


def _rng(seed: int, stream: int, chunk: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, chunk]))


def _quota(rng: np.random.Generator, n: int, shares: dict[str, float]) -> np.ndarray:
    """Exact shares, each kind at least once when n allows, shuffled: small folders keep variety."""
    labels = list(shares)
    counts = [int(n * shares[k]) for k in labels]
    if n >= len(labels):
        counts = [max(1, c) for c in counts]
    counts[0] += n - sum(counts)  # the dominant kind (listed first) takes the remainder
    out = np.repeat(np.arange(len(labels)), counts)
    rng.shuffle(out)
    return out


# ---------------------------------------------------------------------------
# fast ISO 8601 rendering (strftime is ~2 us a row; this is ~0.1 us)

_SOD_LUT = np.frombuffer(
    "".join(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)).encode(),
    dtype=np.uint8,
).reshape(86_400, 8)
_SUFFIX_LEN = np.array([len(s) for s, _ in TS_STYLES], dtype=np.int64)
_SUFFIX_LUT = np.zeros((len(TS_STYLES), 6), dtype=np.uint8)
for _i, (_suffix, _) in enumerate(TS_STYLES):
    _SUFFIX_LUT[_i, : len(_suffix)] = np.frombuffer(_suffix.encode(), dtype=np.uint8)
_STYLE_OFFSET_S = np.array([m * 60 for _, m in TS_STYLES], dtype=np.int64)


def iso_timestamps(utc_seconds: np.ndarray, style: np.ndarray) -> pa.StringArray:
    """Render epoch seconds as ISO 8601 text in each row's style (Z, an offset, or naive)."""
    n = len(utc_seconds)
    if n == 0:
        return pa.array([], type=pa.string())
    local = utc_seconds.astype(np.int64) + _STYLE_OFFSET_S[style]
    day, second = np.divmod(local, 86_400)
    first_day = int(day.min())
    day_text = "".join(
        (date(1970, 1, 1) + timedelta(days=d)).isoformat() + "T"
        for d in range(first_day, int(day.max()) + 1)
    )
    day_lut = np.frombuffer(day_text.encode(), dtype=np.uint8).reshape(-1, 11)
    buf = np.empty((n, 25), dtype=np.uint8)
    buf[:, :11] = day_lut[day - first_day]
    buf[:, 11:19] = _SOD_LUT[second]
    buf[:, 19:] = _SUFFIX_LUT[style]
    lengths = 19 + _SUFFIX_LEN[style]
    data = buf[np.arange(25) < lengths[:, None]]  # row-major: the rows, concatenated
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _iso_one(utc_second: int, style: int) -> str:
    suffix, minutes = TS_STYLES[style]
    local = datetime.fromtimestamp(utc_second + minutes * 60, UTC)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + suffix


def _pick_styles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mostly Z (85%), some offsets (9%), some naive (6%); exact shares, as for the quotas."""
    kind = _quota(rng, n, {"Z": 0.85, "offset": 0.09, "naive": 0.06})
    offset = rng.integers(1, NAIVE_STYLE, n)
    return np.where(kind == 0, 0, np.where(kind == 1, offset, NAIVE_STYLE)).astype(np.int64)


# ---------------------------------------------------------------------------
# writers


class _TableWriter:
    """Append batches of text columns to `<table>.csv` or `<table>.parquet`."""

    def __init__(self, out_dir: Path, table: str, fmt: str) -> None:
        self.table = table
        self.columns = COLUMNS[table]
        self.schema = pa.schema([(c, pa.string()) for c in self.columns])
        self.rows = 0
        self.path = out_dir / f"{table}.{fmt}"
        self._fmt = fmt
        self._csv: pacsv.CSVWriter | None = None
        if fmt == "csv":
            self._fh = self.path.open("wb")
            self._fh.write((",".join(self.columns) + "\n").encode())
        else:
            self._pq = pq.ParquetWriter(self.path, self.schema, compression="zstd")

    def write(self, columns: dict[str, Any]) -> None:
        """Write one batch: column -> pyarrow array or list of str/None (None = blank)."""
        arrays = [
            col if isinstance(col := columns[c], pa.Array) else pa.array(col, type=pa.string())
            for c in self.columns
        ]
        batch = pa.table(arrays, schema=self.schema)
        if batch.num_rows == 0:
            return
        self.rows += batch.num_rows
        if self._fmt == "parquet":
            self._pq.write_table(batch)
            return
        if self._csv is None:
            # Quoting "none" refuses any value that would need quoting, so a stray comma
            # fails loudly here; tables whose text may need quotes use write_rows.
            options = pacsv.WriteOptions(include_header=False, quoting_style="none")
            self._csv = pacsv.CSVWriter(self._fh, self.schema, write_options=options)
        self._csv.write_table(batch)

    def write_rows(self, rows: list[tuple[str | None, ...]]) -> None:
        """Write rows that may need RFC 4180 quoting (account names), minimal quoting."""
        if self._fmt == "parquet":
            self.write(_columns(rows, self.table))
            return
        if self._csv is not None:
            raise RuntimeError("write_rows cannot follow write on the same CSV file")
        writer = csv.writer(_TextSink(self._fh), lineterminator="\n")
        writer.writerows(["" if v is None else v for v in r] for r in rows)
        self.rows += len(rows)

    def close(self) -> None:
        """Flush and close the file."""
        if self._fmt == "parquet":
            self._pq.close()
            return
        if self._csv is not None:
            self._csv.close()
        self._fh.close()


class _TextSink:
    """Lets csv.writer write UTF-8 into the binary file the header went to."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh

    def write(self, text: str) -> int:
        return self._fh.write(text.encode("utf-8"))


# ---------------------------------------------------------------------------
# accounts


@dataclass
class _Accounts:
    """Per-account attributes as parallel arrays (index i is account A{i+1:06d})."""

    ids: list[str]
    names: list[str]
    model: np.ndarray  # 0 hwm, 1 license_day, 2 prepaid
    currency: list[str]
    minor: np.ndarray
    metric: np.ndarray  # 0 users, 1 devices
    price_p4: np.ndarray
    contracted: np.ndarray
    contracted_blank: np.ndarray
    payment: list[str]
    autopay_minor: np.ndarray  # -1 = blank (4000)
    emails: list[str | None]
    start_month: np.ndarray
    no_snapshots: np.ndarray
    other_metric: np.ndarray
    base_level: np.ndarray
    grower: np.ndarray
    runs_short: np.ndarray
    products: list[tuple[int, ...]]
    snap_style: np.ndarray
    event_style: np.ndarray
    txn_style: np.ndarray


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in ascii_name.lower()).split()
    return "-".join(words[:3]) or "customer"


def _make_accounts(seed: int, n: int, n_months: int, with_issues: bool) -> _Accounts:
    rng = _rng(seed, 1)
    models = _quota(rng, n, MODEL_SHARE)
    currency_idx = _quota(rng, n, CURRENCY_SHARE)
    currency_names = list(CURRENCY_SHARE)
    currency = [currency_names[i] for i in currency_idx]
    minor = np.array([CURRENCY_MINOR[c] for c in currency], dtype=np.int64)
    payment_names = list(PAYMENT_SHARE)
    payment_idx = np.zeros(n, dtype=np.int64)
    for model in range(len(MODEL_SHARE)):  # per model: a license_day account without a card
        members = np.flatnonzero(models == model)
        payment_idx[members] = _quota(rng, len(members), PAYMENT_SHARE)
    payment = [payment_names[i] for i in payment_idx]

    metric = np.where(models == 2, 1, (rng.random(n) < 0.35).astype(np.int64))
    metric[models == 1] = 0

    price = np.where(
        metric == 0,
        rng.choice(USER_PRICES_P4, n),
        rng.choice(DEVICE_PRICES_P4, n),
    ).astype(np.int64)
    odd = rng.random(n) < 0.06
    price = np.where(odd, rng.choice(ODD_PRICES_P4, n), price)
    price = np.where(minor == 0, rng.choice(JPY_PRICES, n) * P4, price)
    price[models == 1] = 0

    is_hwm = models == 0
    contracted = np.clip(np.round(rng.lognormal(np.log(40), 1.1, n)), 1, 20_000).astype(np.int64)
    zero_contract = rng.random(n) < 0.15
    contracted = np.where(is_hwm & ~zero_contract, contracted, 0)
    contracted_blank = (~is_hwm) | (zero_contract & (rng.random(n) < 0.5))

    set_limit = np.zeros(n, dtype=bool)  # a few accounts (5%, at least one) set their own
    set_limit[rng.permutation(n)[: max(1, round(0.05 * n))]] = True
    jpy_limit = rng.choice(AUTOPAY_LIMITS["JPY"], n)
    other_limit = rng.choice(AUTOPAY_LIMITS["other"], n)
    autopay = np.where(set_limit, np.where(minor == 0, jpy_limit, other_limit), -1)

    start_month = np.where(rng.random(n) < 0.1, rng.integers(0, max(n_months, 1), n), 0).astype(
        np.int64
    )
    contracted_hwm = np.flatnonzero(is_hwm & (contracted > 0))
    no_snapshots = np.zeros(n, dtype=bool)
    if len(contracted_hwm) >= 10:
        quiet = rng.choice(contracted_hwm, max(1, len(contracted_hwm) // 50), replace=False)
        no_snapshots[quiet] = True
    other_metric = is_hwm & (rng.random(n) < 0.03)
    grower = is_hwm & (contracted > 0) & (rng.random(n) < 0.2)
    runs_short = (models == 2) & (rng.random(n) < 0.25)

    level = np.where(
        contracted > 0,
        contracted * np.where(grower, rng.uniform(0.92, 1.1, n), rng.uniform(0.55, 1.0, n)),
        rng.lognormal(np.log(25), 1.0, n),
    )
    level = np.where(models == 2, rng.lognormal(np.log(20), 0.9, n), level)
    level = np.maximum(level, 1.0)

    products: list[tuple[int, ...]] = []
    for _ in range(n):
        k = int(rng.choice([1, 1, 2, 2, 3, 4]))
        chosen = rng.choice(len(PRODUCTS), k, replace=False, p=[0.4, 0.25, 0.2, 0.15])
        products.append(tuple(sorted(int(p) for p in chosen)))

    names = [
        f"{_NAME_PLACE[p]}{_NAME_A[a]} {_NAME_B[b]} {_NAME_SUFFIX[s]}".rstrip()
        for p, a, b, s in zip(
            rng.integers(0, len(_NAME_PLACE), n),
            rng.integers(0, len(_NAME_A), n),
            rng.integers(0, len(_NAME_B), n),
            rng.integers(0, len(_NAME_SUFFIX), n),
            strict=True,
        )
    ]
    specials = list(SPECIAL_NAMES) + ([FORMULA_NAME] if with_issues else [])
    spots = rng.permutation(n)[: len(specials)]
    for spot, special in zip(spots, specials, strict=False):
        names[int(spot)] = special
    jpy = [i for i, c in enumerate(currency) if c == "JPY" and i not in set(spots.tolist())]
    if jpy:
        names[jpy[0]] = "株式会社サクラ精機"

    emails: list[str | None] = [
        None if r < 0.1 else f"billing@{_slug(name)}.example"
        for r, name in zip(rng.random(n), names, strict=True)
    ]
    return _Accounts(
        ids=[f"A{i + 1:06d}" for i in range(n)],
        names=names,
        model=models,
        currency=currency,
        minor=minor,
        metric=metric,
        price_p4=price,
        contracted=contracted,
        contracted_blank=contracted_blank,
        payment=payment,
        autopay_minor=autopay,
        emails=emails,
        start_month=start_month,
        no_snapshots=no_snapshots,
        other_metric=other_metric,
        base_level=level,
        grower=grower,
        runs_short=runs_short,
        products=products,
        snap_style=_pick_styles(rng, n),
        event_style=_pick_styles(rng, n),
        txn_style=_pick_styles(rng, n),
    )


def _account_rows(acc: _Accounts) -> list[tuple[str | None, ...]]:
    model_names = ("hwm", "license_day", "prepaid")
    rows: list[tuple[str | None, ...]] = []
    for i in range(len(acc.ids)):
        model = int(acc.model[i])
        minor = int(acc.minor[i])
        metered = model != 1
        limit = int(acc.autopay_minor[i])
        currency: str | None = acc.currency[i]
        if currency == "USD" and i % 7 == 3:
            currency = None  # blank = USD
        rows.append(
            (
                acc.ids[i],
                acc.names[i],
                model_names[model],
                ("users", "devices")[int(acc.metric[i])] if metered else None,
                format_price(int(acc.price_p4[i]), minor) if metered else None,
                None if acc.contracted_blank[i] else str(int(acc.contracted[i])),
                currency,
                acc.payment[i],
                None if limit < 0 else format_minor(limit, minor),
                acc.emails[i],
            )
        )
    return rows


# ---------------------------------------------------------------------------
# usage snapshots (vectorised) and the HWM they imply


@dataclass
class _SnapshotChunk:
    columns: dict[str, Any]
    hwm: np.ndarray  # (accounts in chunk, months): the contract's HWM of the own metric


def _snapshots(
    seed: int,
    chunk_no: int,
    acc: _Accounts,
    idx: np.ndarray,
    months: list[Month],
    per_month: int,
    issues: dict[str, set[int]],
) -> _SnapshotChunk:
    rng = _rng(seed, 2, chunk_no)
    na, nm = len(idx), len(months)
    starts = np.array([m.start for m in months], dtype=np.int64)
    lengths = np.array([m.end - m.start for m in months], dtype=np.int64)

    lo, hi = max(1, per_month // 2), max(1, per_month * 3 // 2)
    k = rng.integers(lo, hi + 1, (na, nm))
    k[np.arange(nm)[None, :] < acc.start_month[idx][:, None]] = 0
    k[acc.no_snapshots[idx]] = 0

    counts = k.ravel()
    group_a = np.repeat(np.arange(na), nm)
    group_m = np.tile(np.arange(nm), na)
    total = int(counts.sum())
    row_a = np.repeat(group_a, counts)
    row_m = np.repeat(group_m, counts)
    row_k = np.repeat(counts, counts)
    group_first = np.cumsum(counts) - counts
    row_j = np.arange(total) - np.repeat(group_first, counts)
    slot = lengths[row_m] // row_k  # one snapshot per slot: distinct, sorted instants
    ts = starts[row_m] + row_j * lengths[row_m] // row_k + rng.integers(0, slot)

    drift = np.cumprod(rng.normal(1.0, 0.04, (na, nm)), axis=1)
    grow = acc.grower[idx][:, None] * (0.06 * np.arange(nm))[None, :]
    level = acc.base_level[idx][:, None] * (drift + grow)
    trend = rng.normal(0.0, 0.03, (na, nm))
    position = row_j / row_k
    noise = rng.normal(0.0, 0.015, total)
    qty = np.rint(level[row_a, row_m] * (1.0 + trend[row_a, row_m] * position + noise)).astype(
        np.int64
    )
    spike = rng.random((na, nm)) < 0.1
    spike_at = (rng.random((na, nm)) * k).astype(np.int64)
    spike_len = 1 + (rng.random((na, nm)) * np.maximum(k // 8, 1)).astype(np.int64)
    spike_size = np.maximum(1, np.rint(level * rng.uniform(0.05, 0.3, (na, nm)))).astype(np.int64)
    in_spike = (
        spike[row_a, row_m]
        & (row_j >= spike_at[row_a, row_m])
        & (row_j < spike_at[row_a, row_m] + spike_len[row_a, row_m])
    )
    qty = np.maximum(qty, 0) + np.where(in_spike, spike_size[row_a, row_m], 0)

    # The contract's HWM: max(carried-in = last snapshot before the month, the month's snapshots).
    in_max = np.full(na * nm, -1, dtype=np.int64)
    last = np.full(na * nm, -1, dtype=np.int64)
    filled = counts > 0
    if total:
        in_max[filled] = np.maximum.reduceat(qty, group_first[filled])
        last[filled] = qty[group_first[filled] + counts[filled] - 1]
    in_max = in_max.reshape(na, nm)
    last = last.reshape(na, nm)
    carried = np.full((na, nm), -1, dtype=np.int64)
    for m in range(1, nm):
        carried[:, m] = np.where(last[:, m - 1] >= 0, last[:, m - 1], carried[:, m - 1])
    hwm = np.maximum(np.maximum(in_max, carried), 0)

    own_metric = acc.metric[idx][row_a]
    metric_col = own_metric.copy()
    flag = np.zeros(total, dtype=np.int64)  # 0 normal, 1 conflicting copy (sorts after)
    bad_qty = np.zeros(total, dtype=bool)

    # A few hwm accounts also report the other metric, at numbers the rule must ignore.
    extra_a, extra_ts, extra_q = [], [], []
    for a in np.flatnonzero(acc.other_metric[idx]):
        for m in range(nm):
            if m < acc.start_month[idx[a]]:
                continue
            for j in range(3):
                extra_a.append(a)
                extra_ts.append(
                    months[m].start + j * lengths[m] // 3 + int(rng.integers(0, lengths[m] // 3))
                )
                extra_q.append(int(acc.base_level[idx[a]] * 3) + int(rng.integers(0, 5)))

    # with_issues, last month: exact duplicate, conflicting duplicate, unparseable quantity.
    dup_rows: list[int] = []
    conflict_rows: list[int] = []
    last_m = nm - 1
    for a_local, a_global in enumerate(idx.tolist()):
        if not any(a_global in s for s in issues.values()):
            continue
        g = a_local * nm + last_m
        if counts[g] == 0:
            continue
        first, count = int(group_first[g]), int(counts[g])
        if a_global in issues["exact_duplicate"]:
            dup_rows.append(first + count // 2)
        if a_global in issues["conflicting_duplicate"]:
            conflict_rows.append(first + count // 3)
        if a_global in issues["unparseable_quantity"]:
            bad_qty[first + int(np.argmin(qty[first : first + count]))] = True

    copies = np.array(dup_rows + conflict_rows, dtype=np.int64)
    parts_a = [row_a, np.array(extra_a, dtype=np.int64), row_a[copies]]
    parts_ts = [ts, np.array(extra_ts, dtype=np.int64), ts[copies]]
    parts_q = [
        qty,
        np.array(extra_q, dtype=np.int64),
        qty[copies]
        + np.r_[
            np.zeros(len(dup_rows), dtype=np.int64), np.full(len(conflict_rows), 3, dtype=np.int64)
        ],
    ]
    extra_idx = np.array(extra_a, dtype=np.int64)
    parts_metric = [metric_col, 1 - acc.metric[idx][extra_idx], metric_col[copies]]
    parts_flag = [
        flag,
        np.zeros(len(extra_a), dtype=np.int64),
        np.r_[np.zeros(len(dup_rows)), np.ones(len(conflict_rows))].astype(np.int64),
    ]
    parts_bad = [bad_qty, np.zeros(len(extra_a), dtype=bool), bad_qty[copies]]
    all_a = np.concatenate(parts_a)
    all_ts = np.concatenate(parts_ts)
    all_q = np.concatenate(parts_q)
    all_metric = np.concatenate(parts_metric).astype(np.int64)
    all_flag = np.concatenate(parts_flag)
    all_bad = np.concatenate(parts_bad)
    order = np.lexsort((all_flag, all_metric, all_ts, all_a))

    ids = pa.array([acc.ids[i] for i in idx.tolist()], type=pa.string())
    quantity = pa.array(all_q[order]).cast(pa.string())
    quantity = pc.if_else(pa.array(all_bad[order]), pa.scalar("n/a"), quantity)
    columns = {
        "account_id": ids.take(pa.array(all_a[order])),
        "observed_at": iso_timestamps(all_ts[order], acc.snap_style[idx][all_a[order]]),
        "metric": pa.array(["users", "devices"]).take(pa.array(all_metric[order])),
        "quantity": quantity,
    }
    return _SnapshotChunk(columns, hwm)


# ---------------------------------------------------------------------------
# license events (per license, in Python: a few per account)


def _license_events(
    rng: np.random.Generator,
    acc: _Accounts,
    i: int,
    months: list[Month],
    counters: dict[str, int],
) -> tuple[list[tuple[str | None, ...]], dict[tuple[int, int], int]]:
    """Events of one license_day account in time order, and its license-days per (product, month).

    Ids follow time order (licenses by issue, events by occurrence), as a real event log's do.
    """
    horizon = months[-1].end
    begin = months[int(acc.start_month[i])].start
    slug = _slug(acc.names[i])
    n_licenses = int(min(60, rng.geometric(1 / 6)))
    planned: list[tuple[int, int, list[tuple[int, str, str | None]]]] = []  # issued, product, plan
    days: dict[tuple[int, int], int] = {}
    for _ in range(n_licenses):
        product = int(rng.choice(acc.products[i]))
        if rng.random() < 0.3:
            issued = begin + int(rng.integers(0, 3 * 86_400))  # bulk purchase on day one
        else:
            issued = int(rng.integers(begin, horizon - 86_400))
        revoked = int(rng.integers(issued + 3_600, horizon - 60)) if rng.random() < 0.25 else None
        limit = (revoked if revoked is not None else horizon) - 1
        plan: list[tuple[str, str | None]] = [("issued", None)]
        if rng.random() < 0.85:
            plan.append(("assigned", f"{slug}-{int(rng.integers(1, 9))}.example"))
            if rng.random() < 0.15:
                plan.append(("transferred", f"{slug}-{int(rng.integers(10, 99))}.example"))
            if rng.random() < 0.1:
                plan.append(("unassigned", None))
        times = [issued] + sorted(
            int(t) for t in rng.integers(issued + 1, max(limit, issued + 2), len(plan) - 1)
        )
        for t in range(1, len(times)):  # strictly after the previous event
            times[t] = max(times[t], times[t - 1] + 1)
        if revoked is not None:
            plan.append(("revoked", None))
            revoked = max(revoked, times[-1] + 1)
            times.append(revoked)
        timed = [(when, event, site) for (event, site), when in zip(plan, times, strict=True)]
        planned.append((issued, product, timed))
        end_active = revoked if revoked is not None else horizon
        for m, month in enumerate(months):
            # A day counts when the license is active at any instant of it.
            first_day = max(issued // 86_400 * 86_400, month.start)
            after_last = min(-(-end_active // 86_400) * 86_400, month.end)
            if after_last > first_day:
                key = (product, m)
                days[key] = days.get(key, 0) + (after_last - first_day) // 86_400
    planned.sort(key=lambda p: p[0])
    pending: list[tuple[int, int, int, str, str, str, str | None]] = []
    for order, (_, product, timed) in enumerate(planned):
        counters["license"] += 1
        license_id = f"L{counters['license']:07d}"
        for step, (when, event, site) in enumerate(timed):
            pending.append((when, order, step, license_id, PRODUCTS[product], event, site))
    pending.sort(key=lambda e: e[:3])
    rows: list[tuple[str | None, ...]] = []
    style = int(acc.event_style[i])
    for when, _, _, license_id, product_name, event, site in pending:
        counters["event"] += 1
        event_id = f"EV{counters['event']:08d}"
        rows.append(
            (event_id, license_id, acc.ids[i], product_name, event, _iso_one(when, style), site)
        )
    return rows, days


# ---------------------------------------------------------------------------
# prepaid balance transactions (per account, replayed as the contract does)


def _nice_amount(value_minor: float, minor: int) -> int:
    """Round a top-up the way people buy them: to 10.00 (or 1,000 yen)."""
    step = 1_000  # minor units: 10.00, or 1,000 yen
    return max(step, int(round(value_minor / step)) * step)


def _prepaid(
    rng: np.random.Generator,
    acc: _Accounts,
    i: int,
    hwm: np.ndarray,
    months: list[Month],
    counters: dict[str, int],
) -> tuple[list[tuple[str | None, ...]], list[int]]:
    """Transactions of one prepaid account and its shortfall (minor units) per month."""
    minor = int(acc.minor[i])
    price = int(acc.price_p4[i])
    unit = 10 ** (4 - minor)  # p4 per minor unit
    monthly = max(1.0, float(acc.base_level[i])) * price / unit  # a month's charge, roughly
    rows: list[tuple[str | None, ...]] = []
    shortfalls = [0] * len(months)
    balance = 0
    for m, month in enumerate(months):
        if m < acc.start_month[i]:
            continue
        plan: list[tuple[str, int]] = []  # (kind, amount minor or device_months)
        if m == acc.start_month[i]:
            cover = rng.uniform(0.5, 1.1) if acc.runs_short[i] else rng.uniform(2.0, 8.0)
            plan.append(("purchase", _nice_amount(monthly * cover, minor)))
        elif not acc.runs_short[i] and (balance < 2 * monthly or rng.random() < 0.25):
            plan.append(("reload", _nice_amount(monthly * rng.uniform(1.0, 4.0), minor)))
        elif acc.runs_short[i] and rng.random() < 0.3:
            plan.append(("reload", _nice_amount(monthly * rng.uniform(0.3, 0.8), minor)))
        if rng.random() < 0.1:
            plan.append(("redeem_code", (2_500 if minor else 5_000) * int(rng.integers(1, 5))))
        if rng.random() < 0.12:
            plan.append(("license_pack", int(rng.integers(5, 120))))
        if rng.random() < 0.1:
            plan.append(("adjustment", int(rng.integers(-5_000, 5_000)) * (1 if minor else 2)))
        if rng.random() < 0.06:
            plan.append(("refund", int(rng.integers(500, 20_000)) * (1 if minor else 2)))
        when = sorted(int(t) for t in rng.integers(month.start, month.end - 60, len(plan)))
        for t in range(1, len(when)):
            when[t] = max(when[t], when[t - 1] + 1)
        order = rng.permutation(len(plan))
        for slot, p in enumerate(order.tolist()):
            kind, value = plan[p]
            amount: int | None = value
            device_months: int | None = None
            code: str | None = None
            if kind == "license_pack":
                device_months, amount = value, None
                credit = _amount_minor(value, price, minor)
            elif kind == "refund" or (kind == "adjustment" and value < 0):
                if balance <= 0:
                    continue  # nothing to give back: the export would not have it
                take = min(abs(value), balance)
                amount = take if kind == "refund" else -take
                credit = -take
            else:
                credit = value
                if kind == "redeem_code":
                    letters = rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"), 6)
                    code = "PROMO-" + "".join(letters)
            if kind == "adjustment" and value == 0:
                continue
            balance += credit
            counters["txn"] += 1
            rows.append(
                (
                    f"TX{counters['txn']:08d}",
                    acc.ids[i],
                    _iso_one(when[slot], int(acc.txn_style[i])),
                    kind,
                    None if amount is None else format_minor(amount, minor),
                    None if device_months is None else str(device_months),
                    code,
                )
            )
        charge = _amount_minor(int(hwm[m]), price, minor)
        drawdown = min(max(balance, 0), charge)
        shortfalls[m] = charge - drawdown
        balance -= drawdown
    # rows were appended in time order within each month, months in order
    return rows, shortfalls


# ---------------------------------------------------------------------------
# billed invoices and payments


@dataclass
class _Invoice:
    period: int
    account: int
    kind: str  # BASE / OVERAGE / LICENSE / PREPAID
    amount: int  # minor units


def _billing_rows(
    seed: int,
    acc: _Accounts,
    months: list[Month],
    invoices: list[_Invoice],
    issues: dict[str, set[int]],
    n_issue: int,
    with_issues: bool,
) -> tuple[list[tuple[str | None, ...]], list[tuple[str | None, ...]]]:
    rng = _rng(seed, 5)
    last = len(months) - 1
    billed = list(invoices)
    kind_order = {"BASE": 0, "OVERAGE": 1, "LICENSE": 2, "PREPAID": 3}
    wrong: set[int] = set()
    if with_issues:
        candidates = [
            j
            for j, inv in enumerate(billed)
            if inv.period == last and not any(inv.account in s for s in issues.values())
        ]
        picks = rng.permutation(len(candidates))[: 2 * n_issue].tolist()
        wrong = {candidates[p] for p in picks[:n_issue]}
        missing = {candidates[p] for p in picks[n_issue:]}
        for j in wrong:  # billed at an old price: 10% more than the rules give
            billed[j] = _Invoice(
                billed[j].period, billed[j].account, billed[j].kind, billed[j].amount * 11 // 10 + 1
            )
        billed = [inv for j, inv in enumerate(billed) if j not in missing]
        have = {(inv.period, inv.account, inv.kind) for inv in invoices}
        extra_pool = [
            a
            for a in np.flatnonzero((acc.model == 0) & (acc.contracted > 0)).tolist()
            if (last, a, "OVERAGE") not in have
        ]
        for a in extra_pool[:n_issue]:  # an overage the usage does not support
            billed.append(
                _Invoice(
                    last, a, "OVERAGE", _amount_minor(2, int(acc.price_p4[a]), int(acc.minor[a]))
                )
            )
    billed.sort(key=lambda inv: (inv.period, inv.account, kind_order[inv.kind]))

    billed_rows: list[tuple[str | None, ...]] = []
    payments: list[tuple[int, str, str]] = []  # (paid_at, invoice_number, amount text)
    for inv in billed:
        month = months[inv.period]
        number = f"{month.label}-{acc.ids[inv.account]}-{inv.kind}"
        minor = int(acc.minor[inv.account])
        billed_rows.append(
            (
                number,
                acc.ids[inv.account],
                month.label,
                acc.currency[inv.account],
                format_minor(inv.amount, minor),
            )
        )
        issued_at = month.end + 2 * 86_400  # the 3rd of the next month, 00:00 UTC
        due_at = issued_at + 30 * 86_400
        fate = rng.random()
        if fate < 0.10:
            continue  # not paid (yet)
        if acc.payment[inv.account] == "card" and fate < 0.75:
            paid_at = issued_at + int(rng.integers(0, 6 * 3_600))
            amount = inv.amount
        elif fate < 0.80:
            paid_at = issued_at + int(rng.integers(0, 29 * 86_400))
            amount = inv.amount
        elif fate < 0.88:
            paid_at = due_at + int(rng.integers(86_400, 100 * 86_400))  # late
            amount = inv.amount
        else:
            paid_at = issued_at + int(rng.integers(0, 29 * 86_400))  # partial
            amount = inv.amount * int(rng.integers(30, 90)) // 100
        if amount > 0:
            payments.append((paid_at, number, format_minor(amount, minor)))
    if with_issues:
        # Paid in the last month against an invoice number that does not exist (an unknown
        # account's last-month invoice): listed in the last period, by its paid_at (§3).
        billed_label = months[max(last - 1, 0)].label
        for j in range(n_issue):
            ghost = f"A{len(acc.ids) + 1 + j:06d}"
            paid_at = months[last].start + 10 * 86_400 + int(rng.integers(0, 86_400))
            payments.append((paid_at, f"{billed_label}-{ghost}-BASE", "100.00"))
    payments.sort()
    payment_rows = [
        (f"PAY{k + 1:08d}", number, amount, _iso_one(paid_at, 0))
        for k, (paid_at, number, amount) in enumerate(payments)
    ]
    return billed_rows, payment_rows


# ---------------------------------------------------------------------------
# the entry point


def default_snapshots_per_month(n_accounts: int) -> int:
    """A few a week for small folders (readable), several a day at scale (~100 a month)."""
    return 12 if n_accounts <= 500 else 100


def generate_exports(
    out_dir: Path,
    n_accounts: int,
    months: list[str],
    seed: int,
    *,
    fmt: str = "csv",
    with_issues: bool = True,
    snapshots_per_month: int | None = None,
) -> dict[str, int]:
    """Write a contract-shaped export folder to `out_dir`; return data rows written per table.

    `snapshots_per_month` is the mean per hwm/prepaid account and month (each
    account-month draws between half and 1.5 times it); by default
    `default_snapshots_per_month(n_accounts)`. Existing files of the same
    format are replaced; a file of the other format for the same table is an
    error (the contract forbids a table given twice).
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if n_accounts < 1:
        raise ValueError("n_accounts must be at least 1")
    month_list = _parse_months(months)
    per_month = snapshots_per_month or default_snapshots_per_month(n_accounts)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    other = "parquet" if fmt == "csv" else "csv"
    for table in TABLE_ORDER:
        if (out_dir / f"{table}.{other}").exists():
            raise ValueError(f"{out_dir / f'{table}.{other}'} exists; use another folder")

    acc = _make_accounts(seed, n_accounts, len(month_list), with_issues)
    n_issue = max(1, round(n_accounts * ISSUE_RATE)) if with_issues else 0
    issues = _choose_snapshot_issues(seed, acc, month_list, n_issue)

    writers = {t: _TableWriter(out_dir, t, fmt) for t in TABLE_ORDER}
    try:
        writers["accounts"].write_rows(_account_rows(acc))
        writers["license_prices"].write_rows(_license_price_rows(acc))
        invoices = _write_activity(seed, acc, month_list, per_month, issues, writers)
        if with_issues:
            writers["usage_snapshots"].write(_unknown_account_snapshots(acc, month_list, n_issue))
        billed_rows, payment_rows = _billing_rows(
            seed, acc, month_list, invoices, issues, n_issue, with_issues
        )
        writers["billed_invoices"].write(_columns(billed_rows, "billed_invoices"))
        writers["payments"].write(_columns(payment_rows, "payments"))
    finally:
        for writer in writers.values():
            writer.close()
    return {t: w.rows for t, w in writers.items()}


def _columns(rows: Sequence[tuple[str | None, ...]], table: str) -> dict[str, list[str | None]]:
    return {c: [r[k] for r in rows] for k, c in enumerate(COLUMNS[table])}


def _choose_snapshot_issues(
    seed: int, acc: _Accounts, months: list[Month], n_issue: int
) -> dict[str, set[int]]:
    kinds = ("exact_duplicate", "conflicting_duplicate", "unparseable_quantity")
    if n_issue == 0:
        return {k: set() for k in kinds}
    rng = _rng(seed, 4)
    pool = np.flatnonzero(
        (acc.model != 1) & ~acc.no_snapshots & (acc.start_month <= len(months) - 1)
    )
    picks = rng.permutation(pool)[: 3 * n_issue].tolist()
    return {k: set(picks[j * n_issue : (j + 1) * n_issue]) for j, k in enumerate(kinds)}


def _unknown_account_snapshots(
    acc: _Accounts, months: list[Month], n_issue: int
) -> dict[str, list[str | None]]:
    """Snapshots of accounts that are not in accounts (e.g. deleted, or from another tenant)."""
    last = months[-1]
    rows = [
        (
            f"A{len(acc.ids) + 1 + j:06d}",
            _iso_one(last.start + 86_400 * (3 + j % 20) + 3_600 * 9, 0),
            "users",
            str(5 + j),
        )
        for j in range(n_issue)
    ]
    return _columns(rows, "usage_snapshots")


def _license_price_rows(acc: _Accounts) -> list[tuple[str | None, ...]]:
    """A price for every product in every currency any account uses (USD always)."""
    used = set(acc.currency) | {"USD"}
    return [
        (product, currency, format_price(LICENSE_PRICES_P4[currency][p], CURRENCY_MINOR[currency]))
        for p, product in enumerate(PRODUCTS)
        for currency in CURRENCY_SHARE
        if currency in used
    ]


def _write_activity(
    seed: int,
    acc: _Accounts,
    months: list[Month],
    per_month: int,
    issues: dict[str, set[int]],
    writers: dict[str, _TableWriter],
) -> list[_Invoice]:
    """Write snapshots, license events and transactions by chunk; return the invoices implied."""
    n = len(acc.ids)
    invoices: list[_Invoice] = []
    counters = {"license": 0, "event": 0, "txn": 0}
    for chunk_no, first in enumerate(range(0, n, CHUNK_ACCOUNTS)):
        idx_all = np.arange(first, min(n, first + CHUNK_ACCOUNTS))
        metered = idx_all[acc.model[idx_all] != 1]
        snaps = _snapshots(seed, chunk_no, acc, metered, months, per_month, issues)
        writers["usage_snapshots"].write(snaps.columns)
        hwm_of = {int(a): snaps.hwm[j] for j, a in enumerate(metered.tolist())}

        rng = _rng(seed, 3, chunk_no)
        events: list[tuple[str | None, ...]] = []
        txns: list[tuple[str | None, ...]] = []
        for i in idx_all.tolist():
            model = int(acc.model[i])
            minor = int(acc.minor[i])
            price = int(acc.price_p4[i])
            if model == 0:
                contracted = int(acc.contracted[i])
                for m in range(len(months)):
                    hwm = int(hwm_of[i][m])
                    if contracted > 0:
                        base = _amount_minor(contracted, price, minor)
                        invoices.append(_Invoice(m, i, "BASE", base))
                        if hwm > contracted:
                            over = _amount_minor(hwm - contracted, price, minor)
                            invoices.append(_Invoice(m, i, "OVERAGE", over))
                    elif hwm > 0:
                        invoices.append(_Invoice(m, i, "BASE", _amount_minor(hwm, price, minor)))
            elif model == 1:
                account_events, days = _license_events(rng, acc, i, months, counters)
                events.extend(account_events)
                currency = acc.currency[i]
                for m, month in enumerate(months):
                    total = 0
                    for p in range(len(PRODUCTS)):
                        d = days.get((p, m), 0)
                        if d:
                            price_p = LICENSE_PRICES_P4[currency][p]
                            total += _round_half_up(d * price_p, month.days * 10 ** (4 - minor))
                    if total > 0:
                        invoices.append(_Invoice(m, i, "LICENSE", total))
            else:
                rows, shortfalls = _prepaid(rng, acc, i, hwm_of[i], months, counters)
                txns.extend(rows)
                for m, shortfall in enumerate(shortfalls):
                    if shortfall > 0:
                        invoices.append(_Invoice(m, i, "PREPAID", shortfall))
        writers["license_events"].write(_columns(events, "license_events"))
        writers["balance_transactions"].write(_columns(txns, "balance_transactions"))
    return invoices


def _parse_args(argv: Iterable[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python scripts/sample_data.py",
        description="Write a synthetic, contract-shaped export folder (deterministic for a seed).",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--accounts", type=int, required=True, help="number of accounts")
    parser.add_argument(
        "--months", required=True, help="consecutive months, comma-separated: 2026-08,2026-09"
    )
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--clean", action="store_true", help="no deliberate data problems")
    parser.add_argument(
        "--snapshots-per-month",
        type=int,
        default=None,
        help="mean snapshots per metered account and month (default: 12 up to 500 accounts, "
        "else 100)",
    )
    return parser.parse_args(None if argv is None else list(argv))


def main(argv: Iterable[str] | None = None) -> int:
    """CLI: print rows written per file."""
    args = _parse_args(argv)
    counts = generate_exports(
        args.out,
        args.accounts,
        [m.strip() for m in args.months.split(",") if m.strip()],
        args.seed,
        fmt=args.format,
        with_issues=not args.clean,
        snapshots_per_month=args.snapshots_per_month,
    )
    for table, rows in counts.items():
        print(f"{table}.{args.format}\t{rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
