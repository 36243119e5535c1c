"""MulticlassSetting validation (constraint table) and the Gram-matrix helpers."""

import json

import numpy as np
import pytest

from kdscope.theory.constraints import SettingError
from kdscope.theory.multiclass import (MAX_CLASSES, MulticlassSetting, helmert_basis, hierarchical_gram, parse_gram,
                                       simplex_gram)
from kdscope.theory.multiclass.setting import MULTICLASS_CONSTRAINTS


def test_every_field_has_a_constraint_and_rejects_a_bad_value():
    import dataclasses

    names = [f.name for f in dataclasses.fields(MulticlassSetting)]
    assert set(names) == set(MULTICLASS_CONSTRAINTS)
    for name in names:
        bad = MULTICLASS_CONSTRAINTS[name].example_bad()
        with pytest.raises(SettingError, match=f"'{name}'"):
            MulticlassSetting(**{name: bad})


@pytest.mark.parametrize("kwargs, field", [
    (dict(classes=1), "classes"),
    (dict(classes=MAX_CLASSES + 1), "classes"),
    (dict(gram=np.eye(2)), "gram"),                       # wrong shape for classes=3
    (dict(gram=[[1, 2, 0], [2, 1, 0], [0, 0, 1]]), "gram"),  # not PSD
    (dict(gram=[[1, 0.5, 0], [0.4, 1, 0], [0, 0, 1]]), "gram"),  # not symmetric
    (dict(gram=np.ones((3, 3))), "gram"),                 # identical means
    (dict(pi=(0.5, 0.5)), "pi"),
    (dict(pi=(0.5, 0.6, -0.1)), "pi"),
    (dict(alpha=0.0), "alpha"),
    (dict(soft="KL"), "soft"),
    (dict(classes=4, generations=2), "generations"),    # 3 * 3 = 9 > MAX_GAUSSIAN_DIM
])
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(SettingError, match=field):
        MulticlassSetting(**kwargs)


def test_defaults_and_views():
    s = MulticlassSetting(pi=[0.5, 0.3, 0.2], gram=hierarchical_gram(3, 0.8))
    assert isinstance(s.gram, tuple) and isinstance(s.pi, tuple)
    assert np.allclose(s.p, [0.5, 0.3, 0.2]) and s.G[0, 1] == 0.8
    assert np.allclose(MulticlassSetting().G, simplex_gram(3))
    assert np.allclose(MulticlassSetting().p, 1 / 3)
    assert s.key() == MulticlassSetting(pi=(0.5, 0.3, 0.2), gram=hierarchical_gram(3, 0.8)).key()
    assert s.key() != MulticlassSetting(pi=(0.5, 0.3, 0.2)).key()
    assert np.allclose(s.replace(generations=1, lam_s=0.5).lams(), [0.1, 0.5])


@pytest.mark.parametrize("C", [2, 3, 5])
def test_helmert_basis_is_orthonormal_and_orthogonal_to_one(C):
    U = helmert_basis(C)
    assert U.shape == (C, C - 1)
    assert np.allclose(U.T @ U, np.eye(C - 1), atol=1e-14)
    assert np.allclose(U.T @ np.ones(C), 0, atol=1e-14)


def test_simplex_gram():
    assert np.allclose(simplex_gram(2), [[1, -1], [-1, 1]])
    G = simplex_gram(4)
    assert np.allclose(np.diag(G), 1) and np.allclose(G[0, 1], -1 / 3) and np.allclose(G.sum(axis=1), 0)


def test_parse_gram(tmp_path):
    assert np.allclose(parse_gram("simplex", 3), simplex_gram(3))
    assert np.allclose(parse_gram("hier:0.8", 3), [[1, 0.8, 0], [0.8, 1, 0], [0, 0, 1]])
    f = tmp_path / "g.json"
    f.write_text(json.dumps({"gram": [[2, 0, 0], [0, 1, 0], [0, 0, 1]]}))
    assert parse_gram(str(f), 3)[0, 0] == 2
    for bad in ("hier:x", "hier:1.5", "nonsense", str(tmp_path / "missing.json")):
        with pytest.raises(ValueError, match="gram"):
            parse_gram(bad, 3)
