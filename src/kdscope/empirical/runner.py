"""Run an experiment: every condition x seed x learner, then a multi-seed summary.

For each condition of the grid (``base`` without one) and each seed, the data
splits are drawn (class-balanced subset, label noise) with the data seed (the run
seed unless ``data.seed`` is set), the teacher is trained on hard labels, then the
students in file order, each from its frozen ``teacher`` ("teacher" or an earlier
student: a born-again chain).  Every learner of one seed starts from the same
initialisation seed, so students differ only in their objective.  Learners whose
folder is complete are loaded instead of retrained, and an interrupted learner
resumes from its checkpoint: re-running the same command continues the run.

Run-folder layout (``OUT``)::

    OUT/
      config.yaml           the resolved experiment config (after --quick), plain data
      run.json              kdscope and torch versions, quick flag, data_dir, seeds, wall time
      summary.parquet/.csv  one row per (condition, learner): mean and std over seeds of
                            the test accuracy at the best-validation epoch and at the last
                            epoch, agreement with the teacher and ECE at the last epoch;
                            95% CI of the best-epoch accuracy and its paired difference to
                            the student alone (acc_*, delta_*; see kdscope.empirical.statistics)
      logs.parquet          every per-epoch row of every learner (see kdscope.empirical.train)
      figure_*.png/.pdf     figures drawn by the CLI (kl_vs_mse: accuracy vs tau)
      runs/<condition>/seed<s>/
        split.npz           idx_train, idx_val, idx_test (into the raw pool / test set),
                            y_train (training labels as used, noisy if theta > 0)
        <learner>/          "teacher" or the student's name
          learner.json      role, model, student config, teacher, seed, condition,
                            best epoch, complete flag, kdscope version
          log.parquet       per-epoch log;  checkpoint.pt  resume state
          model.pt          final weights;  model_best.pt  weights at the best epoch

Read a run back with :mod:`kdscope.empirical.store` (``list_models``, ``load_model``,
``load_splits``).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from kdscope.empirical.config import ExperimentConfig, to_dict
from kdscope.empirical.data import RawDataset, load_raw, make_splits
from kdscope.empirical.teacher_store import DEFAULT_ROOT, TeacherSpec, get_teacher
from kdscope.empirical.train import BEST, FINAL, LOG, TrainResult, train_learner

SUMMARY_COLUMNS = ("test_acc", "agreement", "test_ece")


@dataclass(frozen=True)
class ExperimentResult:
    """What :func:`run_experiment` returns: the run folder, the summary and all per-epoch logs."""

    out_dir: Path
    summary: pd.DataFrame
    logs: pd.DataFrame
    seconds: float


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("kdscope")
    except Exception:  # noqa: BLE001 - not installed: report it rather than fail
        return "unknown"


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, default=str))


def _learner_row(cfg: ExperimentConfig, name: str, condition: str, seed: int) -> dict:
    """Descriptive columns of one learner (constant over epochs)."""
    if name == "teacher":
        model, row = cfg.teacher.model, {"role": "teacher", "teacher_of": "", "xi": 0.0, "loss": "ce", "tau": np.nan,
                                         "aggregator": "fixed", "features": ""}
    else:
        s = next(s for s in cfg.students if s.name == name)
        model = s.model
        row = {"role": "student", "teacher_of": s.teacher if s.uses_teacher else "", "xi": s.xi,
               "loss": s.loss if s.xi > 0 else "ce", "tau": s.tau if (s.xi > 0 and s.loss == "kl") else np.nan,
               "aggregator": s.aggregator, "features": ",".join(f"{f.kind}:{f.student}" for f in s.features)}
    m = cfg.models[model]
    return {"condition": condition, "seed": seed, "learner": name, **row, "model": model, "arch": m.arch,
            "width": m.width, "depth": m.depth}


def run_experiment(
    cfg: ExperimentConfig,
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    quick: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] | None = print,
    device: str | torch.device = "cpu",
    teacher_root: str | Path | None = None,
) -> ExperimentResult:
    """Train every learner of ``cfg`` into ``out_dir`` (on ``device``) and write the summary table.

    With ``teacher.pretrained`` the teacher comes from the teacher store at ``teacher_root``
    (default ``kdscope-out/teachers``), trained at most once per data set and noise rate.

    Raises :class:`kdscope.empirical.data.DatasetNotFoundError` before any training if the
    data set's files are missing.
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    meta = {"experiment": cfg.name, "kdscope_version": _version(), "torch_version": torch.__version__,
            "python": platform.python_version(), "threads": torch.get_num_threads(), "quick": quick,
            "data_dir": str(data_dir) if data_dir else None, "seeds": list(cfg.seeds), "device": str(device)}
    _write_json(out / "run.json", meta)
    raws: dict[str, RawDataset] = {}
    all_logs = []
    for condition, data_cfg in cfg.conditions():
        if data_cfg.dataset not in raws:
            raws[data_cfg.dataset] = load_raw(data_cfg.dataset, data_dir)
        raw = raws[data_cfg.dataset]
        stored = None
        if cfg.teacher.pretrained:
            spec = TeacherSpec(data_cfg.dataset, cfg.models[cfg.teacher.model], cfg.train_of(cfg.teacher),
                               seed=cfg.teacher.seed, theta=data_cfg.theta, noise=data_cfg.noise)
            stored = get_teacher(spec, raw, root=teacher_root if teacher_root is not None else DEFAULT_ROOT,
                                 device=device, progress=progress, echo=echo)
            if echo is not None:
                echo(f"[{condition}] teacher {stored.key} from the store: test accuracy {stored.test_acc:.4f} "
                     f"(whole pool, theta={data_cfg.theta:g})")
        for seed in cfg.seeds:
            seed_dir = out / "runs" / condition / f"seed{seed}"
            seed_dir.mkdir(parents=True, exist_ok=True)
            splits = make_splits(raw, train_fraction=data_cfg.train_fraction, val_fraction=data_cfg.val_fraction,
                                 test_fraction=data_cfg.test_fraction, theta=data_cfg.theta, noise=data_cfg.noise,
                                 seed=data_cfg.seed if data_cfg.seed is not None else seed,
                                 norm=(stored.mean, stored.std) if stored is not None else None)
            np.savez(seed_dir / "split.npz", idx_train=splits.idx_train, idx_val=splits.idx_val,
                     idx_test=splits.idx_test, y_train=splits.y_train.numpy(), norm=np.array([splits.mean, splits.std]))
            trained: dict[str, torch.nn.Module] = {}
            learners = [("teacher", cfg.teacher, None)] + [(s.name, s, s) for s in cfg.students]
            for name, spec, student_cfg in learners:
                ldir = seed_dir / name
                info = _learner_row(cfg, name, condition, seed)
                teacher = trained.get(student_cfg.teacher) if student_cfg is not None else None
                if name == "teacher" and stored is not None:
                    res = _stored_teacher_result(stored, splits, info, ldir)
                else:
                    res = train_learner(cfg.models[spec.model], splits, cfg.train_of(spec), seed=seed,
                                        student_cfg=student_cfg, teacher=teacher, run_dir=ldir, meta=info,
                                        progress=progress, desc=f"{condition} seed{seed} {name}", device=device)
                trained[name] = res.model
                _write_json(ldir / "learner.json", {**info, "best_epoch": res.best_epoch, "complete": res.completed,
                                                    "kdscope_version": meta["kdscope_version"],
                                                    "model_config": asdict(cfg.models[spec.model]),
                                                    "n_classes": splits.n_classes, "in_channels": splits.in_channels,
                                                    "student_config": to_dict(student_cfg) if student_cfg else None})
                last = res.log.iloc[-1]
                best = res.log.loc[res.log["epoch"] == res.best_epoch].iloc[0]
                if echo is not None:
                    echo(f"[{condition} seed {seed}] {name:<14s} test acc best {best['test_acc']:.4f} "
                         f"(epoch {res.best_epoch})  last {last['test_acc']:.4f}  agreement {last['agreement']:.4f}")
                all_logs.append(res.log)
    logs = pd.concat(all_logs, ignore_index=True)
    logs.to_parquet(out / "logs.parquet", index=False)
    summary = summarize(logs)
    summary.to_parquet(out / "summary.parquet", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    seconds = time.perf_counter() - t_start
    _write_json(out / "run.json", {**meta, "wall_seconds": seconds})
    return ExperimentResult(out, summary, logs, seconds)


def _stored_teacher_result(stored, splits, info: dict, ldir: Path) -> TrainResult:
    """A stored teacher evaluated on this run's split, saved like a trained learner (one log row)."""
    from kdscope.empirical.metrics import accuracy, expected_calibration_error, predict_logits

    model = stored.model
    z_train, z_val, z_test = (predict_logits(model, x) for x in (splits.x_train, splits.x_val, splits.x_test))
    epochs = int(stored.spec.train.epochs)
    row = {**info, "epoch": epochs, "lr": float("nan"), "loss_total": float("nan"),
           "train_acc": accuracy(z_train, splits.y_train), "val_acc": accuracy(z_val, splits.y_val),
           "test_acc": accuracy(z_test, splits.y_test),
           "test_loss": float(torch.nn.functional.cross_entropy(z_test, splits.y_test)),
           "test_ece": expected_calibration_error(z_test, splits.y_test), "agreement": float("nan"),
           "seconds": 0.0, "teacher_key": stored.key}
    log = pd.DataFrame([row])
    ldir.mkdir(parents=True, exist_ok=True)
    log.to_parquet(ldir / LOG, index=False)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    for name in (FINAL, BEST):
        torch.save(state, ldir / name)
    return TrainResult(model, log, epochs, state, completed=True)


def summarize(logs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds, per (condition, learner), at the best and at the last epoch.

    The best epoch of a run is the one with the highest validation accuracy (test accuracy
    if there is no validation set; the first such epoch on ties).  Columns:
    ``<metric>_best_mean``, ``<metric>_best_std``, ``<metric>_last_mean``, ``<metric>_last_std``
    for metric in test_acc, agreement, test_ece; ``n_seeds``; std is the sample std (ddof=1),
    NaN for a single seed.
    """
    keys = ["condition", "learner"]
    desc = [c for c in ("role", "teacher_of", "model", "arch", "width", "depth", "loss", "tau", "xi", "aggregator",
                        "features") if c in logs.columns]
    picks = []
    for _, run in logs.groupby([*keys, "seed"], sort=False):
        score = run["val_acc"] if run["val_acc"].notna().any() else run["test_acc"]
        best = run.loc[score.idxmax()]
        last = run.iloc[-1]
        row = {**{k: last[k] for k in [*keys, "seed", *desc]}, "best_epoch": int(best["epoch"])}
        row.update({f"{m}_best": best[m] for m in SUMMARY_COLUMNS})
        row.update({f"{m}_last": last[m] for m in SUMMARY_COLUMNS})
        picks.append(row)
    per_seed = pd.DataFrame(picks)
    stats = per_seed.groupby(keys, sort=False).agg(
        n_seeds=("seed", "nunique"),
        **{f"{m}_{w}_{f}": (f"{m}_{w}", f) for m in SUMMARY_COLUMNS for w in ("best", "last") for f in ("mean", "std")},
    )
    first = per_seed.groupby(keys, sort=False)[desc].first()
    out = first.join(stats).reset_index()
    return _add_intervals(out, per_seed)


def _reference_learner(per_seed: pd.DataFrame) -> str | None:
    """The network trained alone that distilled students are compared with (None if there is none).

    The first student with xi = 0 and no feature path; failing that, in a born-again
    chain (every student on the teacher's own model, no student alone), the teacher:
    generation 0 *is* that network trained alone on the same split from the same
    initialisation, so generation k minus teacher is the paired gain of the chain.
    """
    if "role" not in per_seed.columns:
        return None
    plain = per_seed["features"].fillna("") == "" if "features" in per_seed.columns else True
    alone = per_seed[(per_seed["role"] == "student") & (per_seed["xi"] == 0) & plain]
    if len(alone):
        return str(alone["learner"].iloc[0])
    if "model" in per_seed.columns:
        teacher = per_seed[per_seed["role"] == "teacher"]
        students = per_seed[per_seed["role"] == "student"]
        if len(teacher) and len(students) and set(students["model"]) == set(teacher["model"]):
            return "teacher"
    return None


def _add_intervals(out: pd.DataFrame, per_seed: pd.DataFrame) -> pd.DataFrame:
    """95% t intervals of the best-epoch test accuracy, and paired differences to the student alone.

    Columns added: ``acc_mean, acc_ci_low, acc_ci_high`` (= test_acc_best over seeds),
    ``delta_vs_alone, delta_ci_low, delta_ci_high`` (paired by seed: same split and
    initialisation) and ``verdict``; NaN where no student trained alone exists.
    """
    from kdscope.empirical.statistics import mean_ci, paired_difference, verdict

    ref = _reference_learner(per_seed)
    rows = []
    for _, r in out.iterrows():
        mine = per_seed[(per_seed["condition"] == r["condition"]) & (per_seed["learner"] == r["learner"])]
        acc = mean_ci(mine["test_acc_best"].to_numpy())
        row = {"acc_mean": acc.mean, "acc_ci_low": acc.low, "acc_ci_high": acc.high, "delta_vs_alone": np.nan,
               "delta_ci_low": np.nan, "delta_ci_high": np.nan, "verdict": ""}
        if ref is not None and r["learner"] == ref:
            row.update(delta_vs_alone=0.0, verdict="reference")
        elif ref is not None and r.get("role") == "student":
            base = per_seed[(per_seed["condition"] == r["condition"]) & (per_seed["learner"] == ref)]
            pair = mine.merge(base, on="seed", suffixes=("", "_ref"))
            d = paired_difference(pair["test_acc_best"].to_numpy(), pair["test_acc_best_ref"].to_numpy())
            row.update(delta_vs_alone=d.mean, delta_ci_low=d.low, delta_ci_high=d.high, verdict=verdict(d))
        rows.append(row)
    return pd.concat([out, pd.DataFrame(rows, index=out.index)], axis=1)


def format_summary(summary: pd.DataFrame) -> str:
    """Plain-text table: per (condition, learner) mean +- std of test accuracy, 95% CI, paired gain over alone.

    Ends with a note when no distilled learner can be separated from the student alone
    (every 95% CI of the paired difference contains 0): the run is too small to tell.
    """
    refs = summary.loc[summary.get("verdict", pd.Series("", index=summary.index)) == "reference", "learner"]
    ref = str(refs.iloc[0]) if len(refs) else "alone"
    lines = [f"{'condition':<16s} {'learner':<14s} {'loss':<5s} {'tau':>5s} {'xi':>5s} {'seeds':>5s}  "
             f"{'test acc (best val)':>20s}  {'95% CI':>15s}  {'- ' + ref + ' [95% CI]':>26s}  "
             f"{'test acc (last)':>20s}  {'agreement':>9s}"]
    separated = unseparated = 0
    for _, r in summary.iterrows():
        pm = lambda m: f"{r[m + '_mean']:.4f} +- {0.0 if pd.isna(r[m + '_std']) else r[m + '_std']:.4f}"  # noqa: E731
        ci = "n/a" if pd.isna(r.get("acc_ci_low", np.nan)) else f"[{r['acc_ci_low']:.3f}, {r['acc_ci_high']:.3f}]"
        gain = ""
        if pd.notna(r.get("delta_ci_low", np.nan)):
            gain = f"{r['delta_vs_alone']:+.4f} [{r['delta_ci_low']:+.3f}, {r['delta_ci_high']:+.3f}]"
            if r["delta_ci_low"] > 0 or r["delta_ci_high"] < 0:
                separated += 1
            else:
                unseparated += 1
        lines.append(f"{r['condition']:<16s} {r['learner']:<14s} {r['loss']:<5s} {r['tau']:>5g} {r['xi']:>5g} "
                     f"{int(r['n_seeds']):>5d}  {pm('test_acc_best'):>20s}  {ci:>15s}  {gain:>26s}  "
                     f"{pm('test_acc_last'):>20s}  {r['agreement_last_mean']:>9.4f}")
    if unseparated and not separated:
        lines.append(f"\nno distilled learner is separated from the reference {ref!r} (every 95% CI of the paired "
                     "difference contains 0): too few seeds or too small a budget to tell them apart.")
    return "\n".join(lines)


def load_analysis_input(run_dir: str | Path, *, max_n: int = 2000, seed: int = 0, run_seed: int | None = None,
                        condition: str | None = None, which: str = "final"):
    """The models and held-out data of one (condition, run seed) for ``kdscope.empirical.analysis``.

    Returns an ``AnalysisInput`` with every trained learner (eval mode) keyed by learner
    name, its block paths (:func:`kdscope.empirical.models.layer_paths`), ``X``/``y`` a
    subset of at most ``max_n`` test samples drawn without replacement with
    ``numpy.random.default_rng(seed)`` (normalised as in training, clean labels),
    ``teacher_name`` "teacher", tags (role, loss, tau, xi, aggregator, features, seed,
    condition, arch) and classifier "fc".  ``run_seed``/``condition`` default to the first
    of the run.
    """
    from kdscope.empirical.analysis.analyze import AnalysisInput
    from kdscope.empirical.models import layer_paths
    from kdscope.empirical.store import list_models, load_model, load_splits

    table = list_models(run_dir)
    if table.empty:
        raise FileNotFoundError(f"{run_dir} holds no trained learner (no runs/*/seed*/*/model.pt).")
    condition = condition if condition is not None else str(table["condition"].iloc[0])
    run_seed = run_seed if run_seed is not None else int(table["seed"].iloc[0])
    rows = table[(table["condition"] == condition) & (table["seed"] == run_seed)]
    if rows.empty:
        raise KeyError(f"no learners for condition={condition!r}, run_seed={run_seed} in {run_dir}.")
    splits = load_splits(run_dir, seed=run_seed, condition=condition)
    n = len(splits.y_test)
    pick = np.sort(np.random.default_rng(seed).choice(n, size=min(max_n, n), replace=False))
    models, layers, tags = {}, {}, {}
    for _, r in rows.iterrows():
        net = load_model(run_dir, r["learner"], seed=run_seed, condition=condition, which=which)
        models[r["learner"]] = net
        layers[r["learner"]] = layer_paths(net)
        tags[r["learner"]] = {k: r[k] for k in ("role", "loss", "tau", "xi", "aggregator", "features", "seed",
                                                "condition", "arch") if k in r}
    return AnalysisInput(models=models, layers=layers, X=splits.x_test[pick], y=splits.y_test[pick].numpy(),
                         teacher_name="teacher" if "teacher" in models else None, tags=tags,
                         classifiers={k: "fc" for k in models})


__all__ = ["ExperimentResult", "format_summary", "load_analysis_input", "run_experiment", "summarize"]
