#!/usr/bin/env python3
"""Regenerates the name and operator lists in this folder from their sources.

Inputs (fetched with the ordinary package clients, see README.md):
  --census DIR    the `names/` folder of the PyPI package `names` 0.3.0
                  (dist.male.first, dist.female.first, dist.all.last)
  --faker DIR     the unpacked wheel of the PyPI package `faker`
  --providers F   serviceproviders.xml of Debian's mobile-broadband-provider-info
  --words F       /usr/share/dict/american-english of Debian's wamerican

Outputs (written next to this script):
  given-names.txt, surnames.txt   one lower-case name a line; a trailing
                                  "\tw" marks a name that is also a
                                  lower-case English word ("will", "doe")
  operators.txt                   one operator or brand a line, "\tw" as above
  plmn-codes.txt                  one "MCC MNC" pair a line
  english-words.txt               the lower-case words (3+ letters) of the
                                  word list, to tell ordinary words from
                                  unknown names
"""
import argparse
import importlib
import os
import re
import sys
import unicodedata
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))


def latin_word(w):
    if len(w) < 2:
        return False
    for c in w:
        if c in "'-":
            continue
        if not c.isalpha():
            return False
        if ord(c) > 0x24F:  # beyond Latin Extended-B
            return False
    return w[0].isalpha() and w[-1].isalpha()


def fold(w):
    return w.lower().replace("\u2019", "'")


def english_words(path):
    words = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            w = line.strip()
            if w and w[0].islower() and "'" not in w:
                words.add(w)
    return words


def census(path):
    out = set()
    with open(path) as f:
        for line in f:
            name = line.split()[0]
            out.add(fold(name))
    return out


def faker_lists(root):
    sys.path.insert(0, root)
    base = os.path.join(root, "faker", "providers", "person")
    given, last = set(), set()
    for loc in sorted(os.listdir(base)):
        if not os.path.isdir(os.path.join(base, loc)) or loc.startswith("_"):
            continue
        try:
            mod = importlib.import_module(f"faker.providers.person.{loc}")
        except Exception:
            continue
        prov = getattr(mod, "Provider", None)
        if prov is None:
            continue
        for attr, target in [
            ("first_names", given), ("first_names_male", given), ("first_names_female", given),
            ("first_names_nonbinary", given), ("first_romanized_names", given),
            ("last_names", last), ("last_names_male", last), ("last_names_female", last),
            ("last_romanized_names", last),
        ]:
            vals = getattr(prov, attr, None)
            if not isinstance(vals, (list, tuple, dict)) or not vals:
                continue
            for v in vals:
                for part in re.split(r"[\s]+", str(v)):
                    part = part.strip(".,")
                    if latin_word(part) and part[0].isupper():
                        target.add(fold(part))
    return given, last


def write(name, items, words):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        for item in sorted(items):
            flag = "\tw" if item in words or unicodedata.normalize("NFC", item) in words else ""
            f.write(f"{item}{flag}\n")


# Generic words that appear as provider names or name parts in the provider
# list but name no operator on their own.
GENERIC = {
    "telecom", "mobile", "internet", "gprs", "prepaid", "postpaid", "wap", "mms", "data",
    "broadband", "wireless", "cellular", "telecommunications", "communications", "network",
    "networks", "business", "corporate", "default", "contract", "private", "public", "roaming",
    "mobile internet", "3g", "4g", "lte", "5g", "web", "net", "connect", "online", "apn",
    "telekom", "telecomunicaciones", "telefonica", "internet mobile", "mobile data", "pay as you go",
}


def operators(path, words):
    root = ET.parse(path).getroot()
    names, codes = set(), set()
    for country in root.findall("country"):
        for prov in country.findall("provider"):
            for nm in prov.findall("name"):
                raw = (nm.text or "").strip()
                for part in re.split(r"\s*[/()]\s*", raw):
                    part = " ".join(part.split()).strip(" -,")
                    if len(part) < 2 or not any(c.isalpha() for c in part):
                        continue
                    if part.lower() in GENERIC:
                        continue
                    names.add(part)
            for net in prov.iter("network-id"):
                mcc, mnc = net.get("mcc"), net.get("mnc")
                if mcc and mnc and mcc.isdigit() and mnc.isdigit():
                    codes.add((mcc, mnc))
    with open(os.path.join(HERE, "operators.txt"), "w", encoding="utf-8") as f:
        for n in sorted(names, key=lambda s: (s.lower(), s)):
            flag = "\tw" if n.lower() in words else ""
            f.write(f"{n}{flag}\n")
    with open(os.path.join(HERE, "plmn-codes.txt"), "w") as f:
        for mcc, mnc in sorted(codes):
            f.write(f"{mcc} {mnc}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--census", required=True)
    ap.add_argument("--faker", required=True)
    ap.add_argument("--providers", required=True)
    ap.add_argument("--words", required=True)
    a = ap.parse_args()
    words = english_words(a.words)
    given = census(os.path.join(a.census, "dist.male.first")) | census(
        os.path.join(a.census, "dist.female.first"))
    last = census(os.path.join(a.census, "dist.all.last"))
    fg, fl = faker_lists(a.faker)
    os.makedirs(os.path.join(HERE, "names"), exist_ok=True)
    write("names/given-names.txt", given | fg, words)
    write("names/surnames.txt", last | fl, words)
    operators(a.providers, words)
    with open(os.path.join(HERE, "english-words.txt"), "w", encoding="utf-8") as f:
        for w in sorted(words):
            if len(w) >= 3 and w.isalpha():
                f.write(w + "\n")


if __name__ == "__main__":
    main()
