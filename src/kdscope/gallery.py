"""The figure gallery (docs/gallery.md): every figure of ``figures paper`` and ``figures phase``.

:func:`write_gallery` reads the figures and their caption sidecars (``<name>.json``) from the
output folders of ``kdscope figures paper`` and ``kdscope figures phase``, writes reduced PNG
copies to ``docs/gallery/`` and the page ``docs/gallery.md``: per figure its title, the image,
the caption and one sentence on what it shows (:data:`SHOWS`, written by looking at the figures).
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_gallery", "SHOWS", "ORDER"]

#: One sentence per figure: what a reader sees in it.
SHOWS = {
    "fig01": "At rho = 0.2 logistic regression at its optimal ridge stays above the Bayes-optimal error at every "
             "alpha (the gap of unbalanced classes), and the optimal ridge grows with alpha.",
    "fig02": "A sparse student distilled from a ridge teacher beats the unregularised student trained on the labels: "
             "it inherits the teacher's regularisation, more so for the larger teacher ridge.",
    "fig03": ("Over the ridge (a, b) the KD student's best error (star) stays just above the best directly "
              "regularised student's (star); over xi (c) the optimal soft weight is interior for lam_S = 0.1 and 0.2 "
              "and zero for lam_S = 0.5 (stars: 1-D optimisers)."),
    "fig04": "Distilled from the Bayes-optimal teacher, the student sits close to its Bayes-optimal bound, below "
             "both the optimally regularised and the unregularised students.",
    "fig05": "Double descent: with a ridge teacher the student's error peaks at its interpolation threshold "
             "alpha = eta = 0.5; with an unregularised teacher error and norm (b) peak just below the separability "
             "threshold 1.80 (at alpha = 1.75 for lam = 1e-5, moving onto the line as lam -> 0).",
    "fig06": ("The dense teacher for five ridges: without ridge its error stays near 0.2 up to its separability "
              "threshold 4.85 and drops only beyond it; a larger ridge lowers the curve, lam = 0.1 being the best of the five."),
    "fig07": ("KD from an almost unregularised teacher coincides with the equally unregularised ridge student (the "
              "two blue curves, peaked below the student's separability threshold); for lam = 0.1 and 1 the ridge "
              "student is better at small alpha and the two meet at large alpha; the KD students start from their "
              "interpolation peak at alpha = eta = 0.5 (left edge)."),
    "fig08": ("At lam_S = 0.1 an intermediate soft weight (xi = 0.6 to 0.8) gives the lowest student error and pure "
              "distillation (xi = 1) the highest; every student stays far above its teacher (dashed)."),
    "fig09": "Label smoothing of the student gives the same error as distillation from a smoothed teacher (the two "
             "solid curves coincide), while the smoothed teacher itself (dashed) differs.",
    "fig10": ("Raising the temperature (without the tau^2 factor) lowers the interpolation peak, which stays at "
              "alpha = eta = 0.5, and lowers the error beyond it."),
    "fig11": "Training loss, student norm and teacher-student training logit MSE mark the same thresholds as the "
             "error peaks of Fig. 5.",
    "fig12": ("Balanced classes: the optimal-ridge teacher reaches the Bayes-optimal error (the dotted line runs on "
              "it), and the pure-distillation students gain little over the unregularised student, the larger "
              "teacher ridge slightly more."),
    "ext_soft": ("KL at tau = 4 and logit MSE give nearly the same student (the tau -> infinity limit of KL is "
                 "logit MSE / 4; both curves are drawn, one on the other); tau = 1 has a lower interpolation peak "
                 "and a higher error just after it."),
    "ext_tau": ("At alpha = 1.5 the student's error falls with the temperature towards the logit-matching limit "
                "(optimum at the upper end of the range); at alpha = 4.5 it has a shallow optimum near tau = 3 (stars: "
                "1-D optimiser). The two grey lines are the student's Bayes-optimal errors at alpha = 1.5 (upper) and "
                "4.5 (lower)."),
    "ext_phase": "The KD student from a ridge teacher never beats the best directly regularised student: the gain is "
                 "positive everywhere (no zero contour), as the reference paper proves.",
    "phase_lam_t": ("Against the best ridge KD never wins (a: no zero contour); against the unregularised student it wins "
                   "(blue) for alpha above about 1 and any teacher ridge, and loses at small alpha with a weakly "
                   "regularised teacher or at large alpha with a teacher ridge near 1 or above, the regions split by the "
                   "labelled zero contour (b)."),
    "phase_xi": ("Against the unregularised student distillation helps (blue) for alpha above about 1, more so as xi "
                "grows, and hurts at small alpha (b, labelled zero contour); it never beats the best ridge (a)."),
    "phase_tau": ("Against the unregularised student the temperature matters only at small alpha, where a low tau "
                 "helps and a high tau hurts near alpha = eta (b, labelled zero contour); above alpha of about 1 "
                 "KD helps at every tau, and it never beats the best ridge (a)."),
    "phase_theta": ("With label noise theta above about 0.1 and alpha above about 2 the student beats its own noisy teacher "
                   "(c, blue, labelled zero contour); against the unregularised student KD helps except near alpha = eta "
                   "(b); the best ridge is never beaten and the gap grows with theta (a)."),
    "phase_bayes": ("With the Bayes-optimal teacher distillation beats the best directly regularised student (a, blue) for "
                   "alpha above about 2 once xi is large enough, on the far side of the labelled zero contour; it beats "
                   "the unregularised student everywhere but a pocket near alpha = eta at small xi (b) and never its "
                   "Bayes-optimal teacher (c)."),
    "phase_fresh": ("A teacher trained on more samples than the student (above the dotted diagonal alpha_T = alpha_S) "
                   "makes the distilled student beat even the best-regularised student trained alone (a, labelled "
                   "zero contour close to the diagonal); below the diagonal distillation loses."),
}
#: Order of the gallery.
ORDER = [*(f"fig{i:02d}" for i in range(1, 13)), "ext_soft", "ext_tau", "ext_phase",
         *(f"phase_{n}" for n in ("lam_t", "xi", "tau", "theta", "bayes", "fresh"))]


def _shrink(src: Path, dst: Path, width: int) -> None:
    from PIL import Image

    with Image.open(src) as im:
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        im = im.convert("RGB")  # full colour: a palette would band the colour maps of the phase diagrams
        dst.parent.mkdir(parents=True, exist_ok=True)
        im.save(dst, optimize=True)


def write_gallery(paper_dir: str | Path, phase_dir: str | Path, docs: str | Path = "docs", width: int = 1100) -> Path:
    """Write ``docs/gallery.md`` and ``docs/gallery/<name>.png`` for every figure found; returns the page's path."""
    paper_dir, phase_dir, docs = Path(paper_dir), Path(phase_dir), Path(docs)
    lines = ["# Gallery", "",
             "Every figure of `kdscope figures paper` and `kdscope figures phase`, made with",
             "", "```bash",
             "kdscope figures paper --quick --out kdscope-out/paper",
             "kdscope figures phase --quick --out kdscope-out/phase",
             "kdscope figures gallery --paper kdscope-out/paper --phase kdscope-out/phase --docs docs",
             "```", "",
             "Lines are the replica-symmetric theory (d -> infinity); thresholds are inserted into every grid and the "
             "grids are refined where the curves bend or peak; optima (stars) come from 1-D optimisers. Every gain "
             "is Delta eps = eps(student) - eps(reference): **negative means distillation helps**, and the "
             "reference is named in the column (`gain_vs_best_ridge`, `gain_vs_unregularised`, `gain_vs_teacher`). "
             "Each figure's full parameters are in the JSON caption beside it; the files here are reduced copies "
             "(the originals are vector PDF and 300 dpi PNG).", "",
             "Cost, measured as CPU time on the 2-core development machine (wall time grows with whatever else "
             "runs there): `figures paper --quick` about 5 CPU minutes from an empty store, `figures phase --quick` "
             "about 3 (serial: six 12 x 10 diagrams, about 900 saddle points and ridge optimisations with the "
             "references). A rerun on the same store recomputes nothing.", ""]
    for name in ORDER:
        folder = phase_dir if name.startswith("phase_") else paper_dir
        png, side = folder / f"{name}.png", folder / f"{name}.json"
        if not png.is_file():
            continue
        cap = json.loads(side.read_text()) if side.is_file() else {}
        _shrink(png, docs / "gallery" / f"{name}.png", width)
        title = cap.get("title", name)
        lines += [f"## {name}: {title}", "", f"![{name}](gallery/{name}.png)", ""]
        text = cap.get("caption") or _phase_caption_text(cap)
        if text:
            lines += [f"*Caption.* {text}", ""]
        if name in SHOWS:
            lines += [f"*What it shows.* {SHOWS[name]}", ""]
    page = docs / "gallery.md"
    page.write_text("\n".join(lines))
    return page


def _phase_caption_text(cap: dict) -> str:
    if not cap:
        return ""
    s = cap.get("setting", {})
    fixed = ", ".join(f"{k} = {v}" for k, v in s.items())
    return (f"{cap.get('title', '')} over ({cap.get('x')}, {cap.get('y')}), grid {cap.get('grid')}; fixed: {fixed}. "
            f"Panels: {'; '.join(f'{k} = {v}' for k, v in cap.get('gains', {}).items())}. {cap.get('sign', '')}. "
            f"{cap.get('theory', '')}.")
