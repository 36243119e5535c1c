"""The gallery page and the README recipes."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from kdscope.gallery import ORDER, SHOWS, write_gallery  # noqa: E402
from kdscope.recipes import paper_recipes, readme_recipes  # noqa: E402


def _png(path, w=6.0):
    fig = plt.figure(figsize=(w, 2.0), dpi=300)
    fig.add_subplot(111).plot([0, 1], [0, 1])
    fig.savefig(path)
    plt.close(fig)


def test_gallery_lists_every_figure_with_caption_and_summary(tmp_path):
    paper, phase, docs = tmp_path / "paper", tmp_path / "phase", tmp_path / "docs"
    paper.mkdir()
    phase.mkdir()
    _png(paper / "fig05.png")
    (paper / "fig05.json").write_text(json.dumps({"title": "Double descent", "caption": "Lines: theory."}))
    _png(phase / "phase_fresh.png")
    (phase / "phase_fresh.json").write_text(json.dumps({"title": "fresh", "x": "alpha_s", "y": "alpha",
                                                        "setting": {"eta": 1.0}, "gains": {"g": "eps - eps"}}))
    page = write_gallery(paper, phase, docs, width=400)
    text = page.read_text()
    assert "## fig05: Double descent" in text and "Lines: theory." in text and SHOWS["fig05"] in text
    assert "## phase_fresh" in text and "eta = 1.0" in text and SHOWS["phase_fresh"] in text
    from PIL import Image

    with Image.open(docs / "gallery" / "fig05.png") as im:
        assert im.width == 400
    assert "fig06" not in text                                     # absent figures are skipped


def test_every_gallery_figure_has_a_summary():
    names = {r.name for r in paper_recipes(quick=True)}
    assert names <= set(ORDER) and set(ORDER) <= set(SHOWS)


def test_readme_recipes():
    kd, dd = readme_recipes(quick=True)
    assert (kd.name, dd.name) == ("kd_curve", "double_descent")
    s = kd.curves[0].base
    assert (s.lam_t, s.eta, s.xi, s.generations) == (0.1, 0.5, 1.0, 1)
    assert {c.base.lam_t for c in dd.curves} == {1e-5, 0.1}


def test_cli_lists_the_new_commands():
    from kdscope.cli import app

    res = CliRunner().invoke(app, ["figures", "--help"])
    assert res.exit_code == 0 and "readme" in res.output and "gallery" in res.output
