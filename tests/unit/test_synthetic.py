"""The demo's synthetic data: realistic, flawed the way exports are, and reproducible."""

from __future__ import annotations

import csv
import gzip
import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
import pytest

from cdp.demo.synthetic import (
    CORPORATE_BOXES,
    JUNK_EMAIL_RATE,
    JUNK_EMAILS,
    JUNK_PHONE_RATE,
    JUNK_PHONES,
    RECYCLED_SHARE,
    SECOND_CARD_RATE,
    SyntheticDataset,
    _persons,
    _pools,
    generate,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> SyntheticDataset:
    return generate(tmp_path_factory.mktemp("synthetic"), profiles=600, seed=11)


def rows(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def test_files_have_the_contract_columns_exactly(dataset: SyntheticDataset) -> None:
    expected = {
        "crm": "customer_id,first_name,last_name,email,phone,birth_date,street,postcode,city,country,email_opt_in,"
               "sms_opt_in,updated_at",
        "accounts": "account_id,email,first_name,last_name,phone,created_at",
        "orders": "order_id,customer_id,account_id,email,order_date,channel,store_id,amount,currency",
        "order_lines": "order_id,line_no,sku,category,quantity,unit_price",
        "web_events": "event_id,anonymous_id,account_id,event_type,ts,url,sku,category,search_terms",
    }
    for source, columns in expected.items():
        (path,) = dataset.files[source]
        assert path.parent == dataset.landing / source
        assert list(rows(path)[0]) == columns.split(","), source
        assert len(rows(path)) == dataset.rows[source]


def test_another_seed_gives_other_data(tmp_path: Path, dataset: SyntheticDataset) -> None:
    other = generate(tmp_path, profiles=600, seed=12)
    assert other.files["crm"][0].read_bytes() != dataset.files["crm"][0].read_bytes()


def test_the_same_person_appears_in_several_sources_and_twice_in_one(dataset: SyntheticDataset) -> None:
    truth = pd.read_csv(dataset.truth)
    crm_ids = {f"crm:{r['customer_id']}" for r in rows(dataset.files["crm"][0]) if r["customer_id"]}
    account_ids = {f"accounts:{r['account_id']}" for r in rows(dataset.files["accounts"][0]) if r["account_id"]}
    assert set(truth["record_key"]) == crm_ids | account_ids
    sources = truth.assign(source=truth["record_key"].str.split(":").str[0]).groupby("person_id")["source"]
    assert (sources.nunique() == 2).sum() > 100
    assert (truth[truth["record_key"].str.startswith("crm:")].groupby("person_id").size() > 1).any()


def test_exports_carry_realistic_flaws(dataset: SyntheticDataset) -> None:
    crm = rows(dataset.files["crm"][0])
    text = dataset.files["crm"][0].read_text(encoding="utf-8")
    assert any(ch in text for ch in "éèçëï")  # French accents, valid UTF-8
    assert any(r["customer_id"] == "" for r in crm)
    assert any(r["email"] and r["email"] != r["email"].strip().lower() for r in crm)
    assert any("/" in r["birth_date"] for r in crm) and any("-" in r["birth_date"] for r in crm)
    assert {r["email_opt_in"] for r in crm} >= {"oui", "non", "1", "0"}
    accounts = rows(dataset.files["accounts"][0])
    assert any(a["email"] == "not-an-email" for a in accounts)


def test_phones_are_valid_except_the_deliberately_bad(dataset: SyntheticDataset) -> None:
    phones = [r["phone"] for r in rows(dataset.files["crm"][0]) if r["phone"] and r["phone"] != "12"]
    def valid(value: str) -> bool:
        value = "+" + value[2:].lstrip() if value.startswith("00") else value
        return phonenumbers.is_valid_number(phonenumbers.parse(value, "FR"))
    assert sum(map(valid, phones)) / len(phones) >= 0.99


def test_orders_and_lines_are_consistent(dataset: SyntheticDataset) -> None:
    orders = pd.DataFrame(rows(dataset.files["orders"][0]))
    lines = pd.DataFrame(rows(dataset.files["order_lines"][0]))
    crm_ids = {r["customer_id"] for r in rows(dataset.files["crm"][0])}
    account_ids = {r["account_id"] for r in rows(dataset.files["accounts"][0])}
    assert set(orders.loc[orders["customer_id"] != "", "customer_id"]) <= crm_ids
    assert set(orders.loc[orders["account_id"] != "", "account_id"]) <= account_ids
    assert set(lines["order_id"]) == set(orders["order_id"])
    totals = (lines["quantity"].astype(int) * lines["unit_price"].astype(float)).groupby(lines["order_id"]).sum()
    assert (totals.round(2) - orders.set_index("order_id")["amount"].astype(float)).abs().max() < 0.011
    events = rows(dataset.files["web_events"][0])
    assert {e["event_type"] for e in events} >= {"page_view", "search", "add_to_cart"}


def test_the_same_seed_gives_the_same_bytes_in_processes_with_other_string_hashing(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = "import sys; from pathlib import Path; from cdp.demo.synthetic import generate; " \
             "generate(Path(sys.argv[1]), profiles=300, seed=3)"
    for folder, salt in (("a", "1"), ("b", "2")):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / folder)], check=True,
                       env={**os.environ, "PYTHONHASHSEED": salt})
    names = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


# The traps identity resolution meets in real retail bases, measured on the files and the truth as a resolver would
# see them: a person's records are the truth's, everything else is read from the exports.
TRAPS_PERSONS = 4000


@dataclass(frozen=True)
class Base:
    records: pd.DataFrame  # one row per record: person_id, source, email, phone (normalised), names, birth, address
    persons: int
    end: date


def _plain(text: object) -> str:
    text = unicodedata.normalize("NFKD", text if isinstance(text, str) else "")
    return "".join(c for c in text if not unicodedata.combining(c)).strip().lower()


def _e164(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    value = "+" + value[2:].lstrip() if value.startswith("00") else value
    try:
        number = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) \
        if phonenumbers.is_valid_number(number) else None


def _date(value: str) -> date | None:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            pass
    return None


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    data = generate(tmp_path_factory.mktemp("traps"), profiles=TRAPS_PERSONS, seed=11)
    person_of = dict(pd.read_csv(data.truth, dtype=str).itertuples(index=False, name=None))
    found = []
    for row in rows(data.files["crm"][0]):
        if row["customer_id"]:
            found.append({"key": f"crm:{row['customer_id']}", "source": "crm", **row,
                          "updated": datetime.fromisoformat(row["updated_at"].replace(" ", "T"))
                          if row["updated_at"][:2] == "20" else None})
    for row in rows(data.files["accounts"][0]):
        if row["account_id"]:
            found.append({"key": f"accounts:{row['account_id']}", "source": "accounts", **row, "updated": None})
    frame = pd.DataFrame(found)
    frame["person_id"] = frame["key"].map(person_of)
    frame["email"] = [_plain(e) if isinstance(e, str) and "@" in e else None for e in frame["email"]]
    frame["phone"] = [_e164(p) for p in frame["phone"]]
    frame["first"] = [_plain(n) for n in frame["first_name"]]
    frame["last"] = [_plain(n) for n in frame["last_name"]]
    frame["birth"] = [_date(b) if isinstance(b, str) else None for b in frame["birth_date"]]
    frame["address"] = [f"{_plain(s)}|{p}" if isinstance(s, str) and s else None
                        for s, p in zip(frame["street"], frame["postcode"], strict=True)]
    return Base(frame, TRAPS_PERSONS, date(2026, 11, 1))


def _holders(base: Base, column: str) -> pd.DataFrame:
    """Per value of an identifier: the persons whose records carry it, their first names and addresses."""
    found = base.records.dropna(subset=[column])
    return found.groupby(column).agg(persons=("person_id", "nunique"), firsts=("first", lambda s: set(s) - {""}),
                                     addresses=("address", lambda s: set(s.dropna())))


def _addresses(base: Base) -> dict[str, set[str]]:
    crm = base.records[(base.records["source"] == "crm") & base.records["address"].notna()]
    return crm.groupby("person_id")["address"].agg(set).to_dict()


def test_about_thirty_percent_of_persons_live_with_others() -> None:
    persons = _persons(np.random.default_rng(1), _pools(1), 5000, date(2026, 11, 1))
    sizes = persons.groupby("household").size()
    in_households = persons["household"] != ""
    assert 0.25 <= in_households.mean() <= 0.35
    assert set(sizes[sizes.index != ""]) <= {2, 3, 4, 5} and (sizes[sizes.index != ""] >= 4).any()
    # Members share the address.
    assert (persons[in_households].groupby("household")[["street", "postcode", "city"]].nunique() == 1).all().all()


def test_housemates_share_an_address_in_the_crm(base: Base) -> None:
    # Only CRM records carry addresses, and a housemate may be no customer: the share seen is below the share living
    # with others (a few strangers also share a street of the same town by chance).
    addresses = _addresses(base)
    by_address: dict[str, set[str]] = {}
    for person, held in addresses.items():
        for address in held:
            by_address.setdefault(address, set()).add(person)
    sharing = {p for people in by_address.values() if len(people) > 1 for p in people}
    assert 0.20 <= len(sharing) / len(addresses) <= 0.35


def test_landlines_are_shared_by_housemates_with_other_first_names(base: Base) -> None:
    phones = _holders(base, "phone")
    fixed = np.array([phonenumbers.number_type(phonenumbers.parse(p)) == phonenumbers.PhoneNumberType.FIXED_LINE
                      for p in phones.index])
    junk = {_e164(p) for p in JUNK_PHONES}
    landlines = phones[fixed & (phones["persons"] >= 2) & (phones["firsts"].map(len) >= 2)
                       & (phones["addresses"].map(len) == 1) & ~phones.index.isin(junk)]
    assert len(landlines) >= 0.01 * base.persons


def test_family_mailboxes_and_a_partners_email_are_typed_on_several_persons_records(base: Base) -> None:
    emails = _holders(base, "email")
    housemates = emails[(emails["persons"] >= 2) & (emails["addresses"].map(len) == 1)
                        & (emails["firsts"].map(len) >= 2)]
    family = housemates[housemates.index.str.contains(r"famil|^les", regex=True)]
    personal = housemates[~housemates.index.str.contains(r"famil|^les", regex=True)]  # a partner's address
    assert len(family) >= 0.002 * base.persons and len(personal) >= 0.002 * base.persons


def test_junk_identifiers_are_carried_by_many_unrelated_persons(base: Base) -> None:
    crm = base.records[base.records["source"] == "crm"]
    junk_emails, junk_phones = set(JUNK_EMAILS), {_e164(p) for p in JUNK_PHONES}
    share = (crm["email"].isin(junk_emails) | crm["phone"].isin(junk_phones)).mean()
    assert 0.5 * (JUNK_EMAIL_RATE + JUNK_PHONE_RATE) <= share <= 1.5 * (JUNK_EMAIL_RATE + JUNK_PHONE_RATE)
    emails, phones = _holders(base, "email"), _holders(base, "phone")
    assert emails.loc[emails.index.isin(junk_emails), "persons"].max() >= 5
    assert phones.loc[phones.index.isin(junk_phones), "persons"].max() >= 5
    assert (phones.loc[phones.index.isin(junk_phones), "addresses"].map(len) >= 5).any()


def test_corporate_mailboxes_are_shared_by_colleagues(base: Base) -> None:
    emails = _holders(base, "email")
    corporate = emails[emails.index.str.split("@").str[0].isin(CORPORATE_BOXES) & (emails["persons"] >= 2)
                       & (emails["addresses"].map(len) >= 2)]
    assert len(corporate) >= 0.002 * base.persons


def test_recycled_mobiles_pass_from_an_old_record_to_a_strangers_newer_one(base: Base) -> None:
    found = base.records.dropna(subset=["phone"])
    junk = {_e164(p) for p in JUNK_PHONES}
    addresses = _addresses(base)
    recycled = 0
    for phone, group in found.groupby("phone"):
        if phone in junk or group["person_id"].nunique() != 2 or phonenumbers.number_type(
                phonenumbers.parse(phone)) != phonenumbers.PhoneNumberType.MOBILE:
            continue
        first, second = sorted(group["person_id"].unique())
        if addresses.get(first, set()) & addresses.get(second, set()):
            continue  # housemates
        oldest = group.dropna(subset=["updated"]).sort_values("updated").head(1)
        if len(oldest) and (base.end - oldest["updated"].iloc[0].date()).days >= 900:
            recycled += 1
    assert recycled >= 0.3 * RECYCLED_SHARE * base.persons


def test_strangers_share_common_full_names(base: Base) -> None:
    named = base.records[(base.records["first"] != "") & (base.records["last"] != "")]
    per_name = named.groupby(["first", "last"])["person_id"].agg(set)
    addresses = _addresses(base)
    strangers = 0
    for people in per_name[per_name.map(len) >= 2]:
        people = sorted(people)
        strangers += any(not (addresses.get(a, set()) & addresses.get(b, set()))
                         for i, a in enumerate(people) for b in people[i + 1:])
    assert strangers >= 0.005 * base.persons
    assert per_name.map(len).max() >= 4  # the most common names (Nguyen, Martin) are carried by many
    assert named["last"].isin(["nguyen", "tran", "le", "pham"]).sum() >= 0.002 * base.persons


def test_housemates_include_juniors_and_twins(base: Base) -> None:
    crm = base.records[(base.records["source"] == "crm") & base.records["address"].notna()]
    people = crm.dropna(subset=["birth"]).drop_duplicates(["person_id"])
    juniors = twins = 0
    for _, group in people.groupby("address"):
        for (_, a), (_, b) in ((x, y) for i, x in enumerate(group.iterrows()) for y in list(group.iterrows())[i + 1:]):
            if a["last"] != b["last"]:
                continue
            juniors += a["first"] == b["first"] and abs((a["birth"] - b["birth"]).days) > 15 * 365
            twins += a["first"] != b["first"] and a["birth"] == b["birth"]
    assert juniors >= 5 and twins >= 1


def _persons_with(base: Base, source: str) -> dict[str, pd.DataFrame]:
    found = base.records[base.records["source"] == source] if source else base.records
    return {person: group for person, group in found.groupby("person_id") if len(group) >= 2}


def test_some_persons_have_two_loyalty_cards_sharing_no_email_or_phone(base: Base) -> None:
    apart = 0
    for group in _persons_with(base, "crm").values():
        a, b = group.iloc[0], group.iloc[1]
        apart += not ({a["email"], a["phone"]} - {None}) & ({b["email"], b["phone"]} - {None})
    assert apart >= 0.2 * SECOND_CARD_RATE * 0.75 * base.persons


def test_the_same_person_appears_under_a_married_name_a_swapped_birth_date_and_a_short_first_name(
        base: Base) -> None:
    married = swapped = short = partial = 0
    for group in _persons_with(base, "").values():
        lasts = {n for n in group["last"] if n}
        married += len(lasts) >= 2 and max(SequenceMatcher(None, a, b).ratio() for a in lasts for b in lasts
                                           if a != b) < 0.5
        births = set(group["birth"].dropna())
        swapped += any(b.day == a.month and b.month == a.day and a != b for a in births for b in births)
        firsts = [n for n in group["first"] if n]
        short += any(len(a.rstrip(".")) <= 2 for a in firsts) and any(len(a) > 3 for a in firsts)
        partial += any("-" in a for a in firsts) and any("-" not in a for a in firsts)
    assert married >= 20 and swapped >= 3 and short >= 50 and partial >= 10
