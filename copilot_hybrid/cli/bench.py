"""`copilot-hybrid bench tokenizer`: native throughput against tiktoken and peers;
`copilot-hybrid bench proxy`: the proxy's overhead against a fast fake upstream (copilot_hybrid/bench)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

bench_app = typer.Typer(
    help="Benchmarks: the native core against its references and peers; the proxy's overhead.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


@bench_app.command("tokenizer")
def tokenizer_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Timed rounds per implementation (median).")] = 5,
    encoding: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional at runtime on 3.11
        typer.Option("--encoding", "-e", help="cl100k_base and/or o200k_base (default both)."),
    ] = None,
) -> None:
    """Single-thread count/encode MB/s over the corpus (native, tiktoken, rs-bpe, bpe-openai) and worst cases."""
    from copilot_hybrid.tokenizer import ENCODING_NAMES, NativeUnavailable, get_encoding
    from copilot_hybrid.tokenizer.verify import bench

    names = tuple(encoding or ENCODING_NAMES)
    unknown = [n for n in names if n not in ENCODING_NAMES]
    if unknown:
        typer.echo(f"error: unknown encoding {', '.join(unknown)}; known: {', '.join(ENCODING_NAMES)}", err=True)
        raise typer.Exit(2)
    try:
        get_encoding(names[0], backend="native")
    except NativeUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if not json_output:
        typer.echo("benchmarking (one thread, interleaved rounds; about a minute)...", err=True)
    report = bench.run(runs=runs, encodings=names)
    if json_output:
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(format_report(report))
    if not all(report["targets"].values()):
        raise typer.Exit(1)


@bench_app.command("proxy")
def proxy_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    requests: Annotated[
        int | None,
        typer.Option(
            "--requests", "-n", min=1, help="Sequential requests (latency), and as many for throughput. [default: 500]"
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Connections for throughput.")] = 16,
    repeat: Annotated[
        int | None, typer.Option("--repeat", min=1, help="Interleaved repetitions (medians). [default: 2]")
    ] = None,
    scenario: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer needs Optional at runtime on 3.11
        typer.Option("--scenario", "-s", help="Only these scenarios (repeatable; default all)."),
    ] = None,
    configuration: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--config", help="Only these configurations (repeatable; the upstream row always runs)."),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="A smoke run: 40 requests, one repetition, unless given.")
    ] = False,
    claude_code_body: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--claude-code-body",
            exists=True,
            dir_okay=False,
            help='A recorded Claude Code request ({"headers": {...}, "body": {...}}) for the Claude Code scenarios, '
            "instead of the shipped, trimmed first turn.",
        ),
    ] = None,
) -> None:
    """Added latency, throughput and CPU per request of the proxy, every lever on and off, in one run."""
    from copilot_hybrid.bench.configurations import CONFIGURATION_KEYS
    from copilot_hybrid.bench.report import format_report
    from copilot_hybrid.bench.runner import BenchOptions, run
    from copilot_hybrid.bench.scenarios import all_scenarios
    from copilot_hybrid.cli.stopping import sigterm_stops_like_ctrl_c
    from copilot_hybrid.errors import BenchError

    scenario_keys = [s.key for s in all_scenarios()]
    for given, known, what in ((scenario, scenario_keys, "scenario"), (configuration, CONFIGURATION_KEYS, "config")):
        unknown = [name for name in given or () if name not in known]
        if unknown:
            typer.echo(f"error: unknown {what} {', '.join(unknown)}; known: {', '.join(known)}", err=True)
            raise typer.Exit(2)
    options = BenchOptions(
        requests=requests or (40 if quick else 500),
        concurrency=concurrency,
        repeat=repeat or (1 if quick else 2),
        warmup=5 if quick else 30,
        scenarios=tuple(scenario or ()),
        configurations=tuple(configuration or ()),
        claude_code_body=claude_code_body,
    )
    # SIGTERM unwinds like Ctrl-C, so the proxy and upstream processes are stopped too.
    with sigterm_stops_like_ctrl_c():
        try:
            report = run(options, progress=lambda line: typer.echo(line, err=True))
        except BenchError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
    typer.echo(json.dumps(report, indent=2) if json_output else format_report(report))
    if report["failures"]:
        raise typer.Exit(1)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_report(report: dict[str, Any]) -> str:
    corpus = report["corpus"]
    lines = [
        f"{report['machine']}; native build {report['build_id']}; median of {report['runs']} interleaved rounds",
        f"corpus {corpus['path']}: {corpus['documents']} documents, {corpus['mb']:.2f} MB "
        f"(sha256 {str(corpus['sha256'])[:16]}); short: {corpus['short_snippets']} snippets of 10-400 chars",
    ]
    for encoding, entry in report["encodings"].items():
        impls = entry["implementations"]
        lines.append("")
        lines.append(f"== {encoding}: MB/s of UTF-8 input, one thread")
        lines.append(
            f"{'workload':<10} {'op':<7} "
            + " ".join(f"{name:>11}" for name in impls)
            + "   native/tiktoken  native/best peer"
        )
        for workload, data in entry["workloads"].items():
            for op, by_impl in data["mb_per_s"].items():
                ratio = data["ratios"][op]
                peer = f"{_ratio(ratio['native/best_peer'])} ({ratio['best_peer']})" if ratio["best_peer"] else "-"
                lines.append(
                    f"{workload:<10} {op:<7} "
                    + " ".join(f"{by_impl[name]:>11.2f}" for name in impls)
                    + f"   {_ratio(ratio['native/tiktoken']):>15}  {peer}"
                )
            bad = {k: v for k, v in data["mismatched_documents"].items() if v}
            if bad:
                lines.append(f"  MISMATCHES against tiktoken: {bad}")
        lines.append(f"-- {encoding} worst cases, count: ms per MB (x prose per MB)")
        lines.append(f"{'input':<17} " + " ".join(f"{name:>18}" for name in impls))
        for label, row in entry["worst_case"].items():
            cells = []
            for name in impls:
                cell = row.get(name)
                cells.append(
                    f"{'n/a (panics)':>18}"
                    if cell is None
                    else f"{cell['ms_per_mb']:>9.1f} ({cell['vs_prose']:>5.2f}x)"
                )
            lines.append(f"{label:<17} " + " ".join(cells))
    lines.append("")
    for check, ok in report["targets"].items():
        lines.append(f"{'PASS' if ok else 'FAIL'}  {check}")
    return "\n".join(lines)
