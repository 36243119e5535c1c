"""The multi-class variants on the CLI: --alpha-s (fresh samples), --teacher fixed --m0/--q0/--b0, --eta."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from kdscope.cli import app
from kdscope.theory.multiclass import MulticlassSetting, MulticlassSolverOptions, simplex_gram, solve_multiclass

runner = CliRunner()
KEYS = ("eps_t", "eps_s", "agreement", "M_t", "Q_t", "M_s", "Q_s", "Q_ts", "b_t", "b_s", "converged", "status",
        "iterations", "residual")
BASE = ["--classes", "3", "--alpha", "2", "--lam-t", "0.1", "--student", "--xi", "1", "--tau", "2",
        "--lam-s", "0.01", "--order", "12,3"]
G3 = simplex_gram(3)
M0 = G3.tolist()  # rows in the row space of G
Q0 = (1.5 * G3).tolist()  # Q0 - M0 G^+ M0^T = 0.5 G is PSD
B0 = [0.2, 0.0, -0.2]


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _library(**variant):
    s = MulticlassSetting(classes=3, alpha=2.0, lam_t=0.1, generations=1, xi=1.0, tau=2.0, lam_s=0.01, **variant)
    return solve_multiclass(s, MulticlassSolverOptions(order=(12, 3))).record()


def _assert_same(cli, lib):
    for k in KEYS:
        assert k in cli, k
    assert cli["converged"] is True and lib["converged"] is True
    for k in ("eps_t", "eps_s", "agreement"):
        assert cli[k] == pytest.approx(lib[k], rel=1e-12, abs=1e-14), k
    for k in ("M_s", "Q_s", "Q_ts", "b_s"):
        np.testing.assert_allclose(cli[k], lib[k], rtol=1e-12, atol=1e-14, err_msg=k)


def test_sparse_student_equals_the_library():
    cli = _json(runner.invoke(app, ["multiclass", "theory", *BASE, "--eta", "0.5", "--json"]))
    lib = _library(eta=0.5)
    _assert_same(cli, lib)
    assert cli["eta"] == 0.5
    dense = _json(runner.invoke(app, ["multiclass", "theory", *BASE, "--json"]))
    assert abs(dense["eps_s"] - cli["eps_s"]) > 1e-4  # the option reaches the solver


def test_fresh_sample_teacher_equals_the_library():
    cli = _json(runner.invoke(app, ["multiclass", "theory", *BASE, "--alpha-s", "3", "--json"]))
    lib = _library(alpha_s=3.0)
    _assert_same(cli, lib)
    assert cli["alpha_s"] == 3.0


def test_fixed_teacher_from_json_text_and_file_equals_the_library(tmp_path):
    lib = _library(teacher="fixed", m0=M0, q0=Q0, b0=B0)
    cli = _json(runner.invoke(app, ["multiclass", "theory", *BASE, "--teacher", "fixed", "--m0", json.dumps(M0),
                                    "--q0", json.dumps(Q0), "--b0", json.dumps(B0), "--json"]))
    _assert_same(cli, lib)
    f = tmp_path / "teacher.json"
    f.write_text(json.dumps({"m0": M0, "q0": Q0, "b0": B0}))
    g = tmp_path / "m0.json"
    g.write_text(json.dumps(M0))
    cli2 = _json(runner.invoke(app, ["multiclass", "theory", *BASE, "--teacher", "fixed", "--m0", str(g),
                                     "--q0", str(f), "--b0", str(f), "--json"]))
    _assert_same(cli2, lib)


def test_simulate_takes_the_variants():
    rec = _json(runner.invoke(app, ["multiclass", "simulate", *BASE[:-2], "--eta", "0.5", "--alpha-s", "3",
                                    "--d", "40", "--seeds", "2", "--json"]))
    for k in KEYS:
        assert k in rec, k
    assert rec["eta"] == 0.5 and rec["alpha_s"] == 3.0 and "eps_s_se" in rec
    text = runner.invoke(app, ["multiclass", "simulate", "--student", "--eta", "0.5", "--d", "30", "--seeds", "2"])
    assert text.exit_code == 0, text.output
    assert "student" in text.stdout and "eps_bayes" not in text.stdout  # no 'nan' for what simulate does not compute


@pytest.mark.parametrize("args, name", [
    (["--eta", "0"], "eta"), (["--eta", "1.5"], "eta"), (["--alpha-s", "-1"], "alpha_s"),
    (["--teacher", "bayes"], "teacher"), (["--teacher", "fixed"], "m0"),
    (["--teacher", "fixed", "--m0", json.dumps(M0), "--q0", json.dumps((0.5 * G3).tolist())], "q0"),
    (["--teacher", "fixed", "--m0", json.dumps(M0), "--q0", "[[1, 0], [0, 1]]"], "q0"),
    (["--teacher", "fixed", "--m0", "[[1, 0, 0], [0, 1", "--q0", json.dumps(Q0)], "m0"),
    (["--teacher", "fixed", "--m0", "no-such-file.json", "--q0", json.dumps(Q0)], "m0"),
    (["--m0", json.dumps(M0)], "m0"),
])
@pytest.mark.parametrize("command", ["theory", "simulate"])
def test_bad_variant_exits_2_with_one_line_naming_the_option(command, args, name):
    res = runner.invoke(app, ["multiclass", command, "--student", *args])
    assert res.exit_code == 2, res.output
    msg = res.stderr.strip() if hasattr(res, "stderr") else res.output.strip()
    assert name in msg and "\n" not in msg and "Traceback" not in res.output


def test_variant_without_student_says_to_add_it():
    res = runner.invoke(app, ["multiclass", "theory", "--eta", "0.5"])
    assert res.exit_code == 2
    msg = res.stderr.strip() if hasattr(res, "stderr") else res.output.strip()
    assert "--student" in msg and "eta" in msg and "\n" not in msg
