"""The specs ship with the package: ``python/eclipse/machines/specs/`` holds a copy of the repository's
``specs/*.toml`` (installed in the wheel, as every file under ``python/eclipse/``), byte for byte, and
``find_spec_dir()`` falls back to it outside a clone."""

from __future__ import annotations

from pathlib import Path

import pytest

from eclipse.cli import main
from eclipse.machines.spec import PACKAGED_SPEC_DIR, SpecError, find_spec_dir

from .kit import SPECS

REPO = Path(__file__).resolve().parents[2]


def test_the_repository_specs_are_the_top_level_ones() -> None:
    assert SPECS == REPO / "specs"
    assert (SPECS / "README.md").is_file()


@pytest.mark.parametrize(
    "copy",
    [REPO / "python" / "eclipse" / "machines" / "specs", PACKAGED_SPEC_DIR],
    ids=["source-tree copy", "installed copy"],
)
def test_the_packaged_copy_equals_the_repository_specs(copy: Path) -> None:
    # the source tree's copy is what the wheel ships; the installed one is it (editable) or the wheel's
    assert PACKAGED_SPEC_DIR.parts[-3:] == ("eclipse", "machines", "specs")
    repo = {p.name: p.read_bytes() for p in sorted(SPECS.glob("*.toml"))}
    packaged = {p.name: p.read_bytes() for p in sorted(copy.glob("*.toml"))}
    assert repo, "no specs/*.toml"
    assert sorted(packaged) == sorted(repo), "run: cp specs/*.toml python/eclipse/machines/specs/"
    stale = [name for name in repo if packaged[name] != repo[name]]
    assert stale == [], f"{stale} differ; run: cp specs/*.toml python/eclipse/machines/specs/"


def test_find_spec_dir_prefers_the_checkout_then_falls_back_to_the_packaged_copy(tmp_path: Path) -> None:
    assert find_spec_dir(Path(__file__)) == SPECS
    if any((folder / "specs").is_dir() for folder in (tmp_path, *tmp_path.parents)):
        pytest.skip("a specs/ directory above the temporary directory")
    assert find_spec_dir(tmp_path) == PACKAGED_SPEC_DIR
    with pytest.raises(SpecError, match="no specs/ directory"):
        find_spec_dir(tmp_path, packaged=False)


def test_the_cli_works_outside_a_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if any((folder / "specs").is_dir() for folder in (tmp_path, *tmp_path.parents)):
        pytest.skip("a specs/ directory above the temporary directory")
    monkeypatch.chdir(tmp_path)
    assert main(["specs", "table", "order"]) == 0
    out, err = capsys.readouterr()
    assert "| created | submit |" in out
    assert f"using the installed copy {PACKAGED_SPEC_DIR}" in err
    assert main(["specs", "readme", "--write"]) == 2  # never writes into the installed package
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "installed copy" in err
    assert not (PACKAGED_SPEC_DIR / "README.md").read_text(encoding="utf-8").startswith("# specs/")
