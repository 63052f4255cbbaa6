"""The documentation stays inside the repository and names only flags that exist: every document README.md and
docs/*.md refer to is in the repository, every ``eclipse CMD ... --flag`` they show is a flag of CMD, and
``--live`` (real money) quoted alone is in a section (or a page whose title) names a command having it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from eclipse.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
COMMAND = re.compile(r"eclipse ([a-z][a-z-]*)([^`\n]*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
BARE_LIVE = re.compile(r"`--live`")
DOCUMENT = re.compile(r"\]\(([^)\s#]+)[^)]*\)|`([^`\s]+\.md)`")


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser`` and of its subcommands, recursively."""
    found: set[str] = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _flags(sub)
    return found


def _commands() -> dict[str, set[str]]:
    """``eclipse`` subcommand -> its flags (with the global ones)."""
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    common = {f for a in parser._actions for f in a.option_strings}
    return {name: _flags(p) | common for name, p in subs.choices.items()}


def _sections(text: str) -> list[str]:
    """The text cut at its Markdown headings."""
    return re.split(r"(?m)^#+ ", text)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_documents_referred_to_are_in_the_repository(doc: Path) -> None:
    outside = []
    for m in DOCUMENT.finditer(doc.read_text(encoding="utf-8")):
        target = m[1] or m[2]
        if re.match(r"[a-z]+:", target) or not (m[1] or target.startswith(".")):
            continue  # a URL, or a code span naming a file by its name only
        path = (doc.parent / target).resolve()
        if not path.is_relative_to(REPO) or not path.exists():
            outside.append(target)
    assert outside == [], f"{doc.name} refers to documents outside the repository or missing: {outside}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_documented_flags_exist(doc: Path) -> None:
    commands = _commands()
    text = doc.read_text(encoding="utf-8")
    title = text.split("\n", 1)[0] if text.startswith("# ") else ""
    whole = {f for m in COMMAND.finditer(title) if m[1] in commands for f in commands[m[1]]}  # a page's topic
    unknown = []
    for section in _sections(text):
        named = set(whole)
        for m in COMMAND.finditer(section):
            if m[1] in commands:
                named |= commands[m[1]]
                unknown += [f"eclipse {m[1]} {f}" for f in FLAG.findall(m[2]) if f not in commands[m[1]]]
        if BARE_LIVE.search(section) and "--live" not in named:
            unknown.append("`--live` alone")
    assert unknown == [], f"{doc.name} documents flags no command named there has: {unknown}"
