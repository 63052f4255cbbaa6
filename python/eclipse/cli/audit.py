"""``eclipse audit``: the strategy audit's tools."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from eclipse.cli.common import Subparsers
from eclipse.config.settings import load_param
from eclipse.strategy.audit import (
    read_audit_rows,
    render_audit_rows,
    render_audit_summary,
    select_run,
    summarize_audit_rows,
)


def register(sub: Subparsers) -> None:
    """Add this module's commands to ``sub``."""
    audit = sub.add_parser("audit", help="strategy audit tools")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    report = audit_sub.add_parser(
        "report", help="summarize the strategy audit CSV: its latest run (each run's rows carry its id)"
    )
    report.add_argument("--path", type=Path, help="audit CSV (default: SCALPER_AUDIT_PATH)")
    report.add_argument("--summary-only", action="store_true", help="skip the recent rows")
    report.add_argument("--rows", type=int, default=20, help="recent rows to show (default 20)")
    which = report.add_mutually_exclusive_group()
    which.add_argument(
        "--run", metavar="ID", help="the run to report (an id or a unique prefix; '-': rows without an id)"
    )
    which.add_argument("--all-runs", action="store_true", help="report every run in the file together")
    report.set_defaults(func=_cmd_audit_report)


def _cmd_audit_report(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    path = args.path if args.path is not None else Path(str(load_param(env, "SCALPER_AUDIT_PATH")))
    rows = read_audit_rows(path)
    summary = summarize_audit_rows(path, rows, args.run, all_runs=args.all_runs)
    if not args.summary_only:
        rows_text = render_audit_rows(
            select_run(rows, summary.run, all_runs=summary.run is None)[0], args.rows
        )
        if rows_text:
            print(rows_text, file=out)
    print(render_audit_summary(summary), file=out)
    return 0
