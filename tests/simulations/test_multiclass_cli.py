"""``kdscope multiclass theory | simulate`` through typer's CliRunner: keys, values, exit codes."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from kdscope.cli import app

runner = CliRunner()
THEORY_KEYS = ("eps_t", "eps_s", "agreement", "M_t", "Q_t", "M_s", "Q_s", "Q_ts", "b_t", "b_s", "converged",
               "status", "iterations", "residual")
BASE = ["--classes", "3", "--gram", "hier:0.8", "--pi", "0.5,0.3,0.2", "--alpha", "2", "--delta", "1",
        "--lam-t", "0.1"]
STUDENT = ["--student", "--xi", "1", "--tau", "2", "--soft", "kl", "--lam-s", "0.01"]


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_theory_teacher_matches_the_library():
    from kdscope.theory.multiclass import MulticlassSetting, hierarchical_gram, solve_multiclass

    rec = _json(runner.invoke(app, ["multiclass", "theory", *BASE, "--json"]))
    sp = solve_multiclass(MulticlassSetting(classes=3, gram=hierarchical_gram(3, 0.8), pi=(0.5, 0.3, 0.2),
                                            alpha=2.0, delta=1.0, lam_t=0.1))
    assert rec["converged"] is True and rec["status"] == "converged"
    assert rec["eps_t"] == pytest.approx(float(sp.eps[0]), rel=1e-12)
    assert np.shape(rec["M_t"]) == (3, 3) and np.shape(rec["Q_t"]) == (3, 3) and len(rec["b_t"]) == 3
    assert "eps_s" not in rec


def test_theory_student_has_every_issue_key():
    rec = _json(runner.invoke(app, ["multiclass", "theory", *BASE, *STUDENT, "--order", "12,3", "--json"]))
    for k in THEORY_KEYS:
        assert k in rec, k
    assert np.shape(rec["Q_ts"]) == (3, 3) and 0.5 < rec["agreement"] <= 1.0


def test_simulate_has_se_twins():
    rec = _json(runner.invoke(app, ["multiclass", "simulate", *BASE, *STUDENT, "--d", "40", "--seeds", "2", "--json"]))
    for k in THEORY_KEYS:
        assert k in rec, k
    for k in ("eps_t", "eps_s", "agreement", "M_t", "Q_ts", "b_s"):
        assert k + "_se" in rec
        assert np.shape(rec[k + "_se"]) == np.shape(rec[k])
    assert rec["d"] == 40 and rec["seeds"] == [0, 1] and rec["converged"] is True


@pytest.mark.parametrize("args, name", [
    (["--pi", "0.5,0.3"], "pi"), (["--pi", "a,b,c"], "pi"), (["--gram", "hier:2"], "gram"),
    (["--gram", "nonsense"], "gram"), (["--classes", "1"], "classes"), (["--alpha", "-1"], "alpha"),
    (["--soft", "KL"], "soft"), (["--xi", "2"], "xi"),
])
def test_bad_input_exits_2_with_one_line_naming_the_parameter(args, name):
    res = runner.invoke(app, ["multiclass", "theory", *args])
    assert res.exit_code == 2
    msg = res.stderr.strip() if hasattr(res, "stderr") else res.output.strip()
    assert name in msg and "\n" not in msg and "Traceback" not in res.output


def test_simulate_bad_size_exits_2():
    res = runner.invoke(app, ["multiclass", "simulate", "--d", "2"])
    assert res.exit_code == 2 and "'d'" in res.output + getattr(res, "stderr", "")
