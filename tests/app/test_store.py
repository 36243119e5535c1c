"""ResultStore: keys, round trip, atomic writes, resume without duplicates, compaction."""

import math
import os

import pytest

from kdscope import Setting
from kdscope.store import ResultStore, point_key, write_table


def test_point_key_separates_kinds_and_parameters():
    s = Setting(alpha=2.0)
    keys = {point_key(s, "theory"), point_key(s, "sim", d=100, seeds=3), point_key(s, "sim", d=200, seeds=3),
            point_key(s.replace(alpha=3.0), "theory")}
    assert len(keys) == 4
    assert point_key(s, "theory", options=None) == point_key(s, "theory")
    assert point_key(s, "sim", d=100, seeds=3) == point_key(s, "sim", seeds=3, d=100)
    with pytest.raises(ValueError, match="kind"):
        point_key(s, "bad kind")


def test_put_get_roundtrip_with_meta(tmp_path):
    store = ResultStore(tmp_path)
    key = point_key(Setting(), "sim", d=10, seeds=2)
    rec = {"alpha": 2.0, "m0": None, "eps_t": 0.25, "eps_t_se": math.nan, "seeds": [0, 1], "converged": True}
    assert not store.has(key) and store.get(key) is None
    store.put(rec, key)
    got = store.get(key)
    assert store.has(key) and key in store
    assert got["eps_t"] == 0.25 and got["m0"] is None and got["seeds"] == [0, 1] and got["converged"] is True
    assert math.isnan(got["eps_t_se"])
    assert got["kind"] == "sim" and got["key"] == key
    assert got["kdscope_version"] and got["timestamp"] > 0


def test_rewrite_same_key_no_duplicate(tmp_path):
    store = ResultStore(tmp_path)
    store.put({"eps_t": 0.1}, "theory-aaaaaaaaaaaaaaaa")
    store.put({"eps_t": 0.2}, "theory-aaaaaaaaaaaaaaaa")
    store.put({"eps_t": 0.3}, "theory-bbbbbbbbbbbbbbbb")
    df = ResultStore(tmp_path).frame()  # a fresh object reloads from disk
    assert len(df) == 2 and df["key"].is_unique
    assert df.set_index("key").loc["theory-aaaaaaaaaaaaaaaa", "eps_t"] == 0.2
    assert list(df.columns[-4:]) == ["key", "kind", "kdscope_version", "timestamp"]


def test_interrupted_put_leaves_no_row_and_no_tmp(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    store.put({"eps_t": 0.1}, "theory-aaaaaaaaaaaaaaaa")

    def killed(*_args):
        raise KeyboardInterrupt  # the process is interrupted just before the rename

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.put({"eps_t": 0.2}, "theory-bbbbbbbbbbbbbbbb")
    monkeypatch.undo()
    assert not store.has("theory-bbbbbbbbbbbbbbbb")
    assert store.keys() == ["theory-aaaaaaaaaaaaaaaa"]
    assert [p.name for p in store.points_dir.iterdir()] == ["theory-aaaaaaaaaaaaaaaa.parquet"]


def test_stray_tmp_file_of_a_killed_run_is_ignored(tmp_path):
    store = ResultStore(tmp_path)
    store.put({"eps_t": 0.1}, "theory-aaaaaaaaaaaaaaaa")
    (store.points_dir / ".theory-bbbbbbbbbbbbbbbb.x1.tmp").write_bytes(b"PAR1 half-written")
    assert len(store.frame()) == 1 and not store.has("theory-bbbbbbbbbbbbbbbb")


def test_compact_merges_and_keeps_latest(tmp_path):
    store = ResultStore(tmp_path)
    for i in range(3):
        store.put({"alpha": float(i), "eps_t": 0.1 * i}, f"theory-{i:016x}")
    assert store.compact() == 3
    assert not list(store.points_dir.glob("*.parquet")) and store.table_path.exists()
    store.put({"alpha": 1.0, "eps_t": 0.5}, f"theory-{1:016x}")  # newer point overrides the table row
    df = store.frame()
    assert len(df) == 3 and df.set_index("key").loc[f"theory-{1:016x}", "eps_t"] == 0.5
    assert store.get(f"theory-{2:016x}")["eps_t"] == pytest.approx(0.2)
    assert store.compact() == 3 and len(ResultStore(tmp_path).frame()) == 3


def test_frame_filters_kind(tmp_path):
    store = ResultStore(tmp_path)
    s = Setting()
    store.put({"eps_t": 0.1}, point_key(s, "theory"))
    store.put({"eps_t": 0.2}, point_key(s, "sim", d=10, seeds=1))
    store.put({"eps_t": 0.3}, point_key(s, "theory-optlam-t", bounds=[1e-6, 1e2]))
    assert set(store.frame()["kind"]) == {"theory", "sim", "theory-optlam-t"}
    assert len(store.frame("sim")) == 1


def test_write_table_atomic_with_list_cells(tmp_path):
    import pandas as pd

    path = write_table(pd.DataFrame({"a": [1.0, 2.0], "seeds": [[0, 1], [0, 1]]}), tmp_path / "t.parquet")
    back = pd.read_parquet(path)
    assert list(back["seeds"]) == ["[0, 1]", "[0, 1]"] and len(list(tmp_path.iterdir())) == 1


def test_write_figure_saves_pdf_and_a_300_dpi_png_keeping_an_outside_legend(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from kdscope.figures.style import SAVE_DPI
    from kdscope.store import write_figure

    fig, ax = plt.subplots(figsize=(2.0, 1.5))
    ax.plot([0, 1], [0, 1], label="a curve with a long legend label")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    paths = write_figure(fig, tmp_path / "f")
    plt.close(fig)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in paths)
    assert SAVE_DPI >= 300
    width, height = Image.open(paths[0]).size
    assert width > 2.0 * SAVE_DPI  # cropped to the content, which reaches past the axes into the legend
    assert paths[1].read_bytes()[:4] == b"%PDF"
