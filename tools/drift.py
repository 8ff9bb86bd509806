"""Compare captured rows with the training rows: per feature and for p_leave, the population
stability index (PSI), a chi-square test and a status, printed as a table and written as an HTML
report with a reference-vs-captured histogram per feature.

    python -m tools.drift CAPTURES [--profile model_artifacts/reference_profile.json]
                          [--html CAPTURES/drift.html] [--stack dev|prod]

CAPTURES is a folder of JSON Lines captures (searched recursively: the service's files, or the
model_inputs/model_outputs of AzureML's data collection). `--stack` first downloads that stack's
captures into CAPTURES. Exit status: 0 without alerts, 1 with at least one, 2 on bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from training.profile import PREDICTION, PROFILE_FILE, bin_counts

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROFILE = ROOT / "model_artifacts" / PROFILE_FILE
# The usual PSI thresholds: below 0.1 the population is stable, from 0.25 on it has shifted.
WATCH, ALERT = 0.1, 0.25
FLOOR = 1e-4  # share given to an empty bin, so that the logarithm stays finite
MIN_ROWS = 100  # below this, a PSI says more about chance than about the customers


class DriftError(Exception):
    """Input the report cannot be made from; the message says which and why."""


@dataclass(frozen=True)
class Result:
    name: str
    psi: float
    p_value: float
    status: str
    labels: list[str]
    reference: list[float]
    captured: list[float]


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.clip(expected, FLOOR, None), np.clip(actual, FLOOR, None)
    return float(np.sum((a - e) * np.log(a / e)))


def status(value: float) -> str:
    return "alert" if value >= ALERT else "watch" if value >= WATCH else "ok"


def labels(spec: dict) -> list[str]:
    if spec["kind"] != "number":
        return [str(v) for v in spec["values"]]
    edges = [f"{e:g}" for e in spec["edges"]]
    return (
        [f"≤ {edges[0]}"] + [f"{a}–{b}" for a, b in itertools.pairwise(edges)] + [f"> {edges[-1]}"]
    )


def compare(name: str, spec: dict, values: list) -> Result:
    counts = np.asarray(bin_counts(spec, values), float)
    reference = np.asarray(spec["shares"], float)
    captured = counts / counts.sum()
    # Chi-square goodness of fit of the captured counts to the reference shares (the reference
    # has thousands of rows, so its own sampling error is small beside the capture's).
    expected = np.clip(reference, FLOOR, None)
    expected = expected / expected.sum() * counts.sum()
    p_value = float(stats.chisquare(counts, expected).pvalue)
    value = psi(reference, captured)
    return Result(
        name, value, p_value, status(value), labels(spec), reference.tolist(), captured.tolist()
    )


def read_captures(folder: Path) -> list[dict]:
    if not folder.is_dir():
        raise DriftError(f"{folder} is not a folder of captures")
    rows = []
    for path in sorted(folder.rglob("*.json*")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as ex:
                raise DriftError(f"{path}:{number} is not JSON: {ex}") from None
            # AzureML's data collection writes {"data": [rows], "correlationid": ...} per request,
            # inputs and outputs in separate folders: each column is compared on its own.
            if isinstance(record, dict) and isinstance(record.get("data"), list):
                record = record["data"]
            rows += record if isinstance(record, list) else [record]
    if not rows:
        raise DriftError(f"no captured rows under {folder} (*.jsonl files, searched recursively)")
    return rows


def judged(results: list[Result], rows: int) -> list[Result]:
    """Too few rows get no status: their PSI would mostly measure chance."""
    if rows >= MIN_ROWS:
        return results
    return [dataclasses.replace(r, status="n/a") for r in results]


def report(rows: list[dict], profile: dict) -> list[Result]:
    columns = [*profile["features"], PREDICTION]
    specs = profile["features"] | {PREDICTION: profile[PREDICTION]}
    results = []
    for name in columns:
        values = [r[name] for r in rows if r.get(name) is not None]
        if values:
            results.append(compare(name, specs[name], values))
    if not results:
        raise DriftError(f"the captured rows hold none of the columns {columns}")
    return results


def table(results: list[Result], rows: int) -> str:
    lines = [f"{rows} captured rows", ""]
    lines.append(f"{'column':<16} {'PSI':>7} {'chi2 p':>9}  status")
    for r in results:
        lines.append(f"{r.name:<16} {r.psi:>7.3f} {r.p_value:>9.2g}  {r.status}")
    return "\n".join(lines)


def svg(result: Result, width: int = 420, height: int = 150) -> str:
    """Side-by-side bars of the reference and captured shares per bin."""
    top = max(result.reference + result.captured) or 1
    step = width / len(result.labels)
    bars = []
    for i, (label, ref, cap) in enumerate(zip(result.labels, result.reference, result.captured)):
        x = i * step
        for offset, share, colour in ((0.1, ref, "#8da0cb"), (0.5, cap, "#fc8d62")):
            h = share / top * (height - 30)
            bars.append(
                f'<rect x="{x + offset * step:.1f}" y="{height - 20 - h:.1f}" '
                f'width="{0.4 * step:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{html.escape(label)}: {share:.1%}</title></rect>"
            )
        bars.append(
            f'<text x="{x + step / 2:.1f}" y="{height - 6}" font-size="9" '
            f'text-anchor="middle">{html.escape(label)}</text>'
        )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(bars)}</svg>'


def html_report(results: list[Result], rows: int, source: str) -> str:
    colour = {"ok": "#1a7f37", "watch": "#9a6700", "alert": "#cf222e", "n/a": "#57606a"}
    sections = "".join(
        f"<section><h2>{html.escape(r.name)} <span style='color:{colour[r.status]}'>"
        f"{r.status}</span></h2><p>PSI {r.psi:.3f}, chi-square p {r.p_value:.2g}</p>"
        f"{svg(r)}</section>"
        for r in results
    )
    return (
        "<!doctype html><meta charset='utf-8'><title>Drift report</title>"
        "<style>body{font-family:sans-serif;max-width:60em}section{display:inline-block;"
        "margin:0 1em 1em 0}h2{font-size:1em}</style>"
        f"<h1>Drift report</h1><p>{rows} captured rows from {html.escape(source)} against the "
        f"training rows. PSI below {WATCH} is ok, from {ALERT} an alert. Bars: "
        "<span style='color:#8da0cb'>reference</span>, "
        f"<span style='color:#fc8d62'>captured</span>.</p>{sections}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drift", description=__doc__)
    parser.add_argument("captures", type=Path, help="folder of captured JSON Lines files")
    parser.add_argument("--profile", type=Path, default=DEFAULT_PROFILE)
    parser.add_argument("--html", type=Path, help="report to write (CAPTURES/drift.html)")
    parser.add_argument(
        "--stack", metavar="dev|prod", help="download that Pulumi stack's captures first"
    )
    args = parser.parse_args(argv)
    try:
        if args.stack:
            from tools.captures import download

            download(args.stack, args.captures)
        try:
            profile = json.loads(args.profile.read_text())
        except (OSError, ValueError) as ex:
            raise DriftError(f"cannot read the reference profile {args.profile}: {ex}") from None
        rows = read_captures(args.captures)
        results = judged(report(rows, profile), len(rows))
    except DriftError as ex:
        print(f"error: {ex}", file=sys.stderr)
        return 2
    print(table(results, len(rows)))
    if len(rows) < MIN_ROWS:
        print(f"note: fewer than {MIN_ROWS} rows, too few to judge: no status, no alert")
    args.html = args.html or args.captures / "drift.html"
    args.html.write_text(html_report(results, len(rows), str(args.captures)), encoding="utf-8")
    print(f"report: {args.html}")
    alerts = [r.name for r in results if r.status == "alert"]
    if alerts:
        print(f"alert: {', '.join(alerts)} drifted (PSI >= {ALERT})")
    return 1 if alerts else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
