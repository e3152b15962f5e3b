"""A star's statistics from its merged sums: mean magnitude, scatter, red noise, variability.

Computed from :class:`~.star_sums.StarSums` alone (no light-curve row is read), per colour:

- ``n``: points used, ``mean_mag`` the weighted mean calibrated magnitude and
  ``mean_mag_err`` its error (mag);
- ``rms`` (mag) about the unweighted mean of all points, and ``rms_over_floor``: ``rms``
  over the photon-noise floor ``sqrt(mean(s**2))`` (1 for a constant star measured to its
  noise);
- ``chi2_red``: reduced chi-square against a constant;
- ``beta_30``, ``beta_60``, ``beta_120``: the red-noise factor (Pont, Zucker & Queloz 2006;
  Winn et al. 2008) of bins of 30, 60 and 120 minutes, the rms of the bin means over what
  white noise of the points' scatter gives (``sqrt(sigma_1**2 (1/N_b - 1/n))`` per bin):
  1 for white noise, more where noise correlates in time; None with fewer than
  :data:`MIN_BETA_BINS` bins of two points or more (a short observation);
- ``amplitude``: highest minus lowest 30-minute bin mean (mag); None with a single bin;
- ``quality``: ``min(1, floor / rms)`` times the fraction of points used, from 0 to 1 (1: a
  complete light curve at its photon noise).

The star's headline figures (``n_points``, ``rms_over_floor``, ``chi2_red``, ``amplitude``,
``quality``) are those of the green light curve (twice the pixels of red or blue), or of the
first colour with points.
"""

from __future__ import annotations

import math
from typing import Any

from panoptes_network.analysis.star_sums import BIN_MINUTES, ColourSums, StarSums

__all__ = ["HEADLINE_COLOURS", "MIN_BETA_BINS", "colour_statistics", "star_statistics"]

#: Colours whose statistics give a star's headline figures, first preferred.
HEADLINE_COLOURS: tuple[str, ...] = ("g", "r", "b")
#: Fewest bins (of two points or more) for a red-noise factor: beta's relative error is
#: about ``1 / sqrt(2 bins)``, 32 % at 5 bins.
MIN_BETA_BINS = 5


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def colour_statistics(sums: ColourSums) -> dict[str, Any]:
    """Return one colour's statistics (module docstring) from its sums.

    Parameters
    ----------
    sums : ColourSums
        The merged sums.

    Returns
    -------
    dict
        ``n``, ``n_all``, ``mean_mag``, ``mean_mag_err``, ``rms``, ``rms_over_floor``,
        ``chi2_red``, ``beta_<minutes>``, ``amplitude``, ``quality``; None where the points do
        not define a value.
    """
    n = sums.n
    s = {name: total.value for name, total in sums.sums.items()}
    out: dict[str, Any] = {"n": n, "n_all": sums.n_all}
    if n == 0 or s["w"] <= 0:
        out.update(
            dict.fromkeys(("mean_mag", "mean_mag_err", "rms", "rms_over_floor", "chi2_red")),
            amplitude=None,
            quality=0.0,
            **{f"beta_{w}": None for w in BIN_MINUTES},
        )
        return out
    mean = s["m"] / n
    variance = max(s["m2"] / n - mean * mean, 0.0)
    rms = math.sqrt(variance)
    floor = math.sqrt(s["var"] / n)
    chi2 = max(s["wm2"] - s["wm"] * s["wm"] / s["w"], 0.0) / (n - 1) if n > 1 else math.nan
    dof = n - sums.runs
    sigma1_sq = s["r2"] / dof if dof > 0 else math.nan
    for width in BIN_MINUTES:
        bins = sums.bins[width]
        white = bins.white.value
        beta = (
            math.sqrt(bins.mean_r2.value / (sigma1_sq * white))
            if bins.bins >= MIN_BETA_BINS and white > 0 and sigma1_sq > 0
            else math.nan
        )
        out[f"beta_{width}"] = _finite(beta)
    complete = n / sums.n_all if sums.n_all else 0.0
    out.update(
        mean_mag=_finite(s["wm"] / s["w"]),
        mean_mag_err=_finite(1.0 / math.sqrt(s["w"])),
        rms=_finite(rms),
        rms_over_floor=_finite(rms / floor) if floor > 0 else None,
        chi2_red=_finite(chi2),
        amplitude=_finite(sums.bin_max - sums.bin_min) if sums.amplitude_bins >= 2 else None,
        quality=min(1.0, floor / rms) * complete if rms > 0 else complete,
    )
    return out


def star_statistics(sums: StarSums) -> dict[str, Any]:
    """Return a star's statistics document fields from its merged sums.

    Parameters
    ----------
    sums : StarSums
        The star's sums over its runs.

    Returns
    -------
    dict
        ``n_runs``, ``n_observations``, ``n_units``, ``units``; ``colours`` (per colour
        :func:`colour_statistics`); and the headline ``n_points``, ``rms_over_floor``,
        ``chi2_red``, ``amplitude``, ``quality`` with ``headline_colour``.
    """
    per_colour = {c: colour_statistics(s) for c, s in sorted(sums.colours.items())}
    headline = next((c for c in HEADLINE_COLOURS if per_colour.get(c, {}).get("n")), None)
    main = per_colour.get(headline, {}) if headline else {}
    return {
        "n_runs": len(sums.runs),
        "n_observations": len(sums.observations),
        "n_units": len(sums.units),
        "units": list(sums.units),
        "colours": per_colour,
        "headline_colour": headline,
        "n_points": int(main.get("n", 0)),
        "rms_over_floor": main.get("rms_over_floor"),
        "chi2_red": main.get("chi2_red"),
        "amplitude": main.get("amplitude"),
        "quality": float(main.get("quality", 0.0)),
    }
