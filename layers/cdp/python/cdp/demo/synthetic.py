"""Realistic synthetic retail data for ``cdp demo``: the five sources of the retail example, with their flaws.

Persons are drawn first (French for the most part, and other European locales), about a third of them in
households (couples, families, flatmates); each then appears in the CRM, in the e-commerce accounts, or both,
sometimes twice, with the differences real exports have: case, spaces, typos, dropped accents, phone formats,
missing fields and a few plainly bad rows. The records also carry the traps identity resolution meets in real retail
bases: housemates sharing an address, a landline, a family mailbox or a partner's email; parents and children with
the same names, twins; junk identifiers typed at the till; corporate mailboxes shared by colleagues; mobiles
recycled to strangers; the same person under a second card, a second account, a married name, a swapped birth date
or a nickname; strangers with the same common name (the rates are the constants below). Orders, order lines and web
events follow from each person's behaviour (loyal, lapsing, browsing without buying). The ground truth
(record → person: whose record it is, whatever it carries) is written beside the files. The same seed always gives
the same bytes.
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

# The traps real retail bases set for identity resolution (see the notes on households in IDENTITY.md). The truth
# stays the person who owns each record, whoever else's email or phone the record carries.
# Households.
HOUSEHOLD_SHARE = 0.30  # persons who live with others: couples, families, flatmates (sizes 2 to 5)
HOUSEHOLD_KINDS = {  # kind: (share of households, sizes drawn among)
    "couple": (0.45, (2,)), "family": (0.33, (3, 3, 4, 4, 5)), "single_parent": (0.10, (2, 2, 3)),
    "flatmates": (0.12, (2, 2, 3))}
COUPLE_SAME_LAST_NAME = 0.65  # couples (and parents) where one partner took the other's last name
OLD_NAME_ON_FIRST_CARD = 0.5  # a person who took a married name: their first loyalty card still has the birth name
MARRIED_NAME_SHARE = 0.02  # persons living alone (or with a partner who is no customer) who took a married name
DOUBLE_LAST_NAME_SHARE = 0.03  # persons and households with a hyphenated last name (Martin-Dupont)
JUNIOR_SHARE = 0.15  # children given a parent's first name (Jean Martin senior and junior, other birth dates)
TWINS_SHARE = 0.10  # families with two children or more whose eldest two are twins (same birth date)
LANDLINE_SHARE = 0.55  # households with a landline (a fixed line of their country)
LANDLINE_ON_CRM = 0.6  # a household member's CRM record that carries the landline instead of the mobile
LANDLINE_ON_ACCOUNT = 0.15  # a household member's web account that carries it
FAMILY_MAILBOX_SHARE = 0.20  # couples and families with a family mailbox (famille.martin@...)
FAMILY_MAILBOX_ON_CRM = 0.6  # a member's CRM record that carries it instead of their own address
PARTNER_EMAIL_ON_CRM = 0.10  # a partner's CRM record that carries the other partner's email
# Identifiers that belong to no one, or to someone else.
JUNK_EMAIL_RATE = 0.012  # CRM records with a junk email typed at the till (test@test.com, a@a.fr, ...)
JUNK_PHONE_RATE = 0.012  # CRM records with a junk phone (0600000000, 0123456789, ...)
CORPORATE_SHARE = 0.025  # French persons who give their employer's shared mailbox (contact@company.fr)
CORPORATE_ON_CRM = 0.7  # ... on their CRM record
COLLEAGUES = 5  # persons per company, on average
RECYCLED_SHARE = 0.01  # persons whose old mobile, on their older CRM card, now belongs to a stranger
# The same person with no exact key in common.
SECOND_CARD_RATE = 0.05  # CRM persons with a second loyalty card (a new customer_id)
SECOND_CARD_EMAIL = {"none": 0.35, "new": 0.25, "same": 0.40}  # the second card's email: none, a new one, as before
SECOND_CARD_PHONE = {"none": 0.30, "new": 0.20, "same": 0.50}  # the second card's phone
MOVED_ON_SECOND_CARD = 0.4  # second cards with a new address
SECOND_ACCOUNT_RATE = 0.03  # account holders with a second web account under another email
SECOND_ACCOUNT_PHONE = 0.5  # ... that gives the same phone (the others share no key with the first)
# Purchase behaviour per kind of customer: mean days between purchases while active, the gamma shape of buying
# rates across people (smaller: more unequal), and the Beta(a, b) chance of stopping after each purchase.
BUYING = {"loyal": (35.0, 2.0, (1.0, 40.0)), "occasional": (150.0, 1.0, (1.5, 6.0)), "lapsed": (60.0, 1.5, (1.0, 20.0))}
HISTORY_DAYS = 730  # first purchases and web visits fall in the last two years
RISK_PAGES = ["https://shop.example.com/account/unsubscribe", "https://shop.example.com/cgv"]
# Seasonality of purchases by month, January first: winter sales, a quiet August, Black Friday and Christmas.
SEASONS = (1.25, 0.8, 0.9, 0.95, 1.0, 1.1, 1.2, 0.7, 0.9, 1.0, 1.5, 1.7)
WEB_ORDER_WITH_CARD = 0.15  # web and app orders where the buyer typed their loyalty card number at checkout
STORE_E_RECEIPT = 0.25  # store orders whose receipt was sent by email (the address typed at the till)
SWAPPED_BIRTH_RATE = 0.03  # records with day and month swapped in the birth date (where the day is 12 or less)
NICKNAME_RATE = 0.05  # records with a nickname or an initial for the first name (Alexandre → Alex, J., JP)
HYPHEN_PARTIAL_RATE = 0.35  # records of a hyphenated name typed in part (Jean-Pierre → Jean, Jean Pierre)
# Names strangers share: French and Vietnamese names are few and common.
COMMON_NAME_SHARE = 0.10  # French first names, and last names, drawn among the most common (Zipf weights)
COMPOUND_FIRST_SHARE = 0.05  # French persons with a hyphenated first name
VIETNAMESE_SHARE = 0.03  # French households with Vietnamese names

COMMON_FIRST_FR = ["Marie", "Jean", "Nathalie", "Pierre", "Isabelle", "Michel", "Philippe", "Sylvie", "Catherine",
                   "Nicolas", "Christophe", "Sophie", "Stéphane", "Sandrine", "Frédéric", "Céline", "Laurent",
                   "Valérie", "David", "Julien"]
COMMON_LAST_FR = ["Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
                  "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier",
                  "Girard"]
COMPOUND_FIRST_FR = ["Jean-Pierre", "Jean-Claude", "Marie-Christine", "Jean-François", "Anne-Sophie", "Jean-Luc",
                     "Marie-Claire", "Jean-Marc", "Pierre-Yves", "Anne-Marie", "Jean-Baptiste", "Marie-Laure",
                     "Marie-Hélène", "Jean-Paul"]
VIETNAMESE_LAST = {"Nguyen": 38, "Tran": 11, "Le": 9.5, "Pham": 7, "Huynh": 5, "Hoang": 5, "Phan": 4.5, "Vu": 4,
                   "Vo": 3, "Dang": 2, "Bui": 2, "Do": 1.5, "Ho": 1.5, "Ngo": 1.3, "Duong": 1, "Ly": 0.5}
VIETNAMESE_FIRST = ["Thi Lan", "Van Minh", "Minh", "Anh", "Linh", "Thi Hoa", "Tuan", "Duc", "Thi Mai", "Hung",
                    "Thanh", "Huong", "Quang", "Hai", "Thu", "Dung", "Phuong", "Trang", "Nam", "Khanh", "Van Long",
                    "Thi Thu"]
NICKNAMES = {"Alexandre": "Alex", "Alexandra": "Alex", "Alexander": "Alex", "Christophe": "Chris",
             "Christine": "Chris", "Frédéric": "Fred", "Sébastien": "Seb", "Stéphanie": "Steph", "Stéphane": "Steph",
             "Nicolas": "Nico", "Catherine": "Cathy", "Isabelle": "Isa", "Caroline": "Caro", "Dominique": "Dom",
             "Véronique": "Véro", "Philippe": "Phil", "Benjamin": "Ben", "Maxime": "Max", "Thomas": "Tom",
             "Mathieu": "Mat", "Valentin": "Val", "Élisabeth": "Babeth", "Emmanuel": "Manu", "Emmanuelle": "Manue",
             "Nathalie": "Nath", "Sandrine": "Sandy", "Timothée": "Tim", "William": "Will", "Robert": "Bob",
             "Elizabeth": "Liz", "Michael": "Mike", "Daniel": "Dan", "Margaret": "Maggie", "Francisco": "Paco",
             "José": "Pepe", "Giuseppe": "Peppe", "Antonio": "Toni", "Johannes": "Hannes", "Valérie": "Val"}
FAMILY_WORDS = {"fr_FR": "famille", "de_DE": "familie", "es_ES": "familia", "it_IT": "famiglia", "en_GB": "family",
                "nl_BE": "familie", "pt_PT": "familia"}
JUNK_EMAILS = ["test@test.com", "a@a.fr", "noemail@noemail.com", "pasdemail@gmail.com", "aucun@aucun.fr",
               "xx@xx.fr", "nomail@orange.fr", "client@magasin.fr"]
JUNK_PHONES = ["0600000000", "0123456789", "06 00 00 00 00", "0611111111", "0612345678", "0102030405"]
CORPORATE_BOXES = ["contact", "accueil", "info", "secretariat", "compta", "direction"]
COMPANY_TRADES = ["conseil", "immobilier", "transports", "assurances", "btp", "avocats", "industrie", "services",
                  "pharmacie", "garage"]


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


@dataclass(frozen=True)
class _Weighted:
    """Values drawn with fixed weights: one uniform draw and a binary search (``rng.choice`` with ``p`` is slow)."""
    values: tuple[str, ...]
    cumulative: np.ndarray

    @classmethod
    def of(cls, weights: dict[str, float]) -> _Weighted:
        total = np.cumsum(list(weights.values()))
        return cls(tuple(weights), total / total[-1])

    @classmethod
    def zipf(cls, values: list[str], shift: int = 1) -> _Weighted:  # the first is the most common: 1/(rank+shift)
        return cls.of({value: 1 / (rank + shift) for rank, value in enumerate(values)})

    def draw(self, rng: np.random.Generator) -> str:
        return self.values[min(int(np.searchsorted(self.cumulative, rng.random(), side="right")),
                               len(self.values) - 1)]


NAMES_FR = {"first": _Weighted.zipf(COMMON_FIRST_FR), "last": _Weighted.zipf(COMMON_LAST_FR),
            "compound": _Weighted.zipf(COMPOUND_FIRST_FR)}
NAMES_VN = {"first": _Weighted.zipf(VIETNAMESE_FIRST, shift=2), "last": _Weighted.of(VIETNAMESE_LAST)}
KINDS = _Weighted.of({kind: share for kind, (share, _) in HOUSEHOLD_KINDS.items()})


def _example(country: str, kind: int) -> phonenumbers.PhoneNumber:
    key = (country, kind)
    if key not in _EXAMPLES:
        _EXAMPLES[key] = phonenumbers.example_number_for_type(country, kind)
    return _EXAMPLES[key]


_EXAMPLES: dict[tuple[str, int], phonenumbers.PhoneNumber] = {}


def _number(rng: np.random.Generator, country: str, kind: int = phonenumbers.PhoneNumberType.MOBILE) -> str:
    """A valid number of the country (a mobile, or a fixed line), in E.164, from phonenumbers' example with new
    digits."""
    example = _example(country, kind)
    national = phonenumbers.national_significant_number(example)
    landline = kind == phonenumbers.PhoneNumberType.FIXED_LINE
    for _ in range(20):
        keep = 3 if country != "FR" else 1
        candidate = national[:keep] + "".join(map(str, rng.integers(0, 10, len(national) - keep)))
        if country == "FR" and landline:  # 01 to 05, by region
            candidate = str(int(rng.integers(1, 6))) + candidate[1:]
        elif country == "FR":
            candidate = rng.choice(["6", "7"]) + str(rng.choice([3, 4, 5, 6, 7, 8] if candidate[0] == "7" else
                                                                 [0, 1, 2, 4, 5, 6, 7, 8])) + candidate[2:]
        number = phonenumbers.PhoneNumber(country_code=example.country_code, national_number=int(candidate),
                                          italian_leading_zero=candidate.startswith("0") or None)
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def _mobile(rng: np.random.Generator, country: str) -> str:
    """A valid mobile number of the country, in E.164."""
    return _number(rng, country)


def _unique_number(rng: np.random.Generator, country: str, used: set[str],
                   kind: int = phonenumbers.PhoneNumberType.MOBILE) -> str:
    """A number nobody else has (chance collisions would be recycled numbers the truth knows nothing about)."""
    number = _number(rng, country, kind)
    while number in used:
        number = _number(rng, country, kind)
    used.add(number)
    return number


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


def _in_part(rng: np.random.Generator, name: str) -> str:
    """A hyphenated name typed in part: Jean-Pierre → Jean Pierre, Jean or Jeanpierre."""
    roll = rng.random()
    if roll < 0.45:
        return name.replace("-", " ")
    if roll < 0.85:
        return name.split("-")[0]
    return name.split("-")[0] + "".join(part.lower() for part in name.split("-")[1:])


def _short_first(rng: np.random.Generator, first: str) -> str:
    """A nickname or an initial: Alexandre → Alex, Jean-Pierre → JP or J-P, Thi Lan → Lan, Pierre → P."""
    if "-" in first:
        initials = [part[0].upper() for part in first.split("-")]
        return ["".join(initials), "-".join(initials), first.split("-")[0]][int(rng.integers(0, 3))]
    if " " in first:
        return first.split(" ")[-1]
    if first in NICKNAMES and rng.random() < 0.75:
        return NICKNAMES[first]
    return first[0] + ("." if rng.random() < 0.6 else "")


def _vary_first(rng: np.random.Generator, first: str) -> str:
    roll = rng.random()
    if roll < NICKNAME_RATE:
        return _vary_name(rng, _short_first(rng, first)) if len(first) > 1 else first
    if "-" in first and roll < NICKNAME_RATE + HYPHEN_PARTIAL_RATE:
        first = _in_part(rng, first)
    return _vary_name(rng, first)


def _vary_last(rng: np.random.Generator, last: str) -> str:
    if "-" in last and rng.random() < HYPHEN_PARTIAL_RATE:
        last = _in_part(rng, last)
    return _vary_name(rng, last)


def _vary_email(rng: np.random.Generator, email: str) -> str:
    roll = rng.random()
    if roll < 0.10:
        return email.upper()
    if roll < 0.20:
        return email.capitalize()
    if roll < 0.25:
        return f" {email} "
    return email


def _birth_as_typed(rng: np.random.Generator, birth: date) -> str:
    if rng.random() < SWAPPED_BIRTH_RATE and birth.day <= 12 and birth.day != birth.month:
        birth = birth.replace(month=birth.day, day=birth.month)  # 03/07 typed for 07/03
    return birth.isoformat() if rng.random() < 0.5 else birth.strftime("%d/%m/%Y")


def _first_name(rng: np.random.Generator, pool: dict, locale: str, vietnamese: bool,
                avoid: tuple[str, ...] = ()) -> str:
    for _ in range(10):
        if vietnamese:
            first = NAMES_VN["first"].draw(rng)
        else:
            roll = rng.random() if locale == "fr_FR" else 1.0
            first = NAMES_FR["first"].draw(rng) if roll < COMMON_NAME_SHARE else NAMES_FR["compound"].draw(rng) \
                if roll < COMMON_NAME_SHARE + COMPOUND_FIRST_SHARE else pool["first"][rng.integers(POOL)]
        if first not in avoid:
            return first
    return first


def _last_name(rng: np.random.Generator, pool: dict, locale: str, vietnamese: bool, avoid: str = "") -> str:
    for _ in range(10):
        if vietnamese:
            last = NAMES_VN["last"].draw(rng)
        elif locale == "fr_FR" and rng.random() < COMMON_NAME_SHARE:
            last = NAMES_FR["last"].draw(rng)
        else:
            last = pool["last"][rng.integers(POOL)]
        if last != avoid:
            return last
    return last


def _birth(rng: np.random.Generator, end: date, youngest: float, oldest: float) -> date:
    return end - timedelta(days=int(rng.integers(int(youngest * 365), int(oldest * 365))))


def _age(birth: date, end: date) -> float:
    return (end - birth).days / 365


def _household_plan(rng: np.random.Generator, profiles: int) -> list[tuple[str, int]]:
    """The units persons live in: households of 2 to 5 for about HOUSEHOLD_SHARE of them, the rest alone."""
    target = round(HOUSEHOLD_SHARE * profiles)
    units, members = [], 0
    while target - members >= 2:
        kind = KINDS.draw(rng)
        sizes = HOUSEHOLD_KINDS[kind][1]
        size = min(sizes[int(rng.integers(0, len(sizes)))], target - members)
        if size < min(sizes):
            kind = "couple" if size == 2 else kind
        units.append((kind, size))
        members += size
    units += [("single", 1)] * (profiles - members)
    return [units[i] for i in rng.permutation(len(units))]


def _unit(rng: np.random.Generator, kind: str, size: int, pool: dict, locale: str, end: date) -> list[dict]:
    """The persons of one unit: names and birth dates, as households give them."""
    vietnamese = locale == "fr_FR" and rng.random() < VIETNAMESE_SHARE
    family = _last_name(rng, pool, locale, vietnamese)
    if rng.random() < DOUBLE_LAST_NAME_SHARE:
        family = f"{family}-{_last_name(rng, pool, locale, vietnamese, avoid=family)}"
    if kind == "single":
        birth_last = _last_name(rng, pool, locale, vietnamese, avoid=family) \
            if rng.random() < MARRIED_NAME_SHARE else ""
        return [{"first_name": _first_name(rng, pool, locale, vietnamese), "last_name": family,
                 "birth_last": birth_last, "birth_date": _birth(rng, end, 18, 85), "role": "single"}]
    if kind == "flatmates":
        return [{"first_name": _first_name(rng, pool, locale, vietnamese),
                 "last_name": family if i == 0 else _last_name(rng, pool, locale, vietnamese), "birth_last": "",
                 "birth_date": _birth(rng, end, 19, 35), "role": "flatmate"} for i in range(size)]
    adults = 2 if kind in ("couple", "family") else 1
    oldest = _birth(rng, end, 20, 85) if kind == "couple" else _birth(rng, end, 40, 75)
    members = [{"first_name": _first_name(rng, pool, locale, vietnamese), "last_name": family, "birth_last": "",
                "birth_date": oldest, "role": "parent" if kind != "couple" else "partner"}]
    if adults == 2:
        years = float(np.clip(_age(oldest, end) + rng.normal(0, 3), 18, 90))
        partner = {"first_name": _first_name(rng, pool, locale, vietnamese, avoid=(members[0]["first_name"],)),
                   "birth_date": end - timedelta(days=int(years * 365) + int(rng.integers(0, 365))),
                   "role": members[0]["role"], "birth_last": ""}
        if rng.random() < COUPLE_SAME_LAST_NAME:  # took the other's name: born under another
            partner["last_name"] = family
            partner["birth_last"] = _last_name(rng, pool, locale, vietnamese, avoid=family)
        else:
            partner["last_name"] = _last_name(rng, pool, locale, vietnamese, avoid=family)
        members.append(partner)
    parents = members[:adults]
    room = min(_age(p["birth_date"], end) for p in parents) - 20  # a child is at least 18, a parent had them at 20+
    twins = size - adults >= 2 and rng.random() < TWINS_SHARE
    for index in range(size - adults):
        taken = tuple(m["first_name"] for m in members)
        if twins and index == 1:
            birth = members[-1]["birth_date"]
        else:
            birth = _birth(rng, end, 18, max(19.0, room))
        first = parents[int(rng.integers(0, adults))]["first_name"] if rng.random() < JUNIOR_SHARE and not (
            twins and index == 1) else _first_name(rng, pool, locale, vietnamese, avoid=taken)
        members.append({"first_name": first, "last_name": family, "birth_last": "", "birth_date": birth,
                        "role": "child"})
    return members


def _personal_email(rng: np.random.Generator, first: str, last: str, domains: list[str], used: set[str],
                    person: int) -> str:
    local = f"{email_name(first)}.{email_name(last)}"
    if rng.random() < 0.4:
        local += str(int(rng.integers(1, 99)))
    email = f"{local}@{domains[rng.integers(len(domains))]}"
    while email in used:
        email = f"{local}{person}@{domains[rng.integers(len(domains))]}"
    used.add(email)
    return email


def _family_email(rng: np.random.Generator, last: str, locale: str, domains: list[str], used: set[str]) -> str:
    word, name = FAMILY_WORDS[locale], email_name(last.split("-")[0])
    local = [f"{word}.{name}", f"{word}{name}", f"{name}.{word}", f"les{name}" if locale == "fr_FR" else
             f"{name}s"][int(rng.integers(0, 4))]
    email = f"{local}@{domains[rng.integers(len(domains))]}"
    while email in used:
        email = f"{local}{int(rng.integers(1, 100))}@{domains[rng.integers(len(domains))]}"
    used.add(email)
    return email


def _persons(rng: np.random.Generator, pools: dict, profiles: int, end: date) -> pd.DataFrame:
    locales = list(LOCALES)
    shares = _Weighted.of({loc: LOCALES[loc][0] for loc in locales})
    rows: list[dict] = []
    used_emails: set[str] = set()
    used_phones: set[str] = set()
    for kind, size in _household_plan(rng, profiles):
        locale = shares.draw(rng)
        pool = pools[locale]
        country, domains = LOCALES[locale][1], LOCALES[locale][2]
        postcode, city = pool["town"][rng.integers(POOL)]
        street = pool["street"][rng.integers(POOL)]
        members = _unit(rng, kind, size, pool, locale, end)
        household = f"M{len(rows):07d}" if size > 1 else ""
        landline = _unique_number(rng, country, used_phones, phonenumbers.PhoneNumberType.FIXED_LINE) \
            if size > 1 and rng.random() < LANDLINE_SHARE else ""
        family_email = _family_email(rng, members[0]["last_name"], locale, domains, used_emails) \
            if kind in ("couple", "family", "single_parent") and rng.random() < FAMILY_MAILBOX_SHARE else ""
        first_row = len(rows)
        for member in members:
            person = len(rows)
            rows.append({
                "person_id": f"H{person:07d}", "locale": locale, "country": country, **member,
                "email": _personal_email(rng, member["first_name"], member["last_name"], domains, used_emails,
                                         person),
                "phone": _unique_number(rng, country, used_phones),
                "street": street, "postcode": postcode, "city": city,
                "email_opt_in": bool(rng.random() < 0.62), "sms_opt_in": bool(rng.random() < 0.38),
                "household": household, "landline": landline, "family_email": family_email, "partner_email": "",
                "corporate_email": "", "old_phone": "",
            })
        if kind in ("couple", "family"):  # partners know each other's address well enough to type it
            rows[first_row]["partner_email"] = rows[first_row + 1]["email"]
            rows[first_row + 1]["partner_email"] = rows[first_row]["email"]
    frame = pd.DataFrame(rows)
    frame["in_crm"] = rng.random(profiles) < 0.75
    frame["has_account"] = rng.random(profiles) < 0.60
    frame.loc[~frame["in_crm"] & ~frame["has_account"] & (rng.random(profiles) < 0.5), "in_crm"] = True
    _corporate(rng, frame, pools)
    _recycled(rng, frame)
    # Behaviour: who buys, how much, and whether they are still active.
    frame["segment"] = rng.choice(["loyal", "occasional", "lapsed", "browser", "none"], size=profiles,
                                  p=[0.15, 0.35, 0.15, 0.10, 0.25])
    frame.loc[(frame["segment"] == "browser") & ~frame["has_account"], "segment"] = "none"
    return frame


def _corporate(rng: np.random.Generator, frame: pd.DataFrame, pools: dict) -> None:
    """Colleagues who give their employer's shared mailbox (contact@, accueil@...) rather than their own."""
    french = np.flatnonzero((frame["country"] == "FR").to_numpy())
    count = min(len(french), round(CORPORATE_SHARE * len(frame)))
    if count < 2:
        return
    companies, names = [], set()
    for _ in range(max(1, count // COLLEAGUES)):
        name = f"{email_name(pools['fr_FR']['last'][rng.integers(POOL)])}-" \
               f"{COMPANY_TRADES[int(rng.integers(0, len(COMPANY_TRADES)))]}"
        while name in names:
            name += str(int(rng.integers(0, 10)))
        names.add(name)
        boxes = rng.choice(len(CORPORATE_BOXES), size=int(rng.integers(1, 3)), replace=False)
        companies.append([f"{CORPORATE_BOXES[box]}@{name}.fr" for box in sorted(boxes)])
    chosen = np.sort(rng.choice(french, size=count, replace=False))
    employer = rng.integers(0, len(companies), size=count)
    column = frame.columns.get_loc("corporate_email")
    for person, company in zip(chosen, employer, strict=True):
        boxes = companies[company]
        frame.iat[person, column] = boxes[int(rng.integers(0, len(boxes)))]


def _recycled(rng: np.random.Generator, frame: pd.DataFrame) -> None:
    """Mobiles given up by one person (on their older CRM card) and reassigned to a stranger of the same country."""
    owners = np.flatnonzero(frame["in_crm"].to_numpy())
    count = min(len(owners) // 4, round(RECYCLED_SHARE * len(frame)))
    if count == 0:
        return
    country = frame["country"].to_numpy()
    household = frame["household"].to_numpy()
    taken: set[int] = set()
    phone, old = frame.columns.get_loc("phone"), frame.columns.get_loc("old_phone")
    for owner in np.sort(rng.choice(owners, size=count, replace=False)):
        candidates = np.flatnonzero(country == country[owner])
        for _ in range(20):
            stranger = int(candidates[rng.integers(len(candidates))])
            if stranger != owner and stranger not in taken and int(owner) not in taken and (
                    not household[owner] or household[owner] != household[stranger]):
                taken.update((int(owner), stranger))
                frame.iat[int(owner), old] = frame.iat[stranger, phone]
                break


def _timestamp(rng: np.random.Generator, end: date, max_days: int, min_days: int = 0) -> datetime:
    return datetime.combine(end, datetime.min.time()) - timedelta(
        minutes=int(rng.integers(max(60, min_days * 1440), max_days * 1440)))


def _bad_crm_row(rng: np.random.Generator, row: dict) -> dict:
    kind = BAD_CRM_ROWS[int(rng.integers(0, len(BAD_CRM_ROWS)))]
    local = row["email"].split("@")[0]
    for column, value in kind.items():
        row[column] = value.format(local=local)
    return row


SECOND_EMAIL = _Weighted.of(SECOND_CARD_EMAIL)
SECOND_PHONE = _Weighted.of(SECOND_CARD_PHONE)


def _crm_email(rng: np.random.Generator, p: tuple, mode: str, new_email: str) -> str:
    if mode == "none":
        return ""
    if mode == "new":
        return _vary_email(rng, new_email)
    if rng.random() < JUNK_EMAIL_RATE:
        return JUNK_EMAILS[int(rng.integers(0, len(JUNK_EMAILS)))]
    if p.corporate_email and rng.random() < CORPORATE_ON_CRM:
        return _vary_email(rng, p.corporate_email)
    if p.family_email and rng.random() < FAMILY_MAILBOX_ON_CRM:
        return _vary_email(rng, p.family_email)
    if p.partner_email and rng.random() < PARTNER_EMAIL_ON_CRM:
        return _vary_email(rng, p.partner_email)
    return "" if rng.random() < 0.06 else _vary_email(rng, p.email)


def _crm_phone(rng: np.random.Generator, p: tuple, mode: str, card: int, used: set[str]) -> str:
    if mode == "none":
        return ""
    if mode == "new":  # a new mobile since the first card
        return _phone_as_typed(rng, _unique_number(rng, p.country, used), p.country)
    if card == 0 and p.old_phone:  # the number they had then, a stranger's now
        return _phone_as_typed(rng, p.old_phone, p.country)
    if rng.random() < JUNK_PHONE_RATE:
        return JUNK_PHONES[int(rng.integers(0, len(JUNK_PHONES)))]
    if p.landline and rng.random() < LANDLINE_ON_CRM:
        return _phone_as_typed(rng, p.landline, p.country)
    return "" if rng.random() < 0.20 else _phone_as_typed(rng, p.phone, p.country)


def _crm(rng: np.random.Generator, persons: pd.DataFrame, pools: dict, end: date
         ) -> tuple[list[dict], list[tuple[str, str]]]:
    rows, truth = [], []
    counter = 0
    used_phones = set(persons["phone"]) | set(persons["landline"])
    for p in persons[persons["in_crm"]].itertuples():
        cards = 2 if rng.random() < SECOND_CARD_RATE else 1
        stamps = sorted(_timestamp(rng, end, 730) for _ in range(cards))
        if p.old_phone:  # the card from before the number changed hands
            stamps[0] = _timestamp(rng, end, 2500, min_days=900)
        street, postcode, city = p.street, p.postcode, p.city
        for card in range(cards):
            counter += 1
            customer_id = f"C{counter + 100000:07d}"
            email_mode = phone_mode = "same"
            if card:  # a second loyalty card: maybe another address, another email, another phone
                email_mode, phone_mode = SECOND_EMAIL.draw(rng), SECOND_PHONE.draw(rng)
                if rng.random() < MOVED_ON_SECOND_CARD:
                    pool = pools[p.locale]
                    street = pool["street"][rng.integers(POOL)]
                    postcode, city = pool["town"][rng.integers(POOL)]
            last = p.birth_last if card == 0 and p.birth_last and rng.random() < OLD_NAME_ON_FIRST_CARD \
                else p.last_name
            new_email = f"{email_name(p.first_name)}{email_name(last)}{counter}@" \
                        f"{LOCALES[p.locale][2][rng.integers(len(LOCALES[p.locale][2]))]}"
            row = {
                "customer_id": customer_id,
                "first_name": _vary_first(rng, p.first_name),
                "last_name": _vary_last(rng, last),
                "email": _crm_email(rng, p, email_mode, new_email),
                "phone": _crm_phone(rng, p, phone_mode, card, used_phones),
                "birth_date": _birth_as_typed(rng, p.birth_date) if rng.random() < 0.8
                else NULL_TOKENS[rng.integers(len(NULL_TOKENS))],
                "street": street if rng.random() < 0.9 else "",
                "postcode": postcode, "city": city if rng.random() < 0.8 else city.upper(),
                "country": COUNTRY_SPELLINGS[p.country][rng.integers(len(COUNTRY_SPELLINGS[p.country]))],
                "email_opt_in": (TRUE_TOKENS if p.email_opt_in else FALSE_TOKENS)[rng.integers(5)]
                if rng.random() < 0.93 else "",
                "sms_opt_in": (TRUE_TOKENS if p.sms_opt_in else FALSE_TOKENS)[rng.integers(5)]
                if rng.random() < 0.93 else "",
                "updated_at": stamps[card].strftime("%Y-%m-%dT%H:%M:%S" if rng.random() < 0.5 else "%Y-%m-%d %H:%M:%S"),
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
        for copy in range(2 if rng.random() < SECOND_ACCOUNT_RATE else 1):
            counter += 1
            account_id = f"A{counter + 500000:07d}"
            email = _vary_email(rng, p.email)
            if copy:  # a second account, opened with another address (and the same phone, or none)
                email = f"{p.email.split('@')[0]}.{counter}@gmail.com"
                phone = _phone_as_typed(rng, p.phone, p.country) if rng.random() < SECOND_ACCOUNT_PHONE else None
            elif rng.random() < 0.55:
                phone = _phone_as_typed(rng, p.landline if p.landline and rng.random() < LANDLINE_ON_ACCOUNT
                                        else p.phone, p.country)
            else:
                phone = None
            row = {
                "account_id": account_id,
                "email": email,
                "first_name": _vary_first(rng, p.first_name) if rng.random() < 0.9 else None,
                "last_name": _vary_last(rng, p.last_name) if rng.random() < 0.9 else None,
                "phone": phone,
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


def _purchase_days(rng: np.random.Generator, segment: str, end: date) -> list[int]:
    """Days before ``end`` on which a person buys, most distant first: a buy-till-you-die process. From their first
    purchase, a person buys at their own rate (Poisson, gamma-distributed across people, following the seasons)
    and, after each purchase, may stop for good; a lapsed customer stopped 200 to 700 days ago."""
    mean_gap, shape, (drop_a, drop_b) = BUYING[segment]
    rate = rng.gamma(shape, 1 / (shape * mean_gap))  # purchases per day while active
    first = int(rng.integers(0, HISTORY_DAYS))
    stop = int(rng.integers(200, 700)) if segment == "lapsed" else -1
    first = max(first, stop + 1)
    leave = rng.beta(drop_a, drop_b)
    peak = max(SEASONS)
    days, day = [first], float(first)
    while len(days) < 80:
        day -= rng.exponential(1 / (rate * peak))
        if day <= max(stop, 0):
            break
        month = (end - timedelta(days=int(day))).month
        if rng.random() >= SEASONS[month - 1] / peak:  # thinning: fewer purchases in quiet months
            continue
        if rng.random() < leave:
            break
        if int(day) != days[-1]:
            days.append(int(day))
    return days


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
    for p in persons[persons["segment"].isin(list(BUYING))].itertuples():
        # A premium buyer pays more for the same basket; a basket's size is the person's own habit too.
        premium = float(np.exp(rng.normal(0, 0.35)))
        lines_per_order = 1 + rng.poisson(float(rng.gamma(2.0, 0.6)))
        for offset in _purchase_days(rng, p.segment, end):
            order_id = f"O{len(orders) + 1:07d}"
            order_date = end_dt - timedelta(days=int(offset), minutes=int(rng.integers(0, 1440)))
            customer_id, account_id = customer_of.get(p.person_id), account_of.get(p.person_id)
            channel = rng.choice(["store", "web", "app"], p=[0.4, 0.45, 0.15])
            if channel == "store" and customer_id is None:
                channel = "web"
            chosen = rng.integers(0, len(products), min(int(lines_per_order), 8))
            quantity = rng.choice([1, 1, 1, 1, 2, 3], size=len(chosen))
            amount = 0.0
            for line_no, (product, qty) in enumerate(zip(chosen, quantity, strict=True), start=1):
                sku, category, price = products[product]
                unit_price = round(float(price) * premium, 2)
                amount += unit_price * int(qty)
                lines.append({"order_id": order_id, "line_no": line_no, "sku": sku, "category": category,
                              "quantity": int(qty), "unit_price": f"{unit_price:.2f}"})
            card_at_checkout = channel != "store" and customer_id is not None and rng.random() < WEB_ORDER_WITH_CARD
            e_receipt = channel == "store" and rng.random() < STORE_E_RECEIPT
            orders.append({
                "order_id": order_id,
                "customer_id": customer_id if channel == "store" or card_at_checkout else "",
                "account_id": (account_id or "") if channel != "store" else "",
                "email": _vary_email(rng, p.email) if channel != "store" or e_receipt else "",
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
        mean = {"browser": 40, "loyal": 36, "anonymous": 4}.get(segment, 14)
        n = int(rng.poisson(mean))
        kinds = rng.choice(types, size=n, p=[0.45, 0.3, 0.12, 0.1, 0.03])
        picks = rng.integers(0, len(products), n)
        logged = rng.random(n) < 0.6
        # Over the two years of history; a lapsed customer stopped visiting too, and on the way out read the terms
        # or the unsubscribe page.
        latest = 150 if segment == "lapsed" else 0
        minutes = rng.integers(1 + latest * 1440, HISTORY_DAYS * 1440, n)
        leaving = (rng.random(n) < 0.08) if segment == "lapsed" else np.zeros(n, dtype=bool)
        terms = rng.choice(SEARCH_TERMS, size=n)
        for kind, pick, logged_in, minute, term, left in zip(kinds, picks, logged, minutes, terms, leaving,
                                                             strict=True):
            sku, category, _ = products[pick]
            logged_in = account_id is not None and logged_in
            ts = end_dt - timedelta(minutes=int(minute))
            events.append({
                "event_id": f"E{len(events) + 1:08d}",
                "anonymous_id": device,
                "account_id": account_id if logged_in else None,
                "event_type": str(kind),
                "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "url": RISK_PAGES[int(minute) % len(RISK_PAGES)] if left and kind == "page_view" else
                "https://shop.example.com/search" if kind == "search" else f"https://shop.example.com/p/{sku}",
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


STORES = 39  # the store ids orders carry: S001 to S039


def _places(pools: dict, seed: int) -> tuple[list[dict], list[dict]]:
    """The brand's stores, in French towns, and a centroid for every postcode the persons live at: real places of
    each country (Faker's list), though a postcode's place is drawn, not looked up."""
    fake = Faker("fr_FR")
    fake.seed_instance(seed * 1000 + 999)
    stores = []
    for number in range(1, STORES + 1):
        latitude, longitude, town, _, _ = fake.local_latlng(country_code="FR")
        stores.append({"store_id": f"S{number:03d}", "name": f"{town} centre", "city": town, "country": "FR",
                       "latitude": latitude, "longitude": longitude})
    postcodes = {}
    for locale, pool in pools.items():
        country = LOCALES[locale][1]
        for postcode, _ in pool["town"]:
            if (country, postcode) not in postcodes:
                latitude, longitude, _, _, _ = fake.local_latlng(country_code=country)
                postcodes[(country, postcode)] = {"country": country, "postcode": postcode, "latitude": latitude,
                                                  "longitude": longitude}
    return stores, [postcodes[key] for key in sorted(postcodes)]


def generate(workdir: Path, *, profiles: int = 10_000, seed: int = 0, end_date: date = date(2026, 11, 1),
             web_events: bool = True) -> SyntheticDataset:
    """Write the retail sources under ``workdir/landing/<source>/`` (people, orders, lines, web events, and the
    stores and postcode centroids the catchment feature places them with) and ``workdir/truth.csv``. Without
    ``web_events`` (a benchmark of identity resolution, which does not read them), that source is left out; the
    others are the same bytes."""
    rng = np.random.default_rng(seed)
    landing = workdir / "landing"
    pools = _pools(seed)
    persons = _persons(rng, pools, profiles, end_date)
    crm, crm_truth = _crm(rng, persons, pools, end_date)
    accounts, account_truth = _accounts(rng, persons, end_date)
    # Remember whose record each row is, for orders and events; never written out.
    for rows, truth in ((crm, crm_truth), (accounts, account_truth)):
        by_key = dict(truth)
        for row in rows:
            key = f"crm:{row['customer_id']}" if "customer_id" in row else f"accounts:{row['account_id']}"
            row["_person"] = by_key.get(key)
    catalogue = _catalogue(rng)
    orders, lines = _orders(rng, persons, crm, accounts, catalogue, end_date)
    events = _web_events(rng, persons, accounts, catalogue, end_date) if web_events else []

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
    stores, postcodes = _places(pools, seed)  # a Faker of their own: the other files' bytes do not change
    files["stores"] = [landing / "stores" / "stores.csv"]
    files["postcodes"] = [landing / "postcodes" / "postcodes.csv"]
    _write_csv(files["stores"][0], ["store_id", "name", "city", "country", "latitude", "longitude"], stores)
    _write_csv(files["postcodes"][0], ["country", "postcode", "latitude", "longitude"], postcodes)
    if web_events:
        files["web_events"][0].parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as archive:
            archive.write(_jsonl(events, ["event_id", "anonymous_id", "account_id", "event_type", "ts", "url", "sku",
                                          "category", "search_terms"]))
        files["web_events"][0].write_bytes(buffer.getvalue())
    else:
        del files["web_events"]
    truth_path = workdir / "truth.csv"
    pd.DataFrame(crm_truth + account_truth, columns=["record_key", "person_id"]).to_csv(truth_path, index=False)
    return SyntheticDataset(
        landing, truth_path, files,
        {"crm": len(crm), "accounts": len(accounts), "orders": len(orders), "order_lines": len(lines),
         "web_events": len(events), "stores": len(stores), "postcodes": len(postcodes)},
        profiles,
    )
