"""The alpha-spending functions a group-sequential design may name (Lan & DeMets 1983; vggbench.verdicts.sequential
has the boundaries they give): alpha spent by information fraction t, two-sided. Apart from the boundaries so that
the config's choices are known without numpy and scipy, which `vggbench --help` does not wait for."""

from __future__ import annotations

import math

OBRIEN_FLEMING, POCOCK = "obrien-fleming", "pocock"


def obrien_fleming(t, alpha: float):
    """O'Brien-Fleming type, alpha / 2 a side: 4 (1 - Phi(z_{1 - alpha/4} / sqrt(t)))."""
    import numpy as np
    from scipy import stats

    return 4 * stats.norm.sf(stats.norm.isf(alpha / 4) / np.sqrt(t))


def pocock(t, alpha: float):
    """Pocock type: alpha ln(1 + (e - 1) t)."""
    import numpy as np

    return alpha * np.log1p((math.e - 1) * np.asarray(t, dtype=float))


SPENDING = {OBRIEN_FLEMING: obrien_fleming, POCOCK: pocock}
