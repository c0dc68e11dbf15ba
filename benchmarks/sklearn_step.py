"""scikit-learn's one EM step, the reference the EM benchmarks time ours against.

Imported by ``bench_em.py`` and ``bench_em_multi.py`` (``python
benchmarks/bench_x.py`` puts this folder first on ``sys.path``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np


def sklearn_em_step(x: np.ndarray, k: int) -> Callable[[], None]:
    """One E-step + M-step of ``GaussianMixture(k)`` over ``x`` (n, D), fitted one iteration first."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(k, max_iter=1, n_init=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(x)

    def step() -> None:
        _, log_resp = gm._e_step(x)
        gm._m_step(x, log_resp)

    return step
