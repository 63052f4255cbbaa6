"""``eclipse specs``: check the state-machine specs, show a machine as a table or a diagram."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from eclipse.cli.common import Subparsers, positive_int

_SPECS_HELP = "specs directory (default: specs/ of this checkout, else the copy installed with eclipse)"


def _add_specs_option(parser: argparse.ArgumentParser, *, default: object) -> None:
    """``--specs DIR`` on ``parser``; the subcommands' copies default to SUPPRESS so that the option works on
    either side of the subcommand (``eclipse specs --specs D check`` or ``eclipse specs check --specs D``)."""
    parser.add_argument("--specs", type=Path, default=default, metavar="DIR", help=_SPECS_HELP)


def register(sub: Subparsers) -> None:
    """Add this module's commands to ``sub``."""
    specs = sub.add_parser("specs", help="state-machine specs: verify, and show as table or diagram")
    _add_specs_option(specs, default=None)
    specs_sub = specs.add_subparsers(dest="specs_command", metavar="COMMAND", required=True)
    check = specs_sub.add_parser("check", help="conformance of every machine and the bounded model check")
    check.add_argument("--depth", type=positive_int, help="model-check depth (default: the checker's)")
    check.set_defaults(func=_cmd_specs_check)
    _add_specs_option(check, default=argparse.SUPPRESS)
    for name, what in (("table", "transition table (Markdown)"), ("diagram", "Mermaid state diagram")):
        p = specs_sub.add_parser(name, help=f"print a machine's {what}")
        p.add_argument("machine", help="machine name (file name in specs/ without .toml)")
        p.set_defaults(func=_cmd_specs_show, view=name)
        _add_specs_option(p, default=argparse.SUPPRESS)
    readme = specs_sub.add_parser("readme", help="print (or --write) the generated specs/README.md")
    readme.add_argument("--write", action="store_true", help="rewrite specs/README.md in place")
    readme.set_defaults(func=_cmd_specs_readme)
    _add_specs_option(readme, default=argparse.SUPPRESS)


def _spec_dir(args: argparse.Namespace, err: TextIO | None) -> Path:
    """``--specs`` or the one found; a note on ``err`` (when given) if it is the installed copy."""
    from eclipse.machines.spec import PACKAGED_SPEC_DIR, SpecError, find_spec_dir

    if args.specs is not None:
        if not Path(args.specs).is_dir():
            raise SpecError(f"--specs {args.specs}: not a directory")
        return Path(args.specs)
    found = find_spec_dir()
    if found == PACKAGED_SPEC_DIR and err is not None:
        print(f"specs: no specs/ in this directory or above; using the installed copy {found}", file=err)
    return found


def _cmd_specs_check(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.machines.check import ProgressLine, render_check, run_check

    progress = ProgressLine(err, tty=err.isatty())
    try:
        report = run_check(_spec_dir(args, err), args.depth, progress)
    finally:
        progress.close()
    print(render_check(report), file=out)
    return 0 if report.ok else 1


def _cmd_specs_show(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.machines import render
    from eclipse.machines.spec import SpecError, load_specs

    specs = load_specs(_spec_dir(args, err))
    if args.machine not in specs:
        raise SpecError(f"no machine {args.machine!r}; known: {', '.join(sorted(specs))}")
    spec = specs[args.machine]
    print(render.table(spec) if args.view == "table" else render.mermaid(spec), file=out)
    return 0


def _cmd_specs_readme(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from eclipse.machines.check import readme_text
    from eclipse.machines.spec import PACKAGED_SPEC_DIR, SpecError

    spec_dir = _spec_dir(args, None if args.write else err)
    text = readme_text(spec_dir)
    if args.write:
        if spec_dir == PACKAGED_SPEC_DIR:
            raise SpecError(
                f"{spec_dir} is the installed copy; --write rewrites a checkout's specs/README.md"
            )
        (spec_dir / "README.md").write_text(text, encoding="utf-8")
        print(f"wrote {spec_dir / 'README.md'}", file=err)
    else:
        print(text, file=out, end="")
    return 0
