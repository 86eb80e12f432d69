"""Realistic synthetic retail data for ``cdp demo``: the five sources of the retail example, with their flaws.

Persons are drawn first (French for the most part, and other European locales); each then appears in the CRM,
in the e-commerce accounts, or both, sometimes twice, with the differences real exports have: case, spaces,
typos, dropped accents, phone formats, missing fields and a few plainly bad rows. Orders, order lines and web
events follow from each person's behaviour (loyal, lapsing, browsing without buying). The ground truth
(record → person) is written beside the files. The same seed always gives the same bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
from faker import Faker

LOCALES = {  # locale: (share of persons, ISO country, email domains)
    "fr_FR": (0.70, "FR", ["gmail.com", "orange.fr", "free.fr", "laposte.net", "yahoo.fr", "hotmail.fr", "sfr.fr"]),
    "de_DE": (0.06, "DE", ["gmail.com", "gmx.de", "web.de", "t-online.de"]),
    "es_ES": (0.05, "ES", ["gmail.com", "hotmail.es", "yahoo.es"]),
    "it_IT": (0.05, "IT", ["gmail.com", "libero.it", "virgilio.it"]),
    "en_GB": (0.05, "GB", ["gmail.com", "outlook.com", "btinternet.com"]),
    "nl_BE": (0.05, "BE", ["gmail.com", "telenet.be", "skynet.be"]),
    "pt_PT": (0.04, "PT", ["gmail.com", "sapo.pt", "hotmail.com"]),
}
COUNTRY_SPELLINGS = {"FR": ["FR", "FR", "fr", "France", "FRANCE"], "DE": ["DE", "Allemagne", "Deutschland"],
                     "ES": ["ES", "Espagne", "España"], "IT": ["IT", "Italie", "Italia"],
                     "GB": ["GB", "Royaume-Uni", "United Kingdom"], "BE": ["BE", "Belgique", "België"],
                     "PT": ["PT", "Portugal"]}
NULL_TOKENS = ["N/A", "NULL", "-", "none", ""]
TRUE_TOKENS, FALSE_TOKENS = ["1", "true", "oui", "yes", "True"], ["0", "false", "non", "no", "False"]
CATEGORIES = {"shoes": (35, 160), "dresses": (30, 180), "shirts": (15, 70), "trousers": (25, 110),
              "accessories": (8, 90), "beauty": (6, 60), "home": (10, 150), "kids": (8, 50), "sport": (15, 120),
              "outerwear": (50, 260)}
SEARCH_TERMS = ["robe été", "baskets blanches", "jean slim", "sac cuir", "parfum", "veste pluie", "pyjama enfant",
                "chemise lin", "bottines", "bougie parfumée", "legging sport", "manteau laine"]
# How a French mobile is typed: 06 12 34 56 78, 0612345678, +33 6 12 34 56 78, +33612345678, 0033 6 12 34 56 78,
# 06.12.34.56.78 (``first`` is the digit after the 0, ``digits`` the nine after it, ``pairs`` the last eight in pairs).
FR_PHONE_STYLES = ["0{first} {pairs}", "0{digits}", "+33 {first} {pairs}", "{e164}", "0033 {first} {pairs}",
                   "0{first}.{dotted}"]
# The kinds of plainly bad rows in a CRM export: the values they put in place ({local}: the email before its @).
# A missing key or an unreadable update time gets the row quarantined; the others are kept with a warning.
BAD_CRM_ROWS = [{"customer_id": ""}, {"email": "{local}@"}, {"birth_date": "31/02/1990"},
                {"birth_date": "2031-05-04"}, {"updated_at": "hier"}, {"phone": "12", "email": "nobody at mail"}]
CRM_COLUMNS = ["customer_id", "first_name", "last_name", "email", "phone", "birth_date", "street", "postcode",
               "city", "country", "email_opt_in", "sms_opt_in", "updated_at"]
ORDER_COLUMNS = ["order_id", "customer_id", "account_id", "email", "order_date", "channel", "store_id", "amount",
                 "currency"]
LINE_COLUMNS = ["order_id", "line_no", "sku", "category", "quantity", "unit_price"]
POOL = 400  # names, streets and towns drawn per locale


@dataclass(frozen=True)
class SyntheticDataset:
    landing: Path
    truth: Path
    files: dict[str, list[Path]]
    rows: dict[str, int]
    persons: int


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def email_name(name: str) -> str:
    """A name as it is written in an email address: no accents, spaces or apostrophes, in lower case."""
    return _ascii(name).lower().replace(" ", "").replace("'", "")


def _pools(seed: int) -> dict[str, dict[str, list]]:
    pools = {}
    for index, locale in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + index)
        pools[locale] = {
            "first": [fake.first_name() for _ in range(POOL)],
            "last": [fake.last_name() for _ in range(POOL)],
            "street": [fake.street_address().replace("\n", " ") for _ in range(POOL)],
            "town": _towns(fake, POOL),
        }
    return pools


def _towns(fake: Faker, count: int) -> list[tuple[str, str]]:
    """Postcodes and towns. Where the locale lists its towns (Faker's Italian one builds that list from a set, in
    an order that follows the process's string hashing), draw from the sorted list: same seed, same files."""
    listed = getattr(fake.provider("faker.providers.address"), "cities", None)
    towns = sorted(listed) if isinstance(listed, list | tuple) and listed else None
    return [(fake.postcode(), fake.random_element(towns) if towns else fake.city()) for _ in range(count)]


def _mobile(rng: np.random.Generator, country: str) -> str:
    """A valid mobile number of the country, in E.164, from phonenumbers' example number with new digits."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    for _ in range(20):
        keep = 3 if country != "FR" else 1
        candidate = national[:keep] + "".join(map(str, rng.integers(0, 10, len(national) - keep)))
        if country == "FR":
            candidate = rng.choice(["6", "7"]) + str(rng.choice([3, 4, 5, 6, 7, 8] if candidate[0] == "7" else
                                                                 [0, 1, 2, 4, 5, 6, 7, 8])) + candidate[2:]
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def _phone_as_typed(rng: np.random.Generator, e164: str, country: str) -> str:
    if country != "FR":
        number = phonenumbers.parse(e164)
        style = [phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.E164]
        return phonenumbers.format_number(number, style[int(rng.integers(0, 2))])
    digits = e164[3:]
    pairs = " ".join(digits[i:i + 2] for i in range(1, 9, 2))
    style = FR_PHONE_STYLES[int(rng.integers(0, len(FR_PHONE_STYLES)))]
    return style.format(first=digits[0], pairs=pairs, digits=digits, e164=e164, dotted=pairs.replace(" ", "."))


def _typo(rng: np.random.Generator, text: str) -> str:
    if len(text) < 4:
        return text
    i = int(rng.integers(1, len(text) - 1))
    if rng.random() < 0.5:
        return text[:i] + text[i + 1:]  # a dropped letter
    return text[:i - 1] + text[i] + text[i - 1] + text[i + 1:]  # two letters swapped


def _vary_name(rng: np.random.Generator, name: str) -> str:
    roll = rng.random()
    if roll < 0.04:
        name = _typo(rng, name)
    elif roll < 0.14:
        name = _ascii(name)
    roll = rng.random()
    return name.upper() if roll < 0.12 else name.lower() if roll < 0.18 else f" {name}" if roll < 0.21 else name


def _vary_email(rng: np.random.Generator, email: str) -> str:
    roll = rng.random()
    if roll < 0.10:
        return email.upper()
    if roll < 0.20:
        return email.capitalize()
    if roll < 0.25:
        return f" {email} "
    return email


def _persons(rng: np.random.Generator, pools: dict, profiles: int, end: date) -> pd.DataFrame:
    locales = list(LOCALES)
    shares = np.array([LOCALES[loc][0] for loc in locales])
    chosen = rng.choice(len(locales), size=profiles, p=shares / shares.sum())
    rows = []
    used_emails: set[str] = set()
    for person, locale_index in enumerate(chosen):
        locale = locales[locale_index]
        pool = pools[locale]
        country, domains = LOCALES[locale][1], LOCALES[locale][2]
        first, last = pool["first"][rng.integers(POOL)], pool["last"][rng.integers(POOL)]
        postcode, city = pool["town"][rng.integers(POOL)]
        local = f"{email_name(first)}.{email_name(last)}"
        if rng.random() < 0.4:
            local += str(int(rng.integers(1, 99)))
        email = f"{local}@{domains[rng.integers(len(domains))]}"
        while email in used_emails:
            email = f"{local}{person}@{domains[rng.integers(len(domains))]}"
        used_emails.add(email)
        rows.append({
            "person_id": f"H{person:07d}", "locale": locale, "country": country, "first_name": first,
            "last_name": last, "email": email, "phone": _mobile(rng, country),
            "birth_date": end - timedelta(days=int(rng.integers(18 * 365, 85 * 365))),
            "street": pool["street"][rng.integers(POOL)], "postcode": postcode, "city": city,
            "email_opt_in": bool(rng.random() < 0.62), "sms_opt_in": bool(rng.random() < 0.38),
        })
    frame = pd.DataFrame(rows)
    frame["in_crm"] = rng.random(profiles) < 0.75
    frame["has_account"] = rng.random(profiles) < 0.60
    frame.loc[~frame["in_crm"] & ~frame["has_account"] & (rng.random(profiles) < 0.5), "in_crm"] = True
    # Behaviour: who buys, how much, and whether they are still active.
    frame["segment"] = rng.choice(["loyal", "occasional", "lapsed", "browser", "none"], size=profiles,
                                  p=[0.15, 0.35, 0.15, 0.10, 0.25])
    frame.loc[(frame["segment"] == "browser") & ~frame["has_account"], "segment"] = "none"
    return frame


def _timestamp(rng: np.random.Generator, end: date, max_days: int) -> datetime:
    return datetime.combine(end, datetime.min.time()) - timedelta(minutes=int(rng.integers(60, max_days * 1440)))


def _bad_crm_row(rng: np.random.Generator, row: dict) -> dict:
    kind = BAD_CRM_ROWS[int(rng.integers(0, len(BAD_CRM_ROWS)))]
    local = row["email"].split("@")[0]
    for column, value in kind.items():
        row[column] = value.format(local=local)
    return row


def _crm(rng: np.random.Generator, persons: pd.DataFrame, end: date) -> tuple[list[dict], list[tuple[str, str]]]:
    rows, truth = [], []
    counter = 0
    for p in persons[persons["in_crm"]].itertuples():
        for copy in range(2 if rng.random() < 0.05 else 1):
            counter += 1
            customer_id = f"C{counter + 100000:07d}"
            birth = p.birth_date.isoformat() if rng.random() < 0.5 else p.birth_date.strftime("%d/%m/%Y")
            row = {
                "customer_id": customer_id,
                "first_name": _vary_name(rng, p.first_name),
                "last_name": _vary_name(rng, p.last_name),
                "email": "" if rng.random() < 0.06 + 0.3 * copy else _vary_email(rng, p.email),
                "phone": "" if rng.random() < 0.20 else _phone_as_typed(rng, p.phone, p.country),
                "birth_date": birth if rng.random() < 0.8 else NULL_TOKENS[rng.integers(len(NULL_TOKENS))],
                "street": p.street if rng.random() < 0.9 else "",
                "postcode": p.postcode, "city": p.city if rng.random() < 0.8 else p.city.upper(),
                "country": COUNTRY_SPELLINGS[p.country][rng.integers(len(COUNTRY_SPELLINGS[p.country]))],
                "email_opt_in": (TRUE_TOKENS if p.email_opt_in else FALSE_TOKENS)[rng.integers(5)]
                if rng.random() < 0.93 else "",
                "sms_opt_in": (TRUE_TOKENS if p.sms_opt_in else FALSE_TOKENS)[rng.integers(5)]
                if rng.random() < 0.93 else "",
                "updated_at": _timestamp(rng, end, 730).strftime(
                    "%Y-%m-%dT%H:%M:%S" if rng.random() < 0.5 else "%Y-%m-%d %H:%M:%S"),
            }
            if rng.random() < 0.03:
                row = _bad_crm_row(rng, row)
            rows.append(row)
            if row["customer_id"]:
                truth.append((f"crm:{row['customer_id']}", p.person_id))
    return rows, truth


def _accounts(rng: np.random.Generator, persons: pd.DataFrame, end: date) -> tuple[list[dict], list[tuple[str, str]]]:
    rows, truth = [], []
    counter = 0
    for p in persons[persons["has_account"]].itertuples():
        for copy in range(2 if rng.random() < 0.03 else 1):
            counter += 1
            account_id = f"A{counter + 500000:07d}"
            email = _vary_email(rng, p.email)
            if copy:  # a second account, opened with another address but the same phone
                email = f"{p.email.split('@')[0]}.{counter}@gmail.com"
            row = {
                "account_id": account_id,
                "email": email,
                "first_name": _vary_name(rng, p.first_name) if rng.random() < 0.9 else None,
                "last_name": _vary_name(rng, p.last_name) if rng.random() < 0.9 else None,
                "phone": _phone_as_typed(rng, p.phone, p.country) if rng.random() < 0.55 or copy else None,
                "created_at": _timestamp(rng, end, 900).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            roll = rng.random()
            if roll < 0.015:
                row["email"] = "not-an-email"
            elif roll < 0.025:
                row["created_at"] = "N/A"
            elif roll < 0.03:
                row["account_id"] = None
            rows.append(row)
            if row["account_id"]:
                truth.append((f"accounts:{account_id}", p.person_id))
    return rows, truth


def _catalogue(rng: np.random.Generator) -> pd.DataFrame:
    categories = list(CATEGORIES)
    category = rng.choice(categories, size=400)
    low = np.array([CATEGORIES[c][0] for c in category])
    high = np.array([CATEGORIES[c][1] for c in category])
    price = np.round(low + (high - low) * rng.beta(2, 4, size=400), 0) - 0.01
    return pd.DataFrame({"sku": [f"SKU-{10000 + i}" for i in range(400)], "category": category, "price": price})


def _orders(rng: np.random.Generator, persons: pd.DataFrame, crm: list[dict], accounts: list[dict],
            catalogue: pd.DataFrame, end: date) -> tuple[list[dict], list[dict]]:
    customer_of: dict[str, str] = {}
    account_of: dict[str, str] = {}
    for row, key, mapping in [(r, "customer_id", customer_of) for r in crm] + \
                              [(r, "account_id", account_of) for r in accounts]:
        if row.get(key):
            mapping.setdefault(row["_person"], row[key])
    orders, lines = [], []
    products = list(catalogue.itertuples(index=False, name=None))
    end_dt = datetime.combine(end, datetime.min.time())
    counts = {"loyal": (4, 15), "occasional": (1, 4), "lapsed": (2, 6)}
    for p in persons[persons["segment"].isin(list(counts))].itertuples():
        low, high = counts[p.segment]
        n = int(rng.integers(low, high + 1))
        if p.segment == "lapsed":  # stopped buying 6 to 18 months ago
            days = rng.integers(200, 700, n)
        elif p.segment == "loyal":
            days = rng.integers(1, 700, n)
            days[0] = rng.integers(1, 120)
        else:
            days = rng.integers(1, 730, n)
        basket = 1.3 if p.segment == "loyal" else 1.0
        for offset in np.sort(days)[::-1]:
            order_id = f"O{len(orders) + 1:07d}"
            order_date = end_dt - timedelta(days=int(offset), minutes=int(rng.integers(0, 1440)))
            customer_id, account_id = customer_of.get(p.person_id), account_of.get(p.person_id)
            channel = rng.choice(["store", "web", "app"], p=[0.4, 0.45, 0.15])
            if channel == "store" and customer_id is None:
                channel = "web"
            chosen = rng.integers(0, len(products), int(rng.choice([1, 1, 1, 2, 2, 3, 4, 5])))
            quantity = rng.choice([1, 1, 1, 1, 2, 3], size=len(chosen))
            amount = 0.0
            for line_no, (product, qty) in enumerate(zip(chosen, quantity, strict=True), start=1):
                sku, category, price = products[product]
                unit_price = round(float(price) * basket, 2)
                amount += unit_price * int(qty)
                lines.append({"order_id": order_id, "line_no": line_no, "sku": sku, "category": category,
                              "quantity": int(qty), "unit_price": f"{unit_price:.2f}"})
            orders.append({
                "order_id": order_id,
                "customer_id": customer_id if channel == "store" else "",
                "account_id": (account_id or "") if channel != "store" else "",
                "email": "" if channel == "store" else _vary_email(rng, p.email),
                "order_date": order_date.strftime("%Y-%m-%dT%H:%M:%S"),
                "channel": channel,
                "store_id": f"S{int(rng.integers(1, 40)):03d}" if channel == "store" else "",
                "amount": f"{amount:.2f}",
                "currency": "EUR",
            })
    return orders, lines


def _web_events(rng: np.random.Generator, persons: pd.DataFrame, accounts: list[dict], catalogue: pd.DataFrame,
                end: date) -> list[dict]:
    account_of: dict[str, str] = {}
    for row in accounts:
        if row.get("account_id"):
            account_of.setdefault(row["_person"], row["account_id"])
    end_dt = datetime.combine(end, datetime.min.time())
    events = []
    visitors = [(account_of.get(p.person_id), p.segment) for p in persons.itertuples()
                if p.person_id in account_of] + [(None, "anonymous")] * (len(persons) // 2)
    types = ["page_view", "product_view", "search", "add_to_cart", "checkout"]
    products = list(catalogue.itertuples(index=False, name=None))
    for visitor, (account_id, segment) in enumerate(visitors):
        device = f"anon-{visitor:07d}-{int(rng.integers(0, 1 << 30)):08x}"
        mean = {"browser": 25, "loyal": 18, "anonymous": 4}.get(segment, 8)
        n = int(rng.poisson(mean))
        kinds = rng.choice(types, size=n, p=[0.45, 0.3, 0.12, 0.1, 0.03])
        picks = rng.integers(0, len(products), n)
        logged = rng.random(n) < 0.6
        minutes = rng.integers(1, 180 * 1440, n)
        terms = rng.choice(SEARCH_TERMS, size=n)
        for kind, pick, logged_in, minute, term in zip(kinds, picks, logged, minutes, terms, strict=True):
            sku, category, _ = products[pick]
            logged_in = account_id is not None and logged_in
            ts = end_dt - timedelta(minutes=int(minute))
            events.append({
                "event_id": f"E{len(events) + 1:08d}",
                "anonymous_id": device,
                "account_id": account_id if logged_in else None,
                "event_type": str(kind),
                "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "url": "https://shop.example.com/search" if kind == "search" else f"https://shop.example.com/p/{sku}",
                "sku": None if kind in ("search", "page_view") else sku,
                "category": None if kind == "search" else str(category),
                "search_terms": str(term) if kind == "search" else None,
            })
    return events


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _jsonl(rows: list[dict], columns: list[str]) -> bytes:
    return "".join(json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False) + "\n" for r in rows).encode()


def generate(workdir: Path, *, profiles: int = 10_000, seed: int = 0, end_date: date = date(2026, 11, 1)
             ) -> SyntheticDataset:
    """Write the five retail sources under ``workdir/landing/<source>/`` and ``workdir/truth.csv``."""
    rng = np.random.default_rng(seed)
    landing = workdir / "landing"
    persons = _persons(rng, _pools(seed), profiles, end_date)
    crm, crm_truth = _crm(rng, persons, end_date)
    accounts, account_truth = _accounts(rng, persons, end_date)
    # Remember whose record each row is, for orders and events; never written out.
    for rows, truth in ((crm, crm_truth), (accounts, account_truth)):
        by_key = dict(truth)
        for row in rows:
            key = f"crm:{row['customer_id']}" if "customer_id" in row else f"accounts:{row['account_id']}"
            row["_person"] = by_key.get(key)
    catalogue = _catalogue(rng)
    orders, lines = _orders(rng, persons, crm, accounts, catalogue, end_date)
    events = _web_events(rng, persons, accounts, catalogue, end_date)

    files = {
        "crm": [landing / "crm" / "crm_export.csv"],
        "accounts": [landing / "accounts" / "accounts.jsonl"],
        "orders": [landing / "orders" / "orders.csv"],
        "order_lines": [landing / "order_lines" / "order_lines.csv"],
        "web_events": [landing / "web_events" / "web_events.jsonl.gz"],
    }
    _write_csv(files["crm"][0], CRM_COLUMNS, crm)
    files["accounts"][0].parent.mkdir(parents=True, exist_ok=True)
    files["accounts"][0].write_bytes(_jsonl(accounts, ["account_id", "email", "first_name", "last_name", "phone",
                                                       "created_at"]))
    _write_csv(files["orders"][0], ORDER_COLUMNS, orders)
    _write_csv(files["order_lines"][0], LINE_COLUMNS, lines)
    files["web_events"][0].parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as archive:
        archive.write(_jsonl(events, ["event_id", "anonymous_id", "account_id", "event_type", "ts", "url", "sku",
                                      "category", "search_terms"]))
    files["web_events"][0].write_bytes(buffer.getvalue())
    truth_path = workdir / "truth.csv"
    pd.DataFrame(crm_truth + account_truth, columns=["record_key", "person_id"]).to_csv(truth_path, index=False)
    return SyntheticDataset(
        landing, truth_path, files,
        {"crm": len(crm), "accounts": len(accounts), "orders": len(orders), "order_lines": len(lines),
         "web_events": len(events)},
        profiles,
    )
