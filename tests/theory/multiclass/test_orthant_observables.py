"""Orthant probabilities and the observables built on them."""

import numpy as np
import pytest
from scipy.special import ndtr
from scipy.stats import multivariate_normal

from kdscope.theory import bayes_error as binary_bayes_error
from kdscope.theory import generalization_error as binary_generalization_error
from kdscope.theory.multiclass import agreement, bayes_error, oracle_error, orthant_probability, generalization_error
from kdscope.theory.multiclass.orthant import bivariate_orthant


@pytest.mark.parametrize("a1, a2, r", [(0.3, -0.2, 0.5), (1.5, 2.0, -0.7), (-1.0, 0.4, 0.95), (0.0, 0.0, 0.0)])
def test_bivariate_against_scipy(a1, a2, r):
    ref = multivariate_normal.cdf([a1, a2], mean=[0, 0], cov=[[1, r], [r, 1]], abseps=1e-12, releps=0)
    assert abs(bivariate_orthant(a1, a2, r) - ref) < 1e-8


def test_bivariate_known_values_and_limits():
    assert abs(bivariate_orthant(0, 0, 0.5) - (0.25 + np.arcsin(0.5) / (2 * np.pi))) < 1e-12
    assert abs(bivariate_orthant(0.3, 0.7, 1.0) - ndtr(0.3)) < 1e-14
    assert abs(bivariate_orthant(0.3, 0.7, -1.0) - (ndtr(0.3) + ndtr(0.7) - 1)) < 1e-14


def test_orthant_dimensions():
    assert abs(orthant_probability([0.5], [[4.0]]) - ndtr(0.25)) < 1e-15
    m = np.array([0.2, -0.1, 0.4])
    sd = np.array([1.0, 2.0, 0.5])
    assert abs(orthant_probability(m, np.diag(sd ** 2)) - np.prod(ndtr(m / sd))) < 1e-6
    assert orthant_probability([1.0, 0.5], [[0.0, 0.0], [0.0, 1.0]]) == pytest.approx(ndtr(0.5), abs=1e-14)
    assert orthant_probability([-1.0, 0.5], [[0.0, 0.0], [0.0, 1.0]]) == 0.0


def test_test_error_two_classes_equals_binary_formula():
    m, q, b, delta, rho = 0.8, 1.7, -0.3, 0.6, 0.3
    # binary w -> W = (w/2, -w/2), bias (b/2, -b/2)
    M = 0.5 * m * np.array([[1, -1], [-1, 1]])
    Q = 0.25 * q * np.array([[1, -1], [-1, 1]])
    eps = generalization_error(M, 0.5 * b * np.array([1, -1]), Q, delta, [rho, 1 - rho])
    assert abs(eps - binary_generalization_error(m, q, b, delta, rho)) < 1e-12


def test_test_error_monte_carlo_three_classes(rng):
    M = np.array([[1.0, -0.4, -0.6], [-0.2, 0.9, -0.7], [-0.8, -0.5, 1.3]])
    M -= M.mean(axis=0)
    A = rng.normal(size=(3, 3))
    Q = A @ A.T
    b = np.array([0.2, -0.1, -0.1])
    pi = np.array([0.5, 0.3, 0.2])
    n = 400_000
    y = rng.choice(3, size=n, p=pi)
    z = M[:, y].T + b + 0.7 * rng.multivariate_normal(np.zeros(3), Q, size=n)
    mc = np.mean(np.argmax(z, axis=1) != y)
    se = np.sqrt(mc * (1 - mc) / n)
    assert abs(generalization_error(M, b, Q, 0.49, pi) - mc) < 5 * se


def test_agreement_self_is_one_and_bounds():
    M = np.array([[1.0, -0.5], [-1.0, 0.5]])
    Q = np.array([[1.0, -1.0], [-1.0, 1.0]])
    b = np.zeros(2)
    assert agreement(M, b, M, b, Q, Q, Q, 1.0, [0.5, 0.5]) == pytest.approx(1.0, abs=1e-12)
    a = agreement(M, b, M, b, Q, Q, 0.3 * Q, 1.0, [0.5, 0.5])
    assert 0.5 < a < 1.0


@pytest.mark.parametrize("rho", [0.5, 0.2])
@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_bayes_error_two_classes_equals_binary(rho, alpha):
    G = np.array([[1.0, -1.0], [-1.0, 1.0]])
    assert abs(bayes_error(G, [rho, 1 - rho], alpha, 0.8) - binary_bayes_error(alpha, 0.8, rho)) < 1e-12


def test_bayes_error_decreases_to_the_oracle():
    from kdscope.theory.multiclass import hierarchical_gram

    G, pi = hierarchical_gram(3, 0.8), [0.5, 0.3, 0.2]
    errs = [bayes_error(G, pi, a, 1.0) for a in (0.5, 2.0, 10.0, 1e6)]
    assert all(x > y for x, y in zip(errs, errs[1:]))
    assert abs(errs[-1] - oracle_error(G, pi, 1.0)) < 1e-5


def test_four_dimensional_orthant_independent_blocks_factorise(rng):
    from kdscope.theory.multiclass.orthant import _orthant_2x2

    A, B = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    SX, SY = A @ A.T + 0.2 * np.eye(2), B @ B.T + 0.2 * np.eye(2)
    m = np.array([0.3, -0.2, 0.5, 0.1])
    cov = np.block([[SX, np.zeros((2, 2))], [np.zeros((2, 2)), SY]])
    ref = orthant_probability(m[:2], SX) * orthant_probability(m[2:], SY)
    assert abs(_orthant_2x2(m, cov) - ref) < 1e-10
    assert abs(orthant_probability(m, cov) - ref) < 1e-10


@pytest.mark.parametrize("k", range(3))
def test_four_dimensional_orthant_against_genz(k):
    rng = np.random.default_rng(100 + k)
    A = rng.normal(size=(4, 4))
    cov = A @ A.T + 0.3 * np.eye(4)
    m = rng.normal(size=4)
    sd = np.sqrt(np.diag(cov))
    ref = multivariate_normal.cdf(m / sd, cov=cov / np.outer(sd, sd), abseps=1e-6, releps=0, maxpts=10 ** 7, rng=1)
    assert abs(orthant_probability(m, cov) - ref) < 3e-6
