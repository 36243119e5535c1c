"""``kdscope multiclass theory | simulate``: C-class distillation, theory and finite-size simulation.

    kdscope multiclass theory --classes 3 --gram hier:0.8 --pi 0.5,0.3,0.2 --alpha 2 --lam-t 0.1 \\
        --student --xi 1 --tau 2 --soft kl --lam-s 0.01 --json
    kdscope multiclass simulate ... --d 500 --seeds 8 --json
    kdscope multiclass figures [--quick] [--out DIR] [--only mc_gain,mc_tau_star]
    kdscope multiclass bridge [--config experiments/multiclass_bridge.yaml] [--quick] [--out DIR]

The variants of docs/multiclass.md take --alpha-s (fresh samples for the student), --teacher fixed with
--m0/--q0[/--b0] (a given teacher's overlaps, JSON text or a JSON file) and --eta (sparse student); all
need --student.  ``theory`` and ``simulate`` print one record: eps_t (eps_s), agreement, M_t, Q_t
(M_s, Q_s, Q_ts) as nested lists, b_t (b_s), converged, status, iterations, residual, plus the setting,
V_*, training loss/error, eps_bayes and eps_oracle; ``simulate`` adds a '<key>_se' twin for every
observable (its 'iterations' is null and its 'residual' the largest final gradient entry over seeds and
learners).  Exit codes: 0 converged, 2 invalid input (one line naming the parameter), 3 not converged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from kdscope.cli._app import app
from kdscope.cli.options import DEBUG_OPTION, EXIT_INVALID, EXIT_NOT_CONVERGED, JSON_OPTION, fail, json_safe

multiclass_app = typer.Typer(help="C-class distillation: replica theory and simulations (DESIGN.md section 8).",
                             no_args_is_help=True)
app.add_typer(multiclass_app, name="multiclass")

PANEL = "Setting (the multi-class problem)"
Classes = Annotated[int, typer.Option("--classes", help="Number of classes C (2 to 8).", rich_help_panel=PANEL)]
Gram = Annotated[str, typer.Option("--gram", help="simplex, hier:R (classes 0 and 1 with cosine R) or FILE.json.",
                                   rich_help_panel=PANEL)]
Pi = Annotated[Optional[str], typer.Option("--pi", help="Class probabilities, comma-separated (default uniform).",
                                           rich_help_panel=PANEL)]
Alpha = Annotated[float, typer.Option("--alpha", help="Samples per dimension n/d.", rich_help_panel=PANEL)]
Delta = Annotated[float, typer.Option("--delta", help="Noise variance.", rich_help_panel=PANEL)]
LamT = Annotated[float, typer.Option("--lam-t", help="Teacher ridge.", rich_help_panel=PANEL)]
LamS = Annotated[float, typer.Option("--lam-s", help="Student ridge.", rich_help_panel=PANEL)]
Student = Annotated[bool, typer.Option("--student", help="Add one student (generations=1).", rich_help_panel=PANEL)]
Xi = Annotated[float, typer.Option("--xi", help="Weight of the soft term in [0, 1].", rich_help_panel=PANEL)]
Tau = Annotated[float, typer.Option("--tau", help="Temperature of kl.", rich_help_panel=PANEL)]
Soft = Annotated[str, typer.Option("--soft", help="kl or mse.", rich_help_panel=PANEL)]
Tau2 = Annotated[bool, typer.Option("--tau2-factor/--no-tau2-factor", help="Hinton's tau^2 factor on kl.",
                                    rich_help_panel=PANEL)]
VPANEL = "Variants (fresh samples, given teacher, sparse student; need --student)"
Teacher = Annotated[str, typer.Option("--teacher", help="erm: the teacher is trained (on the students' samples, or on "
                                      "its own alpha d samples with --alpha-s); fixed: a given teacher of overlaps "
                                      "--m0, --q0, --b0.", rich_help_panel=VPANEL)]
M0 = Annotated[Optional[str], typer.Option("--m0", help="Given teacher (--teacher fixed): C x C overlaps "
                                           "M_0(j, c) = w_0j . mu_c / d, as JSON (e.g. [[1,0,0],[0,1,0],[0,0,1]]) or "
                                           "a JSON file (a list of lists, or an object with key m0).",
                                           rich_help_panel=VPANEL)]
Q0 = Annotated[Optional[str], typer.Option("--q0", help="Given teacher (--teacher fixed): C x C Gram matrix "
                                           "Q_00 = W_0 W_0^T / d, as JSON or a JSON file (key q0); q0 - m0 G^+ m0^T "
                                           "must be positive semi-definite.", rich_help_panel=VPANEL)]
B0 = Annotated[Optional[str], typer.Option("--b0", help="Given teacher (--teacher fixed): its C biases, as JSON "
                                           "(e.g. [0,0,0]) or a JSON file (key b0); default zeros.",
                                           rich_help_panel=VPANEL)]
AlphaS = Annotated[Optional[float], typer.Option("--alpha-s", help="Fresh samples per dimension for the students: "
                                                 "the teacher trains on its own alpha d samples, the students on "
                                                 "alpha_s d others (default: the teacher's samples).",
                                                 rich_help_panel=VPANEL)]
Eta = Annotated[float, typer.Option("--eta", help="Fraction of the input coordinates the student trains, in (0, 1] "
                                    "(sparse student; 1 is dense, the teacher is always dense).",
                                    rich_help_panel=VPANEL)]
SUMMARY_KEYS = ("eps", "b", "loss_train")


def parse_overlap(name: str, spec: Optional[str]):
    """A matrix or vector from ``--m0/--q0/--b0``: JSON text, or a JSON file (a list, or an object keyed by name)."""
    if spec is None:
        return None
    text = spec.strip()
    if not text.startswith(("[", "{")):
        path = Path(text)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"'{name}' (--{name}) must be JSON such as [[1,0],[0,1]] or a readable JSON file; "
                             f"got {spec!r} ({exc.__class__.__name__}).")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"'{name}' (--{name}) could not be read as JSON; got {spec!r}.")
    if isinstance(data, dict):
        if name not in data:
            raise ValueError(f"'{name}' (--{name}): the JSON object has no key {name!r}; keys {sorted(data)}.")
        data = data[name]
    return data


def build_multiclass_setting(classes, gram, pi, alpha, delta, lam_t, lam_s, student, xi, tau, soft, tau2_factor,
                             debug=False, teacher="erm", m0=None, q0=None, b0=None, alpha_s=None, eta=1.0):
    """The MulticlassSetting of the options; bad input exits 2 with one line naming the parameter."""
    from kdscope.theory.constraints import SettingError
    from kdscope.theory.multiclass import MulticlassSetting, parse_gram

    try:
        G = parse_gram(gram, classes) if classes >= 2 else None
        p = None
        if pi is not None:
            try:
                p = tuple(float(v) for v in pi.split(","))
            except ValueError:
                raise ValueError(f"'pi' must be comma-separated numbers, e.g. 0.5,0.3,0.2; got {pi!r}.")
        return MulticlassSetting(classes=classes, gram=G, pi=p, alpha=alpha, delta=delta, lam_t=lam_t, lam_s=lam_s,
                                 generations=1 if student else 0, xi=xi, tau=tau, soft=soft, tau2_factor=tau2_factor,
                                 teacher=teacher, m0=parse_overlap("m0", m0), q0=parse_overlap("q0", q0),
                                 b0=parse_overlap("b0", b0), alpha_s=alpha_s, eta=eta)
    except (SettingError, ValueError) as exc:
        fail(str(exc).replace("set generations >= 1", "add --student"), EXIT_INVALID, debug, exc)


def _summary(rec: dict) -> str:
    def f(v):
        return "nan" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))

    lines = []
    for x, who in (("t", "teacher"), ("s", "student")):
        if f"eps_{x}" not in rec:
            continue
        parts = []
        for k in SUMMARY_KEYS:
            v = rec[f"{k}_{x}"]
            txt = f"{k}=" + ("[" + ", ".join(f(float(a)) for a in v) + "]" if isinstance(v, list) else f(v))
            if f"{k}_{x}_se" in rec and not isinstance(v, list):
                txt += f"+-{f(rec[f'{k}_{x}_se'])}"
            parts.append(txt)
        lines.append(f"{who:<8} " + "  ".join(parts))
    extra = [f"{k}={f(rec[k])}" for k in ("eps_bayes", "eps_oracle") if k in rec]  # simulate has neither
    if "agreement" in rec:
        extra.append(f"agreement={f(rec['agreement'])}")
    lines.append("         " + "  ".join(extra))
    lines.append(f"status: {rec.get('status')} ({f(rec.get('seconds'))} s)")
    return "\n".join(lines)


@multiclass_app.command("theory")
def theory(classes: Classes = 3, gram: Gram = "simplex", pi: Pi = None, alpha: Alpha = 2.0, delta: Delta = 1.0,
           lam_t: LamT = 0.1, lam_s: LamS = 0.01, student: Student = False, xi: Xi = 1.0, tau: Tau = 1.0,
           soft: Soft = "kl", tau2_factor: Tau2 = True, teacher: Teacher = "erm", m0: M0 = None, q0: Q0 = None,
           b0: B0 = None, alpha_s: AlphaS = None, eta: Eta = 1.0,
           order: Annotated[Optional[str], typer.Option("--order", help="Gauss-Hermite nodes per learner block, "
                                                        "e.g. 24,6 (default by C and K).")] = None,
           json_out: JSON_OPTION = False, debug: DEBUG_OPTION = False) -> None:
    """Solve the multi-class replica saddle point and print its record."""
    from kdscope.theory.multiclass import MulticlassSolverOptions, solve_multiclass

    s = build_multiclass_setting(classes, gram, pi, alpha, delta, lam_t, lam_s, student, xi, tau, soft, tau2_factor,
                                 debug, teacher, m0, q0, b0, alpha_s, eta)
    opts = None
    if order is not None:
        try:
            orders = tuple(int(v) for v in order.split(","))
            if len(orders) != s.n_learners or min(orders) < 2:
                raise ValueError
        except ValueError as exc:
            fail(f"'order' must be {s.n_learners} comma-separated integers >= 2 (one per learner); got {order!r}.",
                 EXIT_INVALID, debug, exc)
        opts = MulticlassSolverOptions(order=orders)
    rec = solve_multiclass(s, opts, on_failure="record").record()
    typer.echo(json.dumps(json_safe(rec)) if json_out else _summary(rec))
    if not rec["converged"]:
        fail(f"multiclass theory: {rec['status']} (residual {rec['residual']:.3g} after {rec['iterations']} "
             "iterations).", EXIT_NOT_CONVERGED)


@multiclass_app.command("simulate")
def simulate(classes: Classes = 3, gram: Gram = "simplex", pi: Pi = None, alpha: Alpha = 2.0, delta: Delta = 1.0,
             lam_t: LamT = 0.1, lam_s: LamS = 0.01, student: Student = False, xi: Xi = 1.0, tau: Tau = 1.0,
             soft: Soft = "kl", tau2_factor: Tau2 = True, teacher: Teacher = "erm", m0: M0 = None, q0: Q0 = None,
             b0: B0 = None, alpha_s: AlphaS = None, eta: Eta = 1.0,
             d: Annotated[int, typer.Option("--d", help="Dimension d (n = alpha d samples).")] = 500,
             seeds: Annotated[int, typer.Option("--seeds", help="Number of seeds (0 .. seeds-1).")] = 8,
             json_out: JSON_OPTION = False, debug: DEBUG_OPTION = False) -> None:
    """Train teacher (and student) exactly at dimension d over seeds; print means with standard errors."""
    from kdscope.simulations.multiclass import simulate_multiclass

    s = build_multiclass_setting(classes, gram, pi, alpha, delta, lam_t, lam_s, student, xi, tau, soft, tau2_factor,
                                 debug, teacher, m0, q0, b0, alpha_s, eta)
    if d < classes:
        fail(f"'d' must be an integer >= classes={classes}; got {d}.", EXIT_INVALID)
    if seeds < 2:
        fail(f"'seeds' must be an integer >= 2 (standard errors need two); got {seeds}.", EXIT_INVALID)
    rec = simulate_multiclass(s, d=d, seeds=seeds)
    grads = [rec[k] for k in rec if k.startswith("grad_") and not k.endswith("_se")]
    rec["iterations"] = None
    rec["residual"] = max(grads) if grads else None
    typer.echo(json.dumps(json_safe(rec)) if json_out else _summary(rec))
    if not rec["converged"]:
        fail(f"multiclass simulate: {rec['status']}.", EXIT_NOT_CONVERGED)


@multiclass_app.command("figures")
def figures(
    quick: Annotated[bool, typer.Option("--quick", help="Coarse grids: the four figures in a few minutes.")] = False,
    out: Annotated[Path, typer.Option("--out", help="Output folder (tables, figures, captions, store/).")] = Path(
        "kdscope-out/multiclass"),
    only: Annotated[Optional[str], typer.Option("--only", help="Comma-separated figure names (mc_gain, mc_kl_mse, "
                                                "mc_tau_star, mc_double_descent).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="tqdm progress bars.")] = False,
    debug: DEBUG_OPTION = False,
) -> None:
    """Draw the multi-class figures (gain vs geometry and tau, KL vs MSE, tau* vs alpha, double descent)."""
    import time

    import matplotlib

    matplotlib.use("Agg")
    from kdscope.cli.options import out_dir_or_exit
    from kdscope.multiclass_figures import make_multiclass_figure, multiclass_recipe_names, multiclass_recipes
    from kdscope.store import ResultStore

    names = multiclass_recipe_names()
    if only:
        wanted = [w.strip() for w in only.split(",") if w.strip()]
        unknown = [w for w in wanted if w not in names]
        if unknown:
            fail(f"'--only' names unknown figure(s) {unknown}; known: {', '.join(names)}.", EXIT_INVALID, debug)
        names = wanted
    out_dir_or_exit(out, debug)
    store = ResultStore(out / "store")
    t0 = time.perf_counter()
    for r in multiclass_recipes(quick=quick, names=names):
        t1 = time.perf_counter()
        typer.echo(f"== {r.name}: {r.title}")
        df, paths = make_multiclass_figure(r, store, out, quick=quick, progress=progress)
        typer.echo(f"   {int(df['converged'].sum())}/{len(df)} rows converged in {time.perf_counter() - t1:.1f} s -> "
                   + ", ".join(str(p) for p in paths[1:]))
    typer.echo(f"{len(names)} figures in {time.perf_counter() - t0:.0f} s under {out}")


@multiclass_app.command("bridge")
def bridge(
    config: Annotated[Optional[Path], typer.Option("--config", help="Experiment file, e.g. "
                                                   "experiments/multiclass_bridge.yaml (default: built-in).")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="The file's quick: block (small d, few seeds).")] = False,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="fashion_mnist or digits.")] = None,
    classes: Annotated[Optional[str], typer.Option("--classes", help="Class ids, e.g. 0,6,7.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Folder of the data set's files.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("kdscope-out/multiclass_bridge"),
    json_out: JSON_OPTION = False,
    debug: DEBUG_OPTION = False,
) -> None:
    """Fit a C-class mixture to real classes, train softmax probes, compare with the multi-class theory.

    Writes OUT/multiclass_bridge.parquet (comparison), _per_seed.parquet, .json (config, mixture, goodness of
    fit, summary) and .pdf / .png (measured errors with the theory against alpha).
    """
    import dataclasses
    import json

    from kdscope.cli.options import out_dir_or_exit
    from kdscope.empirical.bridge.multiclass import (MulticlassBridgeConfig, load_multiclass_bridge,
                                                     run_multiclass_bridge)
    from kdscope.empirical.data import DatasetNotFoundError
    from kdscope.store import write_table

    try:
        cfg = load_multiclass_bridge(config, quick=quick) if config is not None else MulticlassBridgeConfig()
        changes = {}
        if dataset is not None:
            changes["dataset"] = dataset
        if classes is not None:
            try:
                changes["classes"] = tuple(int(c) for c in classes.split(","))
            except ValueError:
                raise ValueError(f"'--classes' must be comma-separated class ids such as 0,6,7; got {classes!r}.")
        if config is None and quick:
            changes.update(d=30, alphas=(1.0, 2.0, 4.0), seeds=4)
        cfg = dataclasses.replace(cfg, **changes) if changes else cfg
    except (ValueError, OSError) as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    out_dir_or_exit(out, debug)
    try:
        res = run_multiclass_bridge(cfg, data_dir=data_dir)
    except (ValueError, DatasetNotFoundError) as exc:
        fail(str(exc), EXIT_INVALID, debug, exc)
    write_table(res["comparison"], out / "multiclass_bridge.parquet")
    write_table(res["per_seed"], out / "multiclass_bridge_per_seed.parquet")
    summary = json_safe({k: res[k] for k in ("config", "mixture", "gof", "summary", "n_test")})
    summary["comparison"] = json_safe(res["comparison"].to_dict("records"))
    (out / "multiclass_bridge.json").write_text(json.dumps(summary, indent=2))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kdscope.figures import paper_style
    from kdscope.figures.multiclass import plot_multiclass_bridge
    from kdscope.store import write_figure

    with paper_style():
        fig = plot_multiclass_bridge(res["comparison"], title=f"{cfg.dataset} classes {list(cfg.classes)}, d = {cfg.d}")
        write_figure(fig, out / "multiclass_bridge")
    plt.close(fig)
    if json_out:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"mixture: G={[[round(v, 3) for v in r] for r in res['mixture']['G']]}, pi={res['mixture']['pi']}, "
               f"cos(0,1)={res['mixture']['cosine_01']:.3f}")
    gof = res["gof"]
    typer.echo(f"goodness of fit: noise ratio {gof['gof_noise_ratio']:.3f} (model 1), eigenvalue cv "
               f"{gof['gof_eig_cv']:.3f} (model {gof['gof_eig_cv_gauss']:.3f}), covariance asymmetry "
               f"{gof['gof_cov_asym']:.3f} (model {gof['gof_cov_asym_gauss']:.3f}), kurtosis {gof['gof_kurtosis']:.3f} "
               f"(model 0 +- {gof['gof_kurtosis_se']:.3f}), oracle error {gof['eps_oracle_measured']:.4f} "
               f"(theory {gof['eps_oracle']:.4f})")
    for r in res["comparison"].to_dict("records"):
        typer.echo(f"alpha={r['alpha']:g}: eps_t {r['eps_t']:.4f}+-{r['eps_t_se']:.4f} "
                   f"(theory {r['eps_t_theory']:.4f}, "
                   f"z={r['z_eps_t']:+.1f})  eps_s {r['eps_s']:.4f}+-{r['eps_s_se']:.4f} (theory "
                   f"{r['eps_s_theory']:.4f}, z={r['z_eps_s']:+.1f})  agreement {r['agreement']:.4f} (theory "
                   f"{r['agreement_theory']:.4f})")
    typer.echo(f"-> {out}")
