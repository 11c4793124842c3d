"""The readable table of a `bench proxy` report (runner.build_report's dict)."""

from __future__ import annotations

from typing import Any

from copilot_hybrid.bench.configurations import RELEASE, UPSTREAM_ALONE
from copilot_hybrid.bench.runner import BOTTLENECK_FACTOR


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def upstream_verdict(check: dict[str, Any]) -> str:
    ratio = check.get("ratio")
    if ratio is None:
        return "upstream check: no proxy row was measured"
    if check["ok"]:
        return f"upstream not the bottleneck: {ratio:.1f}x the fastest proxy row (worst case: {check['scenario']})"
    return (
        f"WARNING: THE UPSTREAM MAY BE THE BOTTLENECK: it serves only {ratio:.1f}x the fastest proxy row "
        f"on {check['scenario']} (wanted >= {BOTTLENECK_FACTOR:.0f}x); throughput figures are capped by it"
    )


def _row(label: str, key: str, row: dict[str, Any]) -> str:
    """One configuration's line; the upstream row shows its own p50 (marked =), the others the added p50."""
    p50 = f"={row['p50_ms']:7.2f}" if key == UPSTREAM_ALONE else _num(row["added_p50_ms"], "8.2f")
    line = f"{label:<22} {p50} {_num(row['p99_ms'], '8.2f')} {_num(row['req_per_s'], '8.0f')}"
    line += f" {_num(row['cpu_ms_per_req'], '10.2f')}"
    if key not in (UPSTREAM_ALONE, RELEASE):
        ratios = row.get("vs_release", {})
        line += f"   {_x(ratios.get('added_p50')):>11} {_x(ratios.get('req_per_s')):>12}"
        line += f" {_x(ratios.get('cpu_ms_per_req')):>10}"
    if row["errors"]:
        line += f"   ERRORS: {row['errors']} non-200 answers"
    return line


def format_report(report: dict[str, Any]) -> str:
    options = report["options"]
    labels = {c["key"]: c["label"] for c in report["configurations"]}
    labels[UPSTREAM_ALONE] = "upstream alone"
    lines = [
        f"{report['machine']}; proxy {'pinned to its own core' if report['pinned'] else 'not pinned'}; "
        f"{options['requests']} sequential + {options['requests']} requests at concurrency {options['concurrency']}, "
        f"medians of {options['repeat']} interleaved repetitions",
        "+p50: the proxy's p50 minus the upstream's own; latency to the last byte; "
        "CPU/req: the proxy process's user+system CPU per request",
    ]
    header = (
        f"{'configuration':<22} {'+p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'CPU ms/req':>10}"
        f"   {'+p50 vs rel':>11} {'req/s vs rel':>12} {'CPU vs rel':>10}"
    )
    for scenario in report["scenarios"]:
        rows = report["results"].get(scenario["key"], {})
        lines += ["", f"== {scenario['title']} ({scenario['body_bytes']} B body, POST {scenario['path']})", header]
        for key, row in rows.items():
            lines.append(_row(labels.get(key, key), key, row))
    if report["per_chunk_cpu_us"]:
        lines += ["", "== CPU per streamed chunk, us: (CPU/req of the stream - CPU/req without streaming) / chunks"]
        streams = list(report["per_chunk_cpu_us"])
        lines.append(f"{'configuration':<22} " + " ".join(f"{s:>20}" for s in streams))
        for key in labels:
            if key == UPSTREAM_ALONE:
                continue
            cells = [report["per_chunk_cpu_us"][s].get(key) for s in streams]
            lines.append(f"{labels[key]:<22} " + " ".join(f"{_num(c, '20.1f')}" for c in cells))
    lines += ["", upstream_verdict(report["upstream_check"])]
    for key, message in report["failures"].items():
        lines.append(f"FAILED {key}: {message}")
    lines += [f"note: {note}" for note in report["notes"]]
    return "\n".join(lines)
