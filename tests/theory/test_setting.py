"""Setting validation: every field has a constraint, and a bad value is named in the error."""

import dataclasses

import pytest

from kdscope import Setting, SettingError
from kdscope.theory.setting import CONSTRAINTS


def test_every_field_has_a_constraint():
    assert set(CONSTRAINTS) == {f.name for f in dataclasses.fields(Setting)}


@pytest.mark.parametrize("name", sorted(CONSTRAINTS))
def test_out_of_range_value_is_rejected_with_the_field_named(name):
    bad = CONSTRAINTS[name].example_bad()
    with pytest.raises(SettingError) as err:
        Setting(**{name: bad})
    msg = str(err.value)
    assert msg.startswith("Setting: ")
    assert f"'{name}'" in msg
    assert repr(bad) in msg


def test_message_form_for_an_interval():
    with pytest.raises(ValueError, match=r"'rho' must be a float in the open interval \(0, 1\); got 1.2\."):
        Setting(rho=1.2)


def test_all_violations_reported_together():
    with pytest.raises(SettingError) as err:
        Setting(rho=1.2, delta=-1.0, soft="KL")
    msg = str(err.value)
    assert "'rho'" in msg and "'delta'" in msg and "'soft'" in msg


@pytest.mark.parametrize("kwargs, names", [
    (dict(teacher="fixed", generations=1), ["teacher", "m0", "q0"]),
    (dict(teacher="fixed", generations=1, m0=2.0, q0=1.0), ["q0", "m0"]),
    (dict(m0=1.0), ["m0", "teacher"]),
    (dict(smooth_t=0.1, loss_t="square"), ["smooth_t", "loss_t"]),
    (dict(eta=0.5), ["eta", "generations"]),
    (dict(alpha_s=2.0), ["alpha_s", "generations"]),
    (dict(teacher="bayes"), ["teacher", "generations"]),
    (dict(loss_s="hinge", xi=0.5, generations=1), ["loss_s", "xi"]),
])
def test_cross_field_rules_name_every_field(kwargs, names):
    with pytest.raises(SettingError) as err:
        Setting(**kwargs)
    for n in names:
        assert n in str(err.value)


def test_bool_is_not_a_number_and_nan_is_rejected():
    with pytest.raises(SettingError):
        Setting(alpha=True)
    with pytest.raises(SettingError):
        Setting(alpha=float("nan"))


def test_key_is_stable_and_sensitive():
    a, b = Setting(alpha=2.0), Setting(alpha=2.0)
    assert a.key() == b.key()
    assert a.key() != Setting(alpha=2.0000001).key()
    assert Setting(alpha=3.0).replace(alpha=2.0).key() == a.key()


def test_bayes_teacher_overlaps():
    s = Setting(alpha=2.0, delta=0.5, rho=0.2, teacher="bayes", generations=1)
    m0, q0, b0 = s.teacher_overlaps()
    assert (m0, q0) == (1.0, 1.25)
    assert b0 == pytest.approx(0.5 * 0.5 * 1.25 * __import__("math").log(0.25))
