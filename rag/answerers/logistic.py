"""The one learning algorithm the answerers use: L2-regularised logistic regression, in numpy.

Deterministic and dependency-free, so the models in answer_model.json are rebuilt bit for bit.
"""

from __future__ import annotations

import numpy as np

L2 = 1.0


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    l2: float = L2,
    iterations: int = 30,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method on standardised features:
    (mean, scale, weights, bias). Deterministic, and a dozen lines of numpy. `sample_weight`
    lets some rows count more (questions whose answer is a figure)."""
    weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        gradient = z.T @ (weight * (p - y)) + penalty * w
        hessian = (z * (weight * p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, w[:-1], float(w[-1])
