"""``eclipse specs``: check the state-machine specs, show a machine as a table or a diagram."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from eclipse.cli.common import Subparsers, positive_int


def register(sub: Subparsers) -> None:
    """Add this module's commands to ``sub``."""
    specs = sub.add_parser("specs", help="state-machine specs: verify, and show as table or diagram")
    specs.add_argument("--specs", type=Path, help="specs directory (default: specs/ of this checkout)")
    specs_sub = specs.add_subparsers(dest="specs_command", metavar="COMMAND", required=True)
    check = specs_sub.add_parser("check", help="conformance of every machine and the bounded model check")
    check.add_argument("--depth", type=positive_int, help="model-check depth (default: the checker's)")
    check.set_defaults(func=_cmd_specs_check)
    for name, what in (("table", "transition table (Markdown)"), ("diagram", "Mermaid state diagram")):
        p = specs_sub.add_parser(name, help=f"print a machine's {what}")
        p.add_argument("machine", help="machine name (file name in specs/ without .toml)")
        p.set_defaults(func=_cmd_specs_show, view=name)
    readme = specs_sub.add_parser("readme", help="print (or --write) the generated specs/README.md")
    readme.add_argument("--write", action="store_true", help="rewrite specs/README.md in place")
    readme.set_defaults(func=_cmd_specs_readme)


def _spec_dir(args: argparse.Namespace) -> Path:
    from eclipse.machines.spec import find_spec_dir

    return args.specs if args.specs is not None else find_spec_dir()


def _cmd_specs_check(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.machines.check import render_check, run_check

    report = run_check(_spec_dir(args), args.depth)
    print(render_check(report), file=out)
    return 0 if report.ok else 1


def _cmd_specs_show(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.machines import render
    from eclipse.machines.spec import SpecError, load_specs

    specs = load_specs(_spec_dir(args))
    if args.machine not in specs:
        raise SpecError(f"no machine {args.machine!r}; known: {', '.join(sorted(specs))}")
    spec = specs[args.machine]
    print(render.table(spec) if args.view == "table" else render.mermaid(spec), file=out)
    return 0


def _cmd_specs_readme(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.machines.check import readme_text

    spec_dir = _spec_dir(args)
    text = readme_text(spec_dir)
    if args.write:
        (spec_dir / "README.md").write_text(text, encoding="utf-8")
        print(f"wrote {spec_dir / 'README.md'}", file=err)
    else:
        print(text, file=out, end="")
    return 0
