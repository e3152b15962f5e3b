"""Light curves on a calibrated magnitude scale, and box depths against a fitted baseline.

A light curve normalised to the star's own median cannot show a change that lasts the whole
observation (a long transit, a slow variable, one unit's night against another's). Here each
point is the target's flux over its comparison ensemble, scaled by the ensemble's catalog
brightness:

    ``m(t) = -2.5 log10(F_target(t) / F_ens(t)) + m_ens + k * C_target``

- ``F_ens(t) = sum_i u_i F_i(t)``: the comparison stars' fluxes (e-) with the coefficients
  ``u_i = w_i / median_t F_i`` of the artificial comparison star of :mod:`.ensemble` (its
  Broeg weights ``w_i`` apply to median-normalised fluxes);
- ``m_ens = -2.5 log10(sum_i u_i 10**(-0.4 n_i))``: the catalog magnitude of the *same*
  weighted sum, with each comparison's magnitude in the colour's natural system
  ``n_i = V_i - k * C_i`` (the zero-point colour model of
  :mod:`panoptes_network.photometry.zero_point`: ``V = m_inst + zero_point + k * C``); a
  comparison missing in a frame leaves both sums in that frame;
- ``k * C_target`` puts the result on the catalog's V scale (``k`` the colour's colour term,
  ``C`` the colour index the colour term was fitted with).

Whatever the weights, a frame's transparency, airmass and exposure cancel, and a star whose
flux follows the catalog comes out at its catalog magnitude; nothing is divided by the
target's median, so a constant 1 % dimming over a whole observation stays 0.011 mag. The
scale of one target is exact up to its comparisons' catalog errors and the colour model,
an error common to all its points (:attr:`CalibratedLightcurves.scale_err`).

:func:`box_depth` fits a box-shaped dip as a fraction of a fitted out-of-transit baseline
(optionally with linear trends), on points of one or several observations on this scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from panoptes_network.lightcurves.ensemble import Lightcurves
from panoptes_network.lightcurves.robust_stats import nanmedian
from panoptes_network.lightcurves.stacking import PhotometryStack
from panoptes_network.photometry.noise import MAG_PER_RELATIVE_FLUX

__all__ = [
    "BoxDepth",
    "CalibratedLightcurves",
    "box_depth",
    "calibrated_lightcurves",
    "calibrated_scale",
    "instrumental_colour",
]

_CHUNK = 256


def instrumental_colour(stack: PhotometryStack) -> np.ndarray:
    """Return each star's instrumental colour ``-2.5 log10(flux_b / flux_r)`` (mag).

    The median over the observation's frames of the ratio of the b and r fluxes: the colour
    index ``"b-r"`` of :mod:`panoptes_network.photometry.zero_point`. Its offset from one
    observation to another (airmass, camera) is common to all stars and cancels in
    :func:`calibrated_scale`.

    Parameters
    ----------
    stack : PhotometryStack
        The observation, with colours r and b.

    Returns
    -------
    numpy.ndarray
        Per star (mag); NaN where never measured in both colours.
    """
    if "b" not in stack.flux or "r" not in stack.flux:
        raise ValueError("the instrumental colour needs the b and r fluxes in the stack")
    with np.errstate(invalid="ignore", divide="ignore"):
        return -2.5 * np.log10(nanmedian(stack.flux["b"] / stack.flux["r"], axis=0))


@dataclass(frozen=True)
class CalibratedLightcurves:
    """Calibrated light curves of every star of an observation in one colour.

    Attributes
    ----------
    colour : str
        r, g or b.
    picid : numpy.ndarray
        Per star.
    times : numpy.ndarray
        Mid-exposure times (POSIX s), per frame.
    mag : numpy.ndarray
        Calibrated magnitude on the catalog's V scale (mag), shape (n_frames, n_stars); NaN
        where the star or all its comparisons were not measured, or its colour is unknown
        and the colour term is not 0.
    mag_err : numpy.ndarray
        1-sigma error of each point from the photometric noise of the target and its
        ensemble (mag).
    scale_err : numpy.ndarray
        Per star, the error common to all its points (mag): its comparisons' catalog errors
        and the colour term's error.
    ensemble_mag : numpy.ndarray
        Per frame and star, the catalog magnitude of the ensemble in the colour's natural
        system (mag): the same for every frame unless comparisons are missing.
    star_colour : numpy.ndarray
        Per star, the colour index used (mag).
    colour_term : float
        ``k`` (mag per mag).
    """

    colour: str
    picid: np.ndarray
    times: np.ndarray
    mag: np.ndarray
    mag_err: np.ndarray
    scale_err: np.ndarray
    ensemble_mag: np.ndarray
    star_colour: np.ndarray
    colour_term: float

    def lightcurve(self, picid: int) -> Table:
        """Return one star's calibrated light curve.

        Parameters
        ----------
        picid : int
            The star.

        Returns
        -------
        astropy.table.Table
            ``time`` (POSIX s), ``mag`` and ``mag_err`` (mag); ``meta`` holds picid, colour,
            scale_err (mag), colour_term and star_colour.
        """
        where = np.flatnonzero(self.picid == picid)
        if where.size == 0:
            raise KeyError(f"PICID {picid} has no calibrated light curve")
        i = int(where[0])
        table = Table({"time": self.times, "mag": self.mag[:, i], "mag_err": self.mag_err[:, i]})
        table["mag"].unit = table["mag_err"].unit = "mag"
        table.meta.update(
            picid=int(picid),
            colour=self.colour,
            scale_err=float(self.scale_err[i]),
            colour_term=float(self.colour_term),
            star_colour=float(self.star_colour[i]),
        )
        return table


def calibrated_scale(
    stack: PhotometryStack,
    colour: str,
    ensemble: np.ndarray,
    weights: np.ndarray,
    *,
    colour_term: float = 0.0,
    colour_term_err: float | None = None,
    star_colour: np.ndarray | None = None,
    catalog_error: float = 0.02,
) -> CalibratedLightcurves:
    """Put every star's light curve on the calibrated magnitude scale.

    Parameters
    ----------
    stack : PhotometryStack
        The observation (fluxes and errors in e-, catalog ``vmag``).
    colour : str
        r, g or b.
    ensemble : numpy.ndarray
        Per star, the indices of its comparison stars, shape (n_stars, k)
        (:attr:`.ensemble.ColourLightcurves.ensemble`).
    weights : numpy.ndarray
        Their weights on median-normalised fluxes, shape (n_stars, k), not negative
        (:attr:`.ensemble.ColourLightcurves.ensemble_weights`).
    colour_term : float
        ``k`` of the colour (mag per mag), e.g. from
        :func:`panoptes_network.photometry.zero_point.observation_colour_term`; 0: none.
    colour_term_err : float or None
        Its 1-sigma error, for :attr:`CalibratedLightcurves.scale_err`.
    star_colour : numpy.ndarray or None
        Per star, the colour index ``k`` was fitted with (mag); default
        :func:`instrumental_colour`. Not needed when ``colour_term`` is 0.
    catalog_error : float
        Error of one comparison star's catalog magnitude in the colour, for ``scale_err``
        (mag).

    Returns
    -------
    CalibratedLightcurves
        The light curves.
    """
    n_frames, n_stars = stack.shape
    ensemble = np.asarray(ensemble, dtype=np.int64)
    weights = np.asarray(weights, dtype=float)
    if ensemble.shape != weights.shape or ensemble.ndim != 2 or ensemble.shape[0] != n_stars:
        raise ValueError(
            f"ensemble {ensemble.shape} and weights {weights.shape} must both be "
            f"(n_stars={n_stars}, k)"
        )
    if np.any(weights < 0):
        raise ValueError("ensemble weights must not be negative")
    if star_colour is None:
        star_colour = (
            instrumental_colour(stack) if colour_term != 0.0 else np.zeros(n_stars, dtype=float)
        )
    star_colour = np.asarray(star_colour, dtype=float)
    flux = stack.flux[colour]
    rel_err = stack.flux_err[colour] / flux
    with np.errstate(invalid="ignore", divide="ignore"):
        natural = np.asarray(stack.vmag, dtype=float) - colour_term * star_colour
        catalog_flux = np.where(np.isfinite(natural), 10.0 ** (-0.4 * natural), np.nan)
        scale = weights / nanmedian(flux, axis=0)[ensemble]
    mag = np.full((n_frames, n_stars), np.nan)
    mag_err = np.full((n_frames, n_stars), np.nan)
    ensemble_mag = np.full((n_frames, n_stars), np.nan)
    scale_err = np.full(n_stars, np.nan)
    for start in range(0, n_stars, _CHUNK):
        part = slice(start, start + _CHUNK)
        members, u = ensemble[part], scale[part]
        u = np.where(np.isfinite(u) & np.isfinite(catalog_flux[members]), u, 0.0)
        f = flux[:, members]
        ok = np.isfinite(f) & (u > 0)
        uf = np.where(ok, u * f, 0.0)
        cat = np.where(ok, u * catalog_flux[members], 0.0).sum(axis=2)
        total = uf.sum(axis=2)
        noise = np.sqrt((np.where(ok, uf * rel_err[:, members], 0.0) ** 2).sum(axis=2))
        a = u * np.nan_to_num(catalog_flux[members])
        a_sum = a.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ensemble_mag[:, part] = np.where(cat > 0, -2.5 * np.log10(cat), np.nan)
            ratio = flux[:, part] / total
            mag[:, part] = (
                -2.5 * np.log10(ratio) + ensemble_mag[:, part] + colour_term * star_colour[part]
            )
            mag_err[:, part] = MAG_PER_RELATIVE_FLUX * np.sqrt(
                rel_err[:, part] ** 2 + (noise / total) ** 2
            )
            catalog_part = catalog_error**2 * (a**2).sum(axis=1) / a_sum**2
            mean_colour = (a * np.nan_to_num(star_colour[members])).sum(axis=1) / a_sum
            colour_part = ((star_colour[part] - mean_colour) * (colour_term_err or 0.0)) ** 2
            scale_err[part] = np.sqrt(catalog_part + np.nan_to_num(colour_part))
    return CalibratedLightcurves(
        colour=colour,
        picid=np.asarray(stack.picid),
        times=np.asarray(stack.times),
        mag=mag,
        mag_err=mag_err,
        scale_err=scale_err,
        ensemble_mag=ensemble_mag,
        star_colour=star_colour,
        colour_term=float(colour_term),
    )


def calibrated_lightcurves(
    curves: Lightcurves,
    colour: str,
    *,
    colour_term: float = 0.0,
    colour_term_err: float | None = None,
    star_colour: np.ndarray | None = None,
    catalog_error: float = 0.02,
) -> CalibratedLightcurves:
    """Put the differential light curves of one colour on the calibrated scale.

    The comparison stars and weights are those :func:`.ensemble.differential_lightcurves`
    chose; the points are the target over that ensemble before any detrending, none
    clipped (:attr:`.ensemble.ColourLightcurves.outlier` marks the spikes).

    Parameters
    ----------
    curves : Lightcurves
        The observation's differential light curves.
    colour : str
        r, g or b.
    colour_term, colour_term_err, star_colour, catalog_error
        As for :func:`calibrated_scale`.

    Returns
    -------
    CalibratedLightcurves
        The light curves.
    """
    lc = curves.colours[colour]
    return calibrated_scale(
        curves.stack,
        colour,
        lc.ensemble,
        lc.ensemble_weights,
        colour_term=colour_term,
        colour_term_err=colour_term_err,
        star_colour=star_colour,
        catalog_error=catalog_error,
    )


@dataclass(frozen=True)
class BoxDepth:
    """A box-shaped dip fitted against a fitted baseline.

    Attributes
    ----------
    depth : float
        Fractional depth: one minus the in-transit flux over the baseline flux.
    depth_err : float
        Its 1-sigma error (scaled by the square root of the reduced chi-square when that is
        above 1).
    baseline_mag : float
        Magnitude of the fitted baseline at the regressors' mean (mag).
    n_in, n_out : int
        Points in and out of the box.
    reduced_chi2 : float
        Chi-square of the fit per degree of freedom.
    """

    depth: float
    depth_err: float
    baseline_mag: float
    n_in: int
    n_out: int
    reduced_chi2: float


def box_depth(
    mag: np.ndarray,
    mag_err: np.ndarray,
    in_transit: np.ndarray,
    *,
    regressors: np.ndarray | None = None,
) -> BoxDepth:
    """Fit a box dip as a fraction of the out-of-transit level, both fitted.

    Weighted least squares of the relative flux ``f = 10**(-0.4 (mag - m0))`` on
    ``a - b * box + sum_j c_j r_j`` (``r_j`` the regressors, centred on their mean; ``m0``
    the median magnitude out of the box); the depth is ``b / a``, its error from the
    covariance. On the calibrated scale the points may come from several observations: a
    box covering one whole observation is measured against the level of the others.

    Parameters
    ----------
    mag, mag_err : numpy.ndarray
        Calibrated magnitudes and errors (mag), shape (n,); non-finite points are ignored.
    in_transit : numpy.ndarray
        Whether each point is in the box (bool, shape (n,)).
    regressors : numpy.ndarray or None
        Trends fitted with the baseline, shape (n, p).

    Returns
    -------
    BoxDepth
        The depth and its error.
    """
    mag = np.asarray(mag, dtype=float)
    mag_err = np.asarray(mag_err, dtype=float)
    box = np.asarray(in_transit, dtype=bool)
    trends = np.empty((mag.size, 0)) if regressors is None else np.asarray(regressors, float)
    trends = trends.reshape(mag.size, -1)
    good = np.isfinite(mag) & np.isfinite(mag_err) & (mag_err > 0)
    good &= np.all(np.isfinite(trends), axis=1)
    n_in, n_out = int((good & box).sum()), int((good & ~box).sum())
    p = 2 + trends.shape[1]
    if n_in < 1 or n_out < 1 or n_in + n_out <= p:
        raise ValueError(
            f"a box depth needs points in ({n_in}) and out of ({n_out}) the box, more than "
            f"{p} in all"
        )
    m0 = float(np.median(mag[good & ~box]))
    flux = 10.0 ** (-0.4 * (mag[good] - m0))
    sigma = flux * mag_err[good] / MAG_PER_RELATIVE_FLUX
    centred = trends[good] - trends[good].mean(axis=0)
    design = np.column_stack([np.ones(flux.size), -box[good].astype(float), centred])
    a = design / sigma[:, None]
    covariance = np.linalg.inv(a.T @ a)
    beta = covariance @ (a.T @ (flux / sigma))
    chi2 = float(np.sum((flux / sigma - a @ beta) ** 2))
    reduced = chi2 / (flux.size - p)
    covariance = covariance * max(1.0, reduced)
    level, dip = beta[0], beta[1]
    depth = dip / level
    variance = (
        covariance[1, 1] / level**2
        + dip**2 * covariance[0, 0] / level**4
        - 2 * dip * covariance[0, 1] / level**3
    )
    return BoxDepth(
        depth=float(depth),
        depth_err=float(np.sqrt(variance)),
        baseline_mag=float(m0 - 2.5 * np.log10(level)),
        n_in=n_in,
        n_out=n_out,
        reduced_chi2=float(reduced),
    )
