"""``eclipse config check|show``, ``eclipse doctor`` and ``eclipse params --filter/--width`` end to end
through ``main([...])``, in a clean environment and a temporary working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eclipse.cli import doctor, main
from eclipse.clock import Clock
from eclipse.config.names import has_project_prefix, is_known
from eclipse.config.registry import REGISTRY
from eclipse.venues.ccxt_factory import VenueSettings

API_SECRET = "SECRET-binance-7f3a9c-never-print"
STATUS_SECRET = "SECRET-status-token-5d1e8b-never"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No knob or project-prefixed variable of the developer's shell leaks in; ./.env is the test's own."""
    for name in list(os.environ):
        if is_known(name) or has_project_prefix(name):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def dotenv(text: str, mode: int = 0o600) -> Path:
    path = Path(".env")
    path.write_text(text)
    path.chmod(mode)
    return path


# --- config check ----------------------------------------------------------------------------------------


def test_check_ok(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    Path("eclipse.toml").write_text("LEVERAGE = 2\n[symbols.BTCUSDT]\nLEVERAGE = 3\n")
    dotenv("FIXED_NOTIONAL_USDT=6\n")
    monkeypatch.setenv("EXIT_MAX_HOLD_SEC", "600")
    code, out, err = run(capsys, "config", "check", "--config", "eclipse.toml")
    assert code == 0, err
    assert out.startswith("configuration OK (profile micro; eclipse.toml < .env < environment)")
    assert "2 from eclipse.toml, 1 from .env, 1 from environment" in out
    assert err == ""


def test_check_lists_every_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEVERAGE", "abc")
    monkeypatch.setenv("SCALPER_SESION_UTC", "13-17")
    dotenv("LEVERAGE_BTCUSDT=abc\n")
    code, out, err = run(capsys, "config", "check")
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "error: 3 configuration problems:"
    assert len(lines) == 4
    assert any("SCALPER_SESION_UTC" in line and "did you mean SCALPER_SESSION_UTC?" in line for line in lines)
    assert any(line.startswith("  - LEVERAGE_BTCUSDT='abc' (.env): expected an integer") for line in lines)


def test_check_reports_missing_files_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "config", "check", "--config", "missing.toml")
    assert code == 2
    assert "--config='missing.toml'" in err
    assert "an existing TOML file" in err
    code, _, err = run(capsys, "config", "check", "--env-file", "missing.env")
    assert code == 2
    assert err == "error: --env-file='missing.env': expected an existing .env file\n"
    code, _, err = run(capsys, "config")
    assert code == 2
    assert "ACTION" in err


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_check_warns_about_a_dotenv_others_can_read(capsys: pytest.CaptureFixture[str]) -> None:
    dotenv("LEVERAGE=2\n", 0o644)
    code, out, err = run(capsys, "config", "check")
    assert code == 0
    assert err.startswith("warning: .env can be read by group/others (mode 0644)")
    assert "configuration OK" in out


# --- config show -----------------------------------------------------------------------------------------


def table(out: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line and line[0] != " "}


def test_show_values_and_sources(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    Path("eclipse.toml").write_text('SCALPER_DRY_RUN = true\nACTIVE_SYMBOLS = ["BTCUSDT", "ETHUSDT"]\n')
    dotenv(f"LEVERAGE=3\nBINANCE_API_SECRET={API_SECRET}\n")
    monkeypatch.setenv("MIN_CONFIDENCE", "0.6")
    monkeypatch.setenv("LEVERAGE_ETH", "2")
    code, out, _ = run(capsys, "config", "show", "--config", "eclipse.toml")
    assert code == 0
    rows = table(out)
    assert out.splitlines()[0].split() == ["knob", "source", "value"]
    assert rows["SCALPER_DRY_RUN"] == ["eclipse.toml", "1"]
    assert rows["ACTIVE_SYMBOLS"] == ["eclipse.toml", "BTCUSDT,ETHUSDT"]
    assert rows["LEVERAGE"] == [".env", "3"]
    assert rows["LEVERAGE_ETH"] == ["environment", "2"]
    assert rows["ENTRY_MIN_CONFIDENCE"] == ["environment", "(as", "MIN_CONFIDENCE)", "0.6"]
    assert rows["BINANCE_API_SECRET"] == [".env", "***"]
    assert "LEVERAGE_MAX" not in rows
    code, out, _ = run(capsys, "config", "show", "--all", "--filter", "leverage_m")
    rows = table(out)
    assert set(rows) == {"LEVERAGE_MIN", "LEVERAGE_MAX"}
    assert rows["LEVERAGE_MAX"] == ["default", "(micro)", "125"]


def test_show_notes_problems_on_stderr(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEVERAGE", "abc")
    code, out, err = run(capsys, "config", "show")
    assert code == 0
    assert table(out)["LEVERAGE"] == ["environment", "abc", "(invalid)"]
    assert "1 configuration problem: `eclipse config check` lists them" in err


# --- secrets ---------------------------------------------------------------------------------------------


def test_secrets_never_appear_in_any_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BINANCE_API_SECRET", API_SECRET)
    monkeypatch.setenv("STATUS_TOKEN", STATUS_SECRET)
    monkeypatch.setenv("STATUS_TOKN", STATUS_SECRET)  # a misspelled secret is still a secret
    dotenv(f"BINANCE_API_KEY={API_SECRET}\nCOINBASE_API_SECRT={API_SECRET}\n", 0o644)
    Path("eclipse.toml").write_text(
        f'STATUS_TOKEN = "{STATUS_SECRET}"\nBINANCE_API_SECRETT = "{API_SECRET}"\n'
    )
    outputs = []
    for argv in (
        ["config", "check", "--config", "eclipse.toml"],
        ["config", "show", "--all", "--config", "eclipse.toml"],
        ["doctor", "--offline", "--config", "eclipse.toml", "--dir", str(tmp_path / "run")],
        ["doctor", "--offline", "--live", "--dir", str(tmp_path / "run")],
        ["params"],
    ):
        _, out, err = run(capsys, *argv)
        outputs.append(out + err)
    text = "\n".join(outputs)
    assert "STATUS_TOKEN" in text  # the names are shown ...
    assert "BINANCE_API_SECRET" in text
    assert "***" in text
    assert API_SECRET not in text  # ... never the values
    assert STATUS_SECRET not in text
    assert "SECRET-" not in text


# --- doctor ----------------------------------------------------------------------------------------------


def checks(out: str) -> dict[str, tuple[str, str]]:
    """``check name -> (status, detail first line)`` from the doctor's table."""
    found = {}
    for line in out.splitlines()[1:]:
        if not line.strip() or line.startswith(" "):
            continue
        parts = line.split("  ")
        cells = [p.strip() for p in parts if p.strip()]
        if len(cells) >= 2 and cells[1] in ("ok", "FAIL", "skip"):
            found[cells[0]] = (cells[1], cells[2] if len(cells) > 2 else "")
    return found


def test_doctor_offline_dry_run_passes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    dotenv("LEVERAGE=2\n")
    code, out, _ = run(capsys, "doctor", "--offline", "--dir", str(tmp_path / "run"))
    assert code == 0, out
    found = checks(out)
    assert found["configuration"][0] == "ok"
    assert found[".env permissions"][0] == "ok"
    assert found["risk MAX_DAILY_LOSS_PCT"][0] == "ok"
    assert found["API keys"][0] == "ok"
    assert found["venue"] == ("skip", "--offline")
    assert found["disk space"][0] == "ok"
    assert out.rstrip().endswith("all checks passed")
    assert max(len(line) for line in out.splitlines()) <= 100


def test_doctor_fails_on_problems_permissions_disk_and_live_limits(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dotenv("LEVERAGE=abc\n", 0o644)
    monkeypatch.setenv("SCALPER_DRY_RUN", "0")
    argv = ["doctor", "--offline", "--dir", str(tmp_path), "--min-free-mb", str(10**12)]
    code, out, _ = run(capsys, *argv)
    assert code == 1
    found = checks(out)
    assert found["configuration"][0] == "FAIL"
    assert found[".env permissions"][0] == "FAIL" or os.name != "posix"
    assert found["risk MAX_DAILY_LOSS_PCT"][0] == "FAIL"
    assert found["risk FIRST_LIVE_SYMBOLS"][0] == "FAIL"
    assert found["API keys"][0] == "FAIL"
    assert found["disk space"][0] == "FAIL"
    assert "configuration problems:" in out
    assert "  - LEVERAGE='abc' (.env)" in out


def test_doctor_simulator_without_url_is_skipped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EXCHANGE_ADAPTER", "sim")

    def no_probe(*_: object) -> doctor.VenueProbe:
        raise AssertionError("no venue request without a simulator URL")

    monkeypatch.setattr(doctor, "probe_venue", no_probe)
    code, out, _ = run(capsys, "doctor", "--dir", str(tmp_path))
    found = checks(out)
    assert found["venue"][0] == "skip"
    assert "the simulator is local and not running here" in " ".join(out.split())
    assert found["API keys"] == ("ok", "simulator: its documented test keys")
    assert code == 1  # the configuration check itself fails: the daemon needs VENUE_API_URL with sim
    assert "VENUE_API_URL" in out


@pytest.mark.parametrize(("skew_ms", "status"), [(40, "ok"), (-4000, "FAIL")])
def test_doctor_clock_skew(
    skew_ms: int,
    status: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    asked: list[tuple[str, float]] = []

    def fake_probe(settings: VenueSettings, clock: Clock, timeout_s: float) -> doctor.VenueProbe:
        asked.append((settings.exchange_id, timeout_s))
        return doctor.VenueProbe(True, venue_ms=1_000_000 + skew_ms, local_ms=1_000_000, rtt_ms=12)

    monkeypatch.setattr(doctor, "probe_venue", fake_probe)
    monkeypatch.setenv("EXCHANGE_ADAPTER", "binanceusdm")
    code, out, _ = run(capsys, "doctor", "--dir", str(tmp_path), "--timeout", "3")
    assert asked == [("binanceusdm", 3.0)]
    found = checks(out)
    assert found["venue"] == ("ok", "binanceusdm answered in 12 ms")
    assert found["clock skew"][0] == status
    assert f"{skew_ms:+d} ms" in found["clock skew"][1]
    assert code == (0 if status == "ok" else 1)


def test_doctor_without_an_exchange_means_the_built_in_simulator(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_probe(*_: object) -> doctor.VenueProbe:
        raise AssertionError("nothing to reach: eclipse run starts its own simulator")

    monkeypatch.setattr(doctor, "probe_venue", no_probe)
    code, out, _ = run(capsys, "doctor", "--dir", str(tmp_path))
    found = checks(out)
    assert found["venue"][0] == "ok"
    assert "built-in simulator" in " ".join(out.split())
    assert code == 0


def test_doctor_unreachable_venue_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EXCHANGE_ADAPTER", "sim")
    monkeypatch.setenv("VENUE_API_URL", "http://127.0.0.1:1")  # nothing listens on port 1
    code, out, _ = run(capsys, "doctor", "--dir", str(tmp_path), "--timeout", "5")
    assert code == 1
    found = checks(out)
    assert found["venue"][0] == "FAIL"
    assert "unreachable" in found["venue"][1]
    assert found["clock skew"][0] == "skip"


# --- params ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [60, 80, 100, 140])
def test_params_lines_fit_the_width(capsys: pytest.CaptureFixture[str], width: int) -> None:
    code, out, _ = run(capsys, "params", "--width", str(width))
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= width
    assert lines[0].split()[:4] == ["name", "type", "micro", "production"]
    names = ["LEVERAGE_<SYMBOL>", "EXIT_MOM_MIN_<SYMBOL>"]
    if width >= 80:  # narrower, the longest names wrap in their column
        names += ["FIXED_NOTIONAL_USDT_<SYMBOL>", "EXIT_ATR_SCALE_REF_PCT_<SYMBOL>"]
    for name in names:
        assert any(line.startswith(name + " ") for line in lines), name


def test_params_default_width_is_100_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "params")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 100
    for p in REGISTRY:
        assert any(line.startswith(p.name + " ") for line in out.splitlines()), p.name


def test_params_filter(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "params", "--filter", "KILL_", "--width", "200")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == [
        "KILL_DAILY_HALT_SEC",
        "KILL_DRAWDOWN_HALT_SEC",
        "KILL_DAILY_HALT_UNTIL_UTC",
        "ENTRY_DATA_QUALITY_ROLL_MIN",
        "ENTRY_DATA_QUALITY_KILL_SEC",
    ]
    code, out, _ = run(capsys, "params", "--filter", "execution.leverage", "--width", "200")
    names = [line.split()[0] for line in out.splitlines()[1:] if not line.startswith(" ")]
    assert "LEVERAGE_<SYMBOL>" in names
    assert all(n.startswith(("LEVERAGE", "MARGIN_MODE")) for n in names)
    code, _, err = run(capsys, "params", "--filter", "no-such-knob-anywhere")
    assert code == 1
    assert "no knob matches" in err
    code, _, err = run(capsys, "params", "--width", "10")
    assert code == 2
    assert "--width" in err
