"""The client against a tiny local HTTP server that answers right, wrong, slowly or not at all."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest

from infra import outputs
from scoring import client, customers, score
from tests.stubhttp import StubHandler, stub_server
from training.train import FEATURES

ROOT = Path(__file__).resolve().parent.parent
GOOD = json.dumps([[0.9613, 0.0387]])


class Handler(StubHandler):
    """Answers by path: /ok scores every row, the others fail in one particular way."""

    seen: ClassVar[list[dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        if self.path == "/ok":
            rows = body["data"]
            answer = [[0.9, 0.1] if row[1] != "Spain" else [0.2, 0.8] for row in rows]
            return self.send_json(200, json.dumps(json.dumps(answer)))
        if self.path == "/slow":  # longer than the client waits; it has hung up by then
            time.sleep(2)
            self.close_connection = True
            return
        replies = {
            "/401": (401, '{"message": "missing or wrong key"}'),
            "/500": (500, "Internal Server Error"),
            "/not-json": (200, "<html>proxy error</html>"),
            "/list-not-string": (200, GOOD),
            "/too-few": (200, json.dumps(json.dumps([]))),
            "/not-probabilities": (200, json.dumps(json.dumps([[3, "x"]]))),
        }
        self.send_json(*replies[self.path])


@pytest.fixture(scope="module")
def server():
    with stub_server(Handler) as url:
        yield url


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = client.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_feature_order_and_sample_match_training_and_service():
    assert customers.FEATURES == FEATURES == [c.name for c in score.CONTRACT]
    assert client.SAMPLE_CUSTOMER == score.SAMPLE_ROW


def test_sample_customer_with_key_prints_a_table(server, capsys):
    code, out, err = run(capsys, "--endpoint", f"{server}/ok", "--key", "s3cret")
    assert code == 0, err
    assert out.splitlines() == [
        "  row    p_stay   p_leave  decision",
        "    1    0.9000    0.1000  stay",
        "1 rows: 1 stay, 0 leave (threshold 0.5)",
    ]
    request = Handler.seen[-1]
    assert request["auth"] == "Bearer s3cret"
    assert request["data"] == [client.SAMPLE_CUSTOMER]


def test_csv_rows_are_sent_in_feature_order_and_batched(server, capsys, tmp_path):
    path = tmp_path / "customers.csv"
    header = ["RowNumber", "Surname", *reversed(FEATURES)]
    lines = [",".join(header)]
    for n, country in enumerate(["France", "Spain", "Germany"], start=1):
        values = dict(zip(customers.FEATURES, client.SAMPLE_CUSTOMER, strict=True))
        values["Geography"] = country
        lines.append(",".join([str(n), "Doe", *(str(values[f]) for f in reversed(FEATURES))]))
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run(
        capsys, "--endpoint", f"{server}/ok", "--csv", str(path), "--batch-size", "2"
    )
    assert code == 0, err
    assert [line.split()[-1] for line in out.splitlines()[1:4]] == ["stay", "leave", "stay"]
    assert out.splitlines()[4] == "3 rows: 2 stay, 1 leave (threshold 0.5)"
    batches = [r["data"] for r in Handler.seen[-2:]]
    assert [len(b) for b in batches] == [2, 1]
    assert batches[0][0] == ["France" if v == "Germany" else v for v in client.SAMPLE_CUSTOMER]
    assert Handler.seen[-1]["auth"] is None


def test_key_may_come_from_the_environment(server, capsys, monkeypatch):
    monkeypatch.setenv(client.KEY_ENV, "from-env")
    assert run(capsys, "--endpoint", f"{server}/ok")[0] == 0
    assert Handler.seen[-1]["auth"] == "Bearer from-env"
    assert run(capsys, "--endpoint", f"{server}/ok", "--key", "given")[0] == 0
    assert Handler.seen[-1]["auth"] == "Bearer given"  # the command line wins


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("600,France,Male,30\n", "bad.csv line 3: no value for Tenure, Balance"),
        ("600,France,Male,30,1,0,1,1,1,100,extra\n", "bad.csv line 3: 10 columns in the header"),
        ('"600\n', "bad.csv line 3: no value for Geography"),
    ],
)
def test_malformed_csv_lines_are_named_by_their_file_line(capsys, tmp_path, body, message):
    path = tmp_path / "bad.csv"
    good = ",".join(str(v) for v in client.SAMPLE_CUSTOMER)
    path.write_text(",".join(FEATURES) + "\n" + good + "\n" + body)
    code, out, err = run(capsys, "--endpoint", "http://127.0.0.1:9/score", "--csv", str(path))
    assert code == 1 and out == ""
    assert message in err and err.count("\n") == 1


def test_expect_fails_the_run_on_a_wrong_decision(server, capsys, tmp_path):
    path = tmp_path / "one.csv"
    values = ["Spain" if v == "Germany" else str(v) for v in client.SAMPLE_CUSTOMER]
    path.write_text(",".join(FEATURES) + "\n" + ",".join(values) + "\n")
    code, _, err = run(capsys, "--endpoint", f"{server}/ok", "--csv", str(path), "--expect", "stay")
    assert code == 1
    assert "expected 'stay'" in err and "[1]" in err


def test_service_row_errors_name_the_file_line(capsys):
    rows = client.Rows([[1]] * 4, [2, 3, 5, 6], "c.csv")  # line 4 is a quoted line break
    errors = [{"row": 1, "column": "Age", "expected": "an integer", "got": '"x"'}]
    assert client.refused_rows(rows, 2, errors).endswith(
        'c.csv line 6, column Age: expected an integer, got "x"'
    )


def test_csv_without_a_feature_column_is_refused(capsys, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("CreditScore,Geography\n600,France\n")
    code, _, err = run(capsys, "--endpoint", "http://127.0.0.1:9/score", "--csv", str(path))
    assert code == 1
    assert "missing column(s) Gender, Age" in err


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/401", 'HTTP 401: {"message": "missing or wrong key"}'),
        ("/500", "HTTP 500: Internal Server Error"),
        ("/not-json", "malformed answer (not JSON)"),
        ("/list-not-string", "malformed answer: expected a JSON string holding 1"),
        ("/too-few", "malformed answer: expected a JSON string holding 1"),
        ("/not-probabilities", "malformed answer: row 1 is [3, 'x']"),
    ],
)
def test_errors_exit_non_zero_with_one_clear_line(server, capsys, path, message):
    code, out, err = run(capsys, "--endpoint", f"{server}{path}", "--key", "k")
    assert code == 1
    assert out == ""
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1


def test_time_out_is_reported(server, capsys):
    code, _, err = run(capsys, "--endpoint", f"{server}/slow", "--timeout", "0.3")
    assert code == 1
    assert "did not answer within 0.3 s" in err


def test_unreachable_endpoint_is_reported(capsys):
    code, _, err = run(capsys, "--endpoint", "http://127.0.0.1:9/score", "--timeout", "2")
    assert code == 1
    assert "cannot reach http://127.0.0.1:9/score" in err


def fake_pulumi(tmp_path: Path, monkeypatch, stdout: str, code: int = 0) -> Path:
    """A test double of the pulumi CLI on PATH: it prints canned stack outputs and logs its args.

    It only lets the test check how the client calls `pulumi stack output` and parses the answer;
    nothing is deployed or contacted.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "outputs.json").write_text(stdout)
    script = bin_dir / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{tmp_path}/args"\n'
        f'cat "{tmp_path}/outputs.json"\n'
        f'[ {code} -eq 0 ] || echo "error: no stack named dev" >&2\n'
        f"exit {code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path / "args"


def test_stack_outputs_give_endpoint_and_key(server, capsys, tmp_path, monkeypatch):
    stack = {outputs.SCORING_URI: f"{server}/ok", outputs.SCORING_KEY: "from-stack"}
    args_file = fake_pulumi(tmp_path, monkeypatch, json.dumps(stack))
    code, out, err = run(capsys, "--stack", "dev", "--expect", "stay")
    assert code == 0, err
    assert "stay" in out
    assert args_file.read_text().split() == [
        "stack", "output", "--json", "--show-secrets", "--stack", "dev",
    ]  # fmt: skip
    assert Handler.seen[-1]["auth"] == "Bearer from-stack"


@pytest.mark.parametrize(
    ("stdout", "code", "message"),
    [
        ("{}", 0, f"has no '{outputs.SCORING_URI}' output"),
        ("not json", 0, "is not JSON"),
        ("", 255, "pulumi stack output failed for stack 'dev': error: no stack named dev"),
    ],
)
def test_bad_stack_outputs_are_reported(capsys, tmp_path, monkeypatch, stdout, code, message):
    fake_pulumi(tmp_path, monkeypatch, stdout, code)
    status, _, err = run(capsys, "--stack", "dev")
    assert status == 1
    assert message in err


def test_missing_pulumi_cli_is_reported(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = run(capsys, "--stack", "prod")
    assert code == 1
    assert "pulumi CLI is not on PATH" in err


def test_stack_may_be_org_qualified(capsys, tmp_path, monkeypatch):
    args_file = fake_pulumi(tmp_path, monkeypatch, "{}")
    run(capsys, "--stack", "acme/prod")
    assert args_file.read_text().split()[-2:] == ["--stack", "acme/prod"]
    with pytest.raises(SystemExit):
        client.main(["--stack", "staging"])


def test_key_and_aad_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exit_info:
        client.main(["--endpoint", "http://x", "--key", "k", "--aad"])
    assert exit_info.value.code == 2


def test_runs_as_a_module_without_heavy_imports(server):
    probe = (
        "import sys; import scoring.client;"
        "heavy = {'pandas', 'numpy', 'sklearn', 'xgboost', 'azure.identity'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "[]", done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "scoring.client", "--endpoint", f"{server}/ok"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "stay" in done.stdout


class FakeCredential:
    """Stands in for azure-identity's DefaultAzureCredential; records the scope asked for."""

    scopes: ClassVar[list[str]] = []
    fail = False

    def get_token(self, scope: str):
        if self.fail:
            raise RuntimeError("no credential in this environment")
        self.scopes.append(scope)
        return SimpleNamespace(token="entra-token")


def test_aad_sends_an_entra_token_for_azureml(server, capsys, monkeypatch):
    import azure.identity

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", FakeCredential)
    code, out, err = run(capsys, "--endpoint", f"{server}/ok", "--aad")
    assert "stay" in out
    assert code == 0, err
    assert FakeCredential.scopes[-1] == "https://ml.azure.com/.default"
    assert Handler.seen[-1]["auth"] == "Bearer entra-token"


def test_aad_failure_is_one_sentence(capsys, monkeypatch):
    import azure.identity

    monkeypatch.setattr(FakeCredential, "fail", True)
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", FakeCredential)
    code, _, err = run(capsys, "--endpoint", "http://127.0.0.1:9/score", "--aad")
    assert code == 1
    assert "could not get an Azure AD token: no credential in this environment" in err
