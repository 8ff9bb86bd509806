"""The client against the real scoring service: azmlinfsrv with scoring/score.py on free ports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scoring import client, customers, score
from tests.localserver import local_server

ROOT = Path(__file__).resolve().parent.parent
KEY = "client-test-key-0123456789"


@pytest.fixture(scope="module")
def endpoint():
    with local_server({score.KEY_ENV: KEY}) as url:
        yield f"{url}/score"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = client.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_customer_stays_as_a_module_run(endpoint):
    done = subprocess.run(
        [sys.executable, "-m", "scoring.client", "--endpoint", endpoint, "--key", KEY,
         "--expect", "stay"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    row = done.stdout.splitlines()[1].split()
    assert row[0] == "1" and row[3] == "stay"
    assert float(row[1]) > 0.9 and float(row[1]) + float(row[2]) == pytest.approx(1, abs=1e-3)


@pytest.mark.parametrize("key", [None, "a-wrong-key-of-good-length"])
def test_missing_or_wrong_key_is_a_401(endpoint, capsys, monkeypatch, key):
    monkeypatch.delenv(client.KEY_ENV, raising=False)
    code, out, err = run(capsys, "--endpoint", endpoint, *(["--key", key] if key else []))
    assert code == 1 and out == ""
    assert "answered HTTP 401" in err


def test_csv_rows_are_scored_in_order(endpoint, capsys, tmp_path):
    countries = ["France", "Spain", "Germany", "France"]
    rows = [
        [str(v) for v in client.SAMPLE_CUSTOMER[:1]]
        + [c]
        + [str(v) for v in client.SAMPLE_CUSTOMER[2:]]
        for c in countries
    ]
    path = tmp_path / "customers.csv"
    path.write_text("\n".join([",".join(customers.FEATURES), *(",".join(r) for r in rows)]) + "\n")
    code, out, err = run(capsys, "--endpoint", endpoint, "--key", KEY, "--csv", str(path),
                         "--batch-size", "3")  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()[1:-1]
    assert [line.split()[0] for line in lines] == ["1", "2", "3", "4"]
    assert out.splitlines()[-1].startswith("4 rows: ")
    assert lines[0].split()[1:] == lines[3].split()[1:]  # same customer, same answer


def test_a_bad_row_is_the_services_400_named_by_its_file_line(endpoint, capsys, tmp_path):
    path = tmp_path / "bad.csv"
    good = [str(v) for v in client.SAMPLE_CUSTOMER]
    bad = [*good[:1], "Italy", *good[2:]]
    lines = [",".join(customers.FEATURES), *[",".join(good)] * 3, ",".join(bad)]
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "--endpoint", endpoint, "--key", KEY, "--csv", str(path),
                         "--batch-size", "3")  # fmt: skip
    assert code == 1 and out == ""
    assert f"{path} line 5, column Geography: expected one of France, Germany, Spain" in err


def test_key_from_the_environment_and_a_summary_line(endpoint, capsys, monkeypatch):
    monkeypatch.setenv(client.KEY_ENV, KEY)
    code, out, err = run(capsys, "--endpoint", endpoint)
    assert code == 0, err
    assert out.splitlines()[-1] == "1 rows: 1 stay, 0 leave (threshold 0.5)"


def test_expect_leave_fails_on_the_sample_customer(endpoint, capsys):
    code, out, err = run(capsys, "--endpoint", endpoint, "--key", KEY, "--expect", "leave")
    assert code == 1
    assert "stay" in out and "expected 'leave'" in err
