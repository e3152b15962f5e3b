"""Differential aperture photometry of one observation, per Bayer colour.

Input: the per-frame photometry tables of one observation, as
:mod:`.stacking` describes them. Reject bad frames first
(:func:`.frame_quality.assess_frames`).

Steps, vectorised over stars (:func:`differential_lightcurves`):

1. :func:`~.stacking.stack_frames`: (n_frames x n_stars) arrays per colour; flagged rows and
   non-positive fluxes are NaN; stars measured in fewer than ``min_coverage`` of the frames
   are dropped.
2. Variability screen (first pass): each star over its median, divided by the per-frame
   median of all such stars (a crude common mode), linearly detrended; its robust scatter
   (1.4826 MAD) over the scatter its flux errors predict, divided by the median of that ratio
   over all stars, above ``variability_threshold`` (default 2) marks a variable, in any
   colour. Variables and poorly covered stars are never comparison stars.
3. Ensembles: the ``n_comparisons`` nearest candidates of each star in (log10 median flux /
   0.2 dex, log10(flux_b / flux_r) / 0.1 dex, sky position / half the field size), from a
   :class:`scipy.spatial.cKDTree`; never the star itself.
4. Weights (Broeg, Fernandez & Neuhaeuser 2005, AN 326, 134): start from the photon-noise
   weights ``1 / median(relative error)**2``; divide each comparison by the weighted mean of
   the *other* members, take the standard deviation of that differential light curve and
   re-weight by ``1 / sigma**2``; iterate until the weights change by less than ``1e-3``
   (relative) or 20 iterations. Done on ensemble members only, in chunks of targets.
5. Target over the weighted ensemble, normalised by its median. Relative error:
   ``sqrt(e_target**2 + e_ensemble**2)``, with ``e_ensemble = sqrt(sum (w_i f_i e_i)**2) /
   sum(w_i f_i)`` from the flux errors.
6. Outliers: points more than ``clip_sigma`` (default 5) robust sigmas from the running
   median of the 5 points centred on them (:func:`.robust_stats.isolated_outliers`): a
   spike is clipped, a coherent dip or bump of three points or more (a transit) is not.
7. Correction (``detrend``, on by default): cotrending. Every star's light curve is fitted
   on ``[1, airmass, x, y]`` (standardised, outliers excluded); a star's trend is the
   Broeg-weighted mean of its comparison stars' fitted coefficients applied to its own
   regressors (:func:`cotrend_model`), never a fit to its own light curve, so a signal only
   the star has passes through whatever its shape. The trend is divided out in a colour only
   when that lowers the median held-out scatter of the quiet comparison candidates by
   :data:`COTREND_MIN_GAIN` (each candidate's trend comes from its own comparisons, never
   itself); :attr:`ColourLightcurves.correction` says which (``"cotrend"`` or ``"none"``).
   The star's own BIC-gated fit (``correction="self"``, the former default) is kept to be
   measured against: it absorbs part of any transit or slow variation the star has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from scipy.spatial import cKDTree

from panoptes_network.lightcurves.robust_stats import (
    isolated_outliers,
    nanmedian,
    normalised,
    outliers,
    robust_sigma,
    standardised,
)
from panoptes_network.lightcurves.stacking import (
    COLOURS,
    PhotometryStack,
    expected_relative_error,
    stack_frames,
)

__all__ = [
    "CORRECTIONS",
    "COTREND_MIN_GAIN",
    "ColourLightcurves",
    "Lightcurves",
    "choose_ensembles",
    "cotrend_model",
    "differential_lightcurves",
]

_MAG_PER_RELATIVE = 2.5 / np.log(10.0)
_CHUNK = 256


def _linear_fit(flux: np.ndarray, design: np.ndarray, usable: np.ndarray):
    """Least-squares fit of each column of ``flux`` on its own regressors.

    Returns the model (n_frames, n_stars), the residual sums of squares of the fit and of a
    constant, the number of points used per star and the coefficients (n_stars, p).
    """
    weight = usable.astype(float)
    y = np.where(usable, flux, 0.0)
    xw = design * weight[..., None]
    normal = np.einsum("fsp,fsq->spq", xw, design)
    n = weight.sum(axis=0)
    p = design.shape[2]
    normal += 1e-9 * np.maximum(n, 1.0)[:, None, None] * np.eye(p)
    rhs = np.einsum("fsp,fs->sp", xw, y)
    beta = np.linalg.solve(normal, rhs[..., None])[..., 0]
    model = np.einsum("fsp,sp->fs", design, beta)
    rss = np.sum(weight * (y - model) ** 2, axis=0)
    mean = y.sum(axis=0) / np.maximum(n, 1.0)
    rss_constant = np.sum(weight * (y - mean) ** 2, axis=0)
    return model, rss, rss_constant, n, beta


def _design(stack: PhotometryStack) -> np.ndarray:
    """Regressors [1, airmass, x, y], standardised, shape (n_frames, n_stars, 4)."""
    n_frames, n_stars = stack.shape
    airmass = standardised(np.repeat(stack.airmass[:, None], n_stars, axis=1))
    return np.stack(
        [np.ones((n_frames, n_stars)), airmass, standardised(stack.x), standardised(stack.y)],
        axis=2,
    )


def _scatter_ratio(flux: np.ndarray, flux_err: np.ndarray, design: np.ndarray) -> np.ndarray:
    """First pass: robust scatter over predicted scatter, relative to the median star."""
    norm = normalised(flux)
    bright = nanmedian(flux, axis=0) >= np.nanmedian(flux)
    common = nanmedian(norm[:, bright], axis=1)
    crude = norm / common[:, None]
    usable = np.isfinite(crude) & ~outliers(crude, 5.0)
    model, _, _, _, _ = _linear_fit(crude, design, usable)
    with np.errstate(invalid="ignore", divide="ignore"):
        residual = np.where(usable, crude - model, np.nan)
        ratio = robust_sigma(residual) / nanmedian(flux_err / flux, axis=0)
    return ratio / np.nanmedian(ratio)


#: Corrections of the light curves for trends the differential photometry leaves.
CORRECTIONS: tuple[str, ...] = ("cotrend", "self", "none")
#: Cotrending is kept in a colour when it lowers the median held-out scatter of the quiet
#: comparison candidates by at least this fraction.
COTREND_MIN_GAIN = 0.02


def cotrend_model(
    raw: np.ndarray,
    design: np.ndarray,
    usable: np.ndarray,
    ensemble: np.ndarray,
    weights: np.ndarray,
) -> np.ndarray:
    """Each star's trend, predicted from its comparison stars, never from its own light curve.

    Every star's light curve is fitted on the regressors ``[1, airmass, x, y]``; a star's
    trend coefficients are then the weighted mean of its comparison stars' coefficients (its
    Broeg weights), applied to its own regressors. A signal only the star has (a transit, a
    pulsation) does not enter its own trend, whatever its shape or length.

    Parameters
    ----------
    raw : numpy.ndarray
        Differential light curves, median 1, shape (n_frames, n_stars).
    design : numpy.ndarray
        Standardised regressors, shape (n_frames, n_stars, p); column 0 is the constant.
    usable : numpy.ndarray
        Points used in the fits (finite, not outliers).
    ensemble, weights : numpy.ndarray
        Comparison star indices and their weights (summing to 1), shape (n_stars, k).

    Returns
    -------
    numpy.ndarray
        The multiplicative trend (about 1), shape (n_frames, n_stars).
    """
    _, _, _, _, beta = _linear_fit(raw, design, usable)
    predicted = np.einsum("sk,skp->sp", weights, beta[ensemble])
    return 1.0 + np.einsum("fsp,sp->fs", design[..., 1:], predicted[:, 1:])


def _self_detrend(raw, design, usable):
    """Return each star's own BIC-gated fit (for comparison only: it can absorb its signal)."""
    model, rss, rss_constant, n, _ = _linear_fit(raw, design, usable)
    with np.errstate(invalid="ignore", divide="ignore"):
        bic = n * np.log(rss / n) + design.shape[2] * np.log(n)
        bic_constant = n * np.log(rss_constant / n) + np.log(n)
    chosen = (n > design.shape[2] + 2) & (bic < bic_constant)
    return np.where(chosen[None, :], model, 1.0), chosen


def _held_out_gain(raw: np.ndarray, trend: np.ndarray, usable: np.ndarray, quiet: np.ndarray):
    """Median over quiet stars of robust scatter after over before the correction."""
    before = robust_sigma(np.where(usable, raw, np.nan)[:, quiet])
    with np.errstate(invalid="ignore", divide="ignore"):
        after = robust_sigma(np.where(usable, raw / trend, np.nan)[:, quiet])
        return float(np.nanmedian(after / before))


def pinned_ensembles(
    chosen: np.ndarray, picid: np.ndarray, comparisons: Mapping[int, Sequence[int]]
) -> np.ndarray:
    """Replace chosen comparison stars by given ones (by PICID) where all of them are here.

    Parameters
    ----------
    chosen : numpy.ndarray
        Star indices from :func:`choose_ensembles`, shape (n_stars, k).
    picid : numpy.ndarray
        PICID of each star of the stack.
    comparisons : Mapping
        Target PICID to its ``k`` comparison PICIDs.

    Returns
    -------
    numpy.ndarray
        ``chosen``, with the rows of the targets whose ``k`` given comparisons are all in
        the stack replaced by those.
    """
    index = {int(p): i for i, p in enumerate(picid)}
    out = chosen.copy()
    for j, target in enumerate(picid):
        given = comparisons.get(int(target))
        if given is None or len(given) != chosen.shape[1]:
            continue
        rows = [index.get(int(p)) for p in given]
        if all(r is not None for r in rows):
            out[j] = rows
    return out


def choose_ensembles(features: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Choose each star's comparison stars: its nearest candidates in feature space.

    Parameters
    ----------
    features : numpy.ndarray
        Scaled features, shape (n_stars, n_features).
    candidates : numpy.ndarray
        Indices of the stars allowed as comparisons.
    k : int
        Comparisons per star (fewer when there are not enough candidates).

    Returns
    -------
    numpy.ndarray
        Star indices, shape (n_stars, min(k, n_candidates - 1)), nearest first, never the
        star itself.
    """
    candidates = np.asarray(candidates)
    k = min(k, candidates.size - 1)
    if k < 1:
        raise ValueError("fewer than two candidate comparison stars")
    _, nearest = cKDTree(features[candidates]).query(features, k=k + 1)
    neighbours = candidates[nearest]
    is_self = neighbours == np.arange(len(features))[:, None]
    order = np.argsort(is_self, axis=1, kind="stable")
    return np.take_along_axis(neighbours, order, axis=1)[:, :k]


def _broeg(norm: np.ndarray, rel_err: np.ndarray, ensemble: np.ndarray, tol: float, max_iter: int):
    """Broeg et al. (2005) weights of each ensemble; returns the artificial comparison.

    Returns the ensemble flux (n_frames, m), its relative error and the weights (m, k).
    """
    f = norm[:, ensemble]
    e = rel_err[:, ensemble]
    ok = np.isfinite(f) & np.isfinite(e)
    f0 = np.where(ok, f, 0.0)
    e0 = np.where(ok, e, 0.0)
    weights = np.nan_to_num(1.0 / nanmedian(np.where(ok, e, np.nan), axis=0) ** 2)
    weights /= weights.sum(axis=1, keepdims=True)
    for _ in range(max_iter):
        wf = ok * weights
        total = (wf * f0).sum(axis=2, keepdims=True)
        norm_w = wf.sum(axis=2, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            others = (total - wf * f0) / (norm_w - wf)
            diff = np.where(ok, f / others, np.nan)
            diff /= nanmedian(diff, axis=0)
            sigma = np.nanstd(diff, axis=0)
            new = np.where(np.isfinite(sigma) & (sigma > 0), 1.0 / sigma**2, 0.0)
            new /= new.sum(axis=1, keepdims=True)
            change = np.nanmax(np.abs(new - weights) / np.maximum(weights, 1e-12))
        weights = new
        if change < tol:
            break
    wf = ok * weights
    total = (wf * f0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        flux = total / wf.sum(axis=2)
        error = np.sqrt(((wf * f0 * e0) ** 2).sum(axis=2)) / total
    return flux, error, weights


@dataclass(frozen=True)
class ColourLightcurves:
    """Light curves of every star of an observation in one colour.

    Attributes
    ----------
    colour : str
        r, g or b.
    correction : str
        The correction applied in this colour: ``"cotrend"``, ``"self"`` or ``"none"``.
    flux : numpy.ndarray
        Normalised differential flux (median 1; corrected where ``detrended``), shape
        (n_frames, n_stars); NaN where not measured.
    flux_raw : numpy.ndarray
        The same before detrending.
    flux_err : numpy.ndarray
        1-sigma error of ``flux`` (same units, relative).
    outlier : numpy.ndarray
        True for clipped points.
    detrended : numpy.ndarray
        Per star, whether its trend was divided out (every star of the colour when
        ``correction`` is ``"cotrend"``).
    variable : numpy.ndarray
        Per star, flagged by the variability screen (in any colour).
    scatter_ratio : numpy.ndarray
        Per star, the screen's robust scatter over predicted scatter (median star = 1).
    ensemble, ensemble_weights : numpy.ndarray
        Per star, comparison star indices and Broeg weights (sum 1), shape (n_stars, k).
    summary : astropy.table.Table
        Per star: picid, n_points, median_flux (e-), median_mag (instrumental,
        ``-2.5 log10`` median flux in e-), rms_mag and robust_rms_mag (mag, outliers
        excluded), expected_rms_mag (theoretical, mag), detrended, variable, n_comparisons.
    """

    colour: str
    correction: str
    flux: np.ndarray
    flux_raw: np.ndarray
    flux_err: np.ndarray
    outlier: np.ndarray
    detrended: np.ndarray
    variable: np.ndarray
    scatter_ratio: np.ndarray
    ensemble: np.ndarray
    ensemble_weights: np.ndarray
    summary: Table


@dataclass(frozen=True)
class Lightcurves:
    """Differential light curves of one observation.

    Attributes
    ----------
    stack : PhotometryStack
        The stacked input.
    colours : dict of str to ColourLightcurves
        Per colour.
    """

    stack: PhotometryStack
    colours: dict[str, ColourLightcurves]

    def star_index(self, picid: int) -> int:
        """Return the column of a star.

        Parameters
        ----------
        picid : int
            The star.

        Returns
        -------
        int
            Its index in the stack.
        """
        where = np.flatnonzero(self.stack.picid == picid)
        if where.size == 0:
            raise KeyError(f"PICID {picid} has no light curve")
        return int(where[0])

    def comparisons(self) -> dict[str, dict[int, list[int]]]:
        """Return each star's comparison stars by PICID, per colour.

        Returns
        -------
        dict
            ``{colour: {picid: [comparison picid, ...]}}``; give it to
            :func:`differential_lightcurves` as ``comparisons`` to build other light curves
            of the same stars with the same comparison stars.
        """
        picid = np.asarray(self.stack.picid)
        return {
            c: {
                int(p): [int(x) for x in picid[row]]
                for p, row in zip(picid, lc.ensemble, strict=True)
            }
            for c, lc in self.colours.items()
        }

    def regressors(self, picid: int) -> Table:
        """Return the detrending regressors of one star.

        Parameters
        ----------
        picid : int
            The star.

        Returns
        -------
        astropy.table.Table
            time (POSIX s), airmass, x and y (pixels), one row per frame.
        """
        i = self.star_index(picid)
        return Table(
            {
                "time": self.stack.times,
                "airmass": self.stack.airmass,
                "x": self.stack.x[:, i],
                "y": self.stack.y[:, i],
            }
        )

    def lightcurve(self, picid: int, colour: str = "g") -> Table:
        """Return one star's light curve in one colour.

        Parameters
        ----------
        picid : int
            The star.
        colour : str
            r, g or b.

        Returns
        -------
        astropy.table.Table
            time (POSIX s), flux (normalised), flux_err, outlier; ``meta`` holds picid,
            colour and the summary row.
        """
        i = self.star_index(picid)
        curves = self.colours[colour]
        table = Table(
            {
                "time": self.stack.times,
                "flux": curves.flux[:, i],
                "flux_err": curves.flux_err[:, i],
                "outlier": curves.outlier[:, i],
            }
        )
        row = curves.summary[i]
        table.meta.update(picid=int(picid), colour=colour)
        table.meta.update({name: row[name].item() for name in curves.summary.colnames})
        return table


def _features(stack: PhotometryStack, colour: str, position_scale: float | None) -> np.ndarray:
    """(log flux / 0.2 dex, colour proxy / 0.1 dex, position / scale) per star."""
    with np.errstate(invalid="ignore", divide="ignore"):
        log_flux = np.log10(nanmedian(stack.flux[colour], axis=0))
        if "b" in stack.flux and "r" in stack.flux:
            proxy = np.log10(
                nanmedian(stack.flux["b"], axis=0) / nanmedian(stack.flux["r"], axis=0)
            )
        else:
            proxy = np.zeros_like(log_flux)
    dec0 = np.radians(np.nanmedian(stack.dec))
    east = (((stack.ra - np.nanmedian(stack.ra) + 180.0) % 360.0) - 180.0) * np.cos(dec0)
    north = stack.dec - np.nanmedian(stack.dec)
    if position_scale is None:
        extent = max(np.ptp(east), np.ptp(north))
        position_scale = extent / 2 if extent > 0 else 1.0
    features = np.stack(
        [log_flux / 0.2, proxy / 0.1, east / position_scale, north / position_scale], axis=1
    )
    return np.nan_to_num(features, nan=1e6)


def _summary(
    stack: PhotometryStack,
    colour: str,
    flux: np.ndarray,
    outlier: np.ndarray,
    detrended: np.ndarray,
    variable: np.ndarray,
    n_comparisons: int,
) -> Table:
    inlier = np.isfinite(flux) & ~outlier
    with np.errstate(invalid="ignore", divide="ignore"):
        mag = np.where(inlier, -2.5 * np.log10(flux), np.nan)
        median_flux = nanmedian(stack.flux[colour], axis=0)
        expected = np.nanmedian(
            expected_relative_error(
                stack.flux[colour], stack.bkg[colour], stack.npix[colour], stack.frame_read_noise
            ),
            axis=0,
        )
        return Table(
            {
                "picid": stack.picid,
                "n_points": inlier.sum(axis=0),
                "median_flux": median_flux,
                "median_mag": -2.5 * np.log10(median_flux),
                "rms_mag": np.nanstd(mag, axis=0),
                "robust_rms_mag": robust_sigma(mag),
                "expected_rms_mag": _MAG_PER_RELATIVE * expected,
                "detrended": detrended,
                "variable": variable,
                "n_comparisons": np.full(stack.picid.size, n_comparisons),
            }
        )


def differential_lightcurves(
    tables: Sequence[Table],
    *,
    colours: Sequence[str] = COLOURS,
    n_comparisons: int = 20,
    min_coverage: float = 0.8,
    comparison_coverage: float = 0.95,
    variability_threshold: float = 2.0,
    clip_sigma: float = 5.0,
    detrend: bool = True,
    correction: str = "cotrend",
    position_scale: float | None = None,
    tol: float = 1e-3,
    max_iter: int = 20,
    comparisons: Mapping[str, Mapping[int, Sequence[int]]] | None = None,
) -> Lightcurves:
    """Build differential light curves of every star of one observation.

    Parameters
    ----------
    tables : sequence of astropy.table.Table
        The kept frames' photometry (contract in the module docstring).
    colours : sequence of str
        Colours to process.
    n_comparisons : int
        Comparison stars per target.
    min_coverage : float
        Fraction of frames a star needs to get a light curve.
    comparison_coverage : float
        Fraction of frames a star needs to be a comparison star.
    variability_threshold : float
        Relative robust scatter above which a star is variable (not a comparison).
    clip_sigma : float
        Outlier threshold, in robust sigmas of a point from the running median of its
        neighbours in time (:func:`.robust_stats.isolated_outliers`).
    detrend : bool
        Correct trends the differential photometry leaves (``False``: no correction).
    correction : str
        How, when ``detrend``: ``"cotrend"`` (default; each star's trend predicted from its
        comparison stars, kept in a colour when it lowers the quiet stars' held-out scatter)
        or ``"self"`` (each star's own BIC-gated fit: it can absorb the star's own signal and
        is there to be measured against).
    position_scale : float or None
        Sky distance (degrees) that counts as much as 0.2 dex of flux in choosing
        comparisons; default half the field's extent.
    tol : float
        Relative weight change that ends the Broeg iteration.
    max_iter : int
        Most Broeg iterations.
    comparisons : Mapping or None
        Comparison stars to use instead of choosing them, per colour and target PICID
        (:meth:`Lightcurves.comparisons` of another build of the same stars): two builds of
        one observation then differ only by their data (paired injection measurements).

    Returns
    -------
    Lightcurves
        Per colour light curves and summaries.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction {correction!r} is not one of {CORRECTIONS}")
    stack = stack_frames(tables, colours=colours, min_coverage=min_coverage)
    n_frames, n_stars = stack.shape
    design = _design(stack)
    ratios = {c: _scatter_ratio(stack.flux[c], stack.flux_err[c], design) for c in colours}
    with np.errstate(invalid="ignore"):
        variable = np.any([ratios[c] > variability_threshold for c in colours], axis=0)
    out = {}
    for c in colours:
        norm = normalised(stack.flux[c])
        with np.errstate(invalid="ignore", divide="ignore"):
            rel_err = stack.flux_err[c] / stack.flux[c]
        covered = np.isfinite(norm).mean(axis=0) >= comparison_coverage
        candidates = np.flatnonzero(covered & ~variable)
        ensemble = choose_ensembles(_features(stack, c, position_scale), candidates, n_comparisons)
        if comparisons is not None and c in comparisons:
            ensemble = pinned_ensembles(ensemble, np.asarray(stack.picid), comparisons[c])
        raw = np.full((n_frames, n_stars), np.nan)
        err = np.full((n_frames, n_stars), np.nan)
        weights = np.zeros(ensemble.shape)
        for start in range(0, n_stars, _CHUNK):
            part = slice(start, start + _CHUNK)
            comp, comp_err, weights[part] = _broeg(norm, rel_err, ensemble[part], tol, max_iter)
            with np.errstate(invalid="ignore", divide="ignore"):
                raw[:, part] = norm[:, part] / comp
                err[:, part] = np.sqrt(rel_err[:, part] ** 2 + comp_err**2)
        level = nanmedian(raw, axis=0)
        raw /= level
        outlier = isolated_outliers(raw, clip_sigma)
        flux = raw.copy()
        usable = np.isfinite(raw) & ~outlier
        method = correction if detrend else "none"
        if method == "cotrend":
            trend = cotrend_model(raw, design, usable, ensemble, weights)
            applied = _held_out_gain(raw, trend, usable, candidates) < 1.0 - COTREND_MIN_GAIN
            detrended = np.full(n_stars, applied)
        elif method == "self":
            trend, detrended = _self_detrend(raw, design, usable)
        else:
            trend, detrended = np.ones_like(raw), np.zeros(n_stars, dtype=bool)
        if detrended.any():
            with np.errstate(invalid="ignore", divide="ignore"):
                flux[:, detrended] = raw[:, detrended] / trend[:, detrended]
                flux /= nanmedian(flux, axis=0)
            outlier = isolated_outliers(flux, clip_sigma)
        else:
            method = "none"
        flux_err = flux * err
        summary = _summary(stack, c, flux, outlier, detrended, variable, ensemble.shape[1])
        out[c] = ColourLightcurves(
            colour=c,
            correction=method,
            flux=flux,
            flux_raw=raw,
            flux_err=flux_err,
            outlier=outlier,
            detrended=detrended,
            variable=variable,
            scatter_ratio=ratios[c],
            ensemble=ensemble,
            ensemble_weights=weights,
            summary=summary,
        )
    return Lightcurves(stack=stack, colours=out)
