"""Helpers shared by the reference-package tests: strict numerics and central differences."""
import contextlib
import warnings

import numpy as np


@contextlib.contextmanager
def strict():
    """Any overflow, invalid value, division by zero or warning raises inside this block."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        yield


def numeric_grad(f, x, h=1e-6):
    """Central differences of the scalar function f(array) at x (float64)."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g
