"""The CLI through typer's CliRunner: JSON records, exit codes, options generated from the Setting."""

import json

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from kdscope import Setting
from kdscope.cli import app

runner = CliRunner()
ISSUE_KEYS = ("m_t", "q_t", "V_t", "b_t", "eps_t", "eps_train_t", "loss_train_t", "eps_bayes", "eps_oracle",
              "converged", "iterations", "residual")


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_theory_json_has_issue_keys():
    rec = _json(runner.invoke(app, ["theory", "--alpha", "2", "--delta", "0.5", "--rho", "0.2", "--lam-t", "0.01",
                                    "--json"]))
    for k in ISSUE_KEYS:
        assert k in rec
    assert rec["converged"] is True and rec["alpha"] == 2.0 and rec["rho"] == 0.2 and rec["delta"] == 0.5
    assert 0 < rec["eps_oracle"] < rec["eps_bayes"] < rec["eps_t"] < 0.5
    assert "chain" not in rec


def test_theory_matches_library_solve():
    from kdscope.theory import solve

    rec = _json(runner.invoke(app, ["theory", "--alpha", "3", "--lam-t", "0.1", "--json"]))
    sp = solve(Setting(alpha=3.0, lam_t=0.1))
    assert rec["eps_t"] == pytest.approx(float(sp.eps[0]), rel=1e-12)


def test_every_setting_field_is_an_option():
    cmd = get_command(app).commands["theory"]
    opts = {o for p in cmd.params for o in p.opts + p.secondary_opts}
    for name in Setting.field_names():
        assert "--" + name.replace("_", "-") in opts
    assert {"--no-tau2-factor", "--no-bias", "--student", "--json", "--out", "--debug"} <= opts


def test_student_chain_and_flags():
    rec = _json(runner.invoke(app, ["theory", "--alpha", "3", "--student", "--eta", "0.5", "--lam-s", "1e-3",
                                    "--no-tau2-factor", "--tau", "2", "--json"]))
    assert rec["generations"] == 1 and rec["tau2_factor"] is False and rec["converged"] is True
    assert [c["k"] for c in rec["chain"]] == [0, 1]
    assert rec["chain"][1]["eps"] == rec["eps_s"] and set(rec["chain"][0]) == {
        "k", "m", "q", "V", "b", "eps", "eps_train", "loss_train"}
    rec = _json(runner.invoke(app, ["theory", "--alpha", "3", "--student", "--generations", "2", "--lam-s", "1e-3",
                                    "--json"]))
    assert rec["generations"] == 2 and len(rec["chain"]) == 3


def test_invalid_setting_exit_2_one_line_naming_parameter():
    result = runner.invoke(app, ["theory", "--rho", "1.2"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'rho'" in lines[0] and "1.2" in lines[0] and "(0, 1)" in lines[0]
    assert "Traceback" not in result.output


def test_invalid_setting_debug_raises():
    from kdscope import SettingError

    result = runner.invoke(app, ["theory", "--rho", "1.2", "--debug"])
    assert result.exit_code != 0 and isinstance(result.exception, SettingError)


def test_cross_field_error_exit_2():
    result = runner.invoke(app, ["theory", "--eta", "0.5"])
    assert result.exit_code == 2 and "eta" in result.stderr and "generations" in result.stderr


def test_not_converged_exit_3():
    result = runner.invoke(app, ["theory", "--alpha", "2", "--lam-t", "0"])  # separable: the norm diverges
    assert result.exit_code == 3
    assert "diverged" in result.stderr and "separability" in result.stderr
    result = runner.invoke(app, ["theory", "--alpha", "2", "--max-iter", "1", "--json"])
    assert result.exit_code == 3 and json.loads(result.stdout)["converged"] is False


def test_theory_out_resumes_from_store(tmp_path, monkeypatch):
    args = ["theory", "--alpha", "2.5", "--lam-t", "0.1", "--json", "--out", str(tmp_path)]
    first = _json(runner.invoke(app, args))
    import kdscope.theory

    def no_solve(*_a, **_k):
        raise AssertionError("a stored point must not be solved again")

    monkeypatch.setattr(kdscope.theory, "solve", no_solve)
    second = _json(runner.invoke(app, args))
    assert second["eps_t"] == first["eps_t"]
    assert len(list((tmp_path / "points").glob("*.parquet"))) == 1


def test_simulate_json_has_se_and_size(tmp_path):
    args = ["simulate", "--alpha", "2", "--lam-t", "0.1", "--d", "40", "--seeds", "2", "--json", "--out", str(tmp_path)]
    rec = _json(runner.invoke(app, args))
    for k in ISSUE_KEYS:
        if k not in ("iterations", "residual"):
            assert k in rec
    assert rec["d"] == 40 and rec["seeds"] == [0, 1] and "eps_t_se" in rec and rec["converged"] is True
    again = _json(runner.invoke(app, args))
    assert again["eps_t"] == rec["eps_t"] and len(list((tmp_path / "points").glob("*.parquet"))) == 1


def test_simulate_invalid_exit_2():
    assert runner.invoke(app, ["simulate", "--theta", "0.7"]).exit_code == 2
    assert runner.invoke(app, ["simulate", "--d", "1"]).exit_code == 2
