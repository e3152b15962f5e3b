"""Photometric zero points of a frame, per Bayer colour, fitted against the catalog.

The model
---------
For every star of a per-image sources table (:mod:`.sources_table`) and colour ``c``, the
*instrumental magnitude* is that of its count rate in electrons per second,

    ``m_inst = -2.5 log10(flux_c / exptime)``,

so that cameras of different gains give the same zero point when each frame's fluxes were
converted to electrons with its camera's own gain (a wrong gain shows as an offset of
``2.5 log10(true / assumed gain)``). The fit is

    ``vmag - m_inst = zero_point + colour_term * colour``

over the unflagged stars with a good signal-to-noise ratio; a *calibrated magnitude* (on the
catalog's V scale) is then ``m_inst + zero_point + colour_term * colour``
(:func:`calibrated_magnitudes`).

The colour index
----------------
By default the colour of a star is its *instrumental colour* on the same frame,
``b - r = -2.5 log10(flux_b / flux_r)`` (mag), for three reasons: the Tycho-2 stars of the
astrometry.net index carry only V, so a catalog colour is often missing; the instrumental
colour is measured in the same apertures at the same time for every star the fit can use
(and for every star a light curve is made of); and the Canon R and B filters straddle V,
so ``b - r`` is close to linear in B-V. Its zero point depends on the camera's relative
R/B response and on the frame's airmass (the extinction differs between R and B), but
that offset is common to all stars of a frame and goes into ``zero_point``: only
zero points and calibrated magnitudes computed with the same colour index and colour term
are comparable. ``colour_index="bv"`` (or any other column name) uses a catalog colour
column of the table instead, where the catalog has one. With the instrumental colour the
r and b fits carry the same information (``vmag - m_b = vmag - m_r - (b - r)``): their zero
points are equal and their colour terms differ by exactly 1.

The instrumental colour has noise that also enters ``m_inst`` (the R or B flux is in both);
the weights use the noise of the fitted residual, ``sigma^2 = sigma_c^2 + k^2 (sigma_b^2 +
sigma_r^2)`` with the covariances between the colour's and the magnitude's noise, plus a
floor (``floor``, mag) for catalog errors and flat-field residuals.

The fit
-------
Weighted least squares with iterative clipping: residuals more than ``clip_sigma`` robust
sigmas (1.4826 times the median absolute deviation of the normalised residuals) from zero
are dropped, until the kept set no longer changes. On the kept stars both models (zero point
alone; zero point and colour term) are fitted, and the colour term is kept only when it
lowers the Bayesian information criterion ``BIC = n ln(RSS_w / n) + p ln n`` (weighted
residual sum of squares, ``p`` parameters) by more than ``min_delta_bic`` (default 10: very
strong evidence). Errors come from the covariance of the fit, scaled up by the square root
of the reduced chi-square when it is above 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.table import Table

from panoptes_network.photometry.flags import DEFAULT_BAD_FLAGS
from panoptes_network.photometry.noise import MAG_PER_RELATIVE_FLUX

__all__ = [
    "INSTRUMENTAL_COLOUR",
    "ZeroPoint",
    "ZeroPointError",
    "calibrated_magnitudes",
    "fit_zero_point",
    "fit_zero_points",
    "instrumental_magnitudes",
    "observation_colour_term",
    "star_colours",
]

#: Name of the instrumental colour index ``-2.5 log10(flux_b / flux_r)`` (mag).
INSTRUMENTAL_COLOUR = "b-r"
_COLOURS: tuple[str, ...] = ("r", "g", "b")
#: Coefficient of each colour's magnitude noise in the instrumental colour ``b - r``.
_COLOUR_NOISE = {"r": -1.0, "g": 0.0, "b": 1.0}


class ZeroPointError(ValueError):
    """A zero point cannot be fitted (the message names the image, the colour and why)."""


@dataclass(frozen=True)
class ZeroPoint:
    """The photometric zero point of one frame in one colour.

    Attributes
    ----------
    image_id : str or None
        The frame.
    colour : str
        The Bayer colour: ``r``, ``g`` or ``b``.
    zero_point : float
        ``vmag - m_inst`` at colour index 0 (mag), with ``m_inst`` the magnitude of the
        count rate in e- / s.
    zero_point_err : float
        Its 1-sigma error (mag).
    colour_term : float or None
        Slope of ``vmag - m_inst`` against the colour index (mag per mag); None when it did
        not help the fit (the zero point then holds for every colour).
    colour_term_err : float or None
        Its 1-sigma error (mag per mag); None with ``colour_term``.
    covariance : float
        Covariance of ``zero_point`` and ``colour_term`` (mag^2 per mag); 0 without a
        colour term.
    colour_index : str
        The colour index: ``"b-r"`` (instrumental, :data:`INSTRUMENTAL_COLOUR`) or the
        catalog column used.
    delta_bic : float
        BIC without the colour term minus BIC with it: positive when the colour term helps.
    n_stars : int
        Stars in the final fit.
    n_rejected : int
        Usable stars clipped as outliers.
    rms : float
        Root mean square of the final fit's residuals (mag, unweighted).
    exptime : float
        Exposure time (s).
    airmass : float or None
        Airmass of the frame.
    """

    image_id: str | None
    colour: str
    zero_point: float
    zero_point_err: float
    colour_term: float | None
    colour_term_err: float | None
    covariance: float
    colour_index: str
    delta_bic: float
    n_stars: int
    n_rejected: int
    rms: float
    exptime: float
    airmass: float | None

    @property
    def slope(self) -> float:
        """The colour term, 0 when it was not kept (mag per mag)."""
        return 0.0 if self.colour_term is None else self.colour_term

    def offset(self, colour_value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``zero_point + colour_term * colour`` and its error, for colour values.

        Parameters
        ----------
        colour_value : numpy.ndarray
            Colour index values (mag).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            The offset from instrumental to calibrated magnitude and its 1-sigma error
            (mag), from the fit's covariance (the stars' own noise not included).
        """
        value = np.asarray(colour_value, dtype=float)
        offset = self.zero_point + self.slope * value
        slope_err = 0.0 if self.colour_term_err is None else self.colour_term_err
        variance = self.zero_point_err**2 + (value * slope_err) ** 2 + 2 * value * self.covariance
        return offset, np.sqrt(np.clip(variance, 0.0, None))

    def to_record(self) -> dict[str, Any]:
        """Return the zero point as a JSON-serialisable dict (for the image document).

        Returns
        -------
        dict
            Every attribute, floats rounded to 1e-6 mag and non-finite values as None.
        """

        def number(value: float | None) -> float | None:
            if value is None or not math.isfinite(value):
                return None
            return round(float(value), 6)

        return {
            "image_id": self.image_id,
            "colour": self.colour,
            "zero_point": number(self.zero_point),
            "zero_point_err": number(self.zero_point_err),
            "colour_term": number(self.colour_term),
            "colour_term_err": number(self.colour_term_err),
            "covariance": number(self.covariance),
            "colour_index": self.colour_index,
            "delta_bic": number(self.delta_bic),
            "n_stars": int(self.n_stars),
            "n_rejected": int(self.n_rejected),
            "rms": number(self.rms),
            "exptime": number(self.exptime),
            "airmass": number(self.airmass),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ZeroPoint:
        """Rebuild a zero point from :meth:`to_record`'s dict.

        Parameters
        ----------
        record : Mapping
            The dict.

        Returns
        -------
        ZeroPoint
            The zero point (None numbers other than the colour term's become NaN).
        """

        def number(key: str) -> float:
            value = record.get(key)
            return float("nan") if value is None else float(value)

        term = record.get("colour_term")
        return cls(
            image_id=record.get("image_id"),
            colour=str(record["colour"]),
            zero_point=number("zero_point"),
            zero_point_err=number("zero_point_err"),
            colour_term=None if term is None else float(term),
            colour_term_err=None if term is None else number("colour_term_err"),
            covariance=0.0 if term is None else number("covariance"),
            colour_index=str(record["colour_index"]),
            delta_bic=number("delta_bic"),
            n_stars=int(record["n_stars"]),
            n_rejected=int(record["n_rejected"]),
            rms=number("rms"),
            exptime=number("exptime"),
            airmass=None if record.get("airmass") is None else float(record["airmass"]),
        )


def _values(table: Table, name: str) -> np.ndarray:
    """Return a column as floats, masked values as NaN."""
    return np.ma.filled(np.ma.asarray(table[name], dtype=float), np.nan)


def _magnitudes(table: Table, colour: str, exptime: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the instrumental magnitude of the count rate and its error (NaN: no flux)."""
    flux = _values(table, f"flux_{colour}")
    error = _values(table, f"flux_err_{colour}")
    with np.errstate(invalid="ignore", divide="ignore"):
        good = np.isfinite(flux) & (flux > 0) & np.isfinite(error) & (error > 0)
        mag = np.where(good, -2.5 * np.log10(flux / exptime), np.nan)
        err = np.where(good, MAG_PER_RELATIVE_FLUX * error / flux, np.nan)
    return mag, err


def instrumental_magnitudes(
    table: Table, *, exptime: float, colours: Sequence[str] = _COLOURS
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return each star's instrumental magnitudes ``-2.5 log10(flux / exptime)``.

    Parameters
    ----------
    table : astropy.table.Table
        A sources table: ``flux_<c>`` and ``flux_err_<c>`` in electrons.
    exptime : float
        Exposure time (s).
    colours : sequence of str
        Colours wanted.

    Returns
    -------
    dict
        Per colour, the magnitudes and their 1-sigma errors (mag); NaN where the flux or
        its error is not positive.
    """
    _check_exptime(exptime, table.meta.get("image_id"))
    return {c: _magnitudes(table, c, exptime) for c in colours}


def star_colours(table: Table, colour_index: str = INSTRUMENTAL_COLOUR) -> np.ndarray:
    """Return each star's colour index.

    Parameters
    ----------
    table : astropy.table.Table
        A sources table.
    colour_index : str
        ``"b-r"``: the instrumental ``-2.5 log10(flux_b / flux_r)``; otherwise the name of a
        catalog colour column of the table (e.g. ``"bv"``).

    Returns
    -------
    numpy.ndarray
        Colours (mag); NaN where unknown.
    """
    if colour_index == INSTRUMENTAL_COLOUR:
        blue, _ = _magnitudes(table, "b", 1.0)
        red, _ = _magnitudes(table, "r", 1.0)
        return blue - red
    if colour_index not in table.colnames:
        raise ZeroPointError(
            f"image {table.meta.get('image_id', '?')}: no colour column {colour_index!r}; use "
            f"colour_index={INSTRUMENTAL_COLOUR!r} (the instrumental colour) or add the column"
        )
    return _values(table, colour_index)


def _colour_errors(
    mags: Mapping[str, tuple[np.ndarray, np.ndarray]], colour: str, colour_index: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the noise variances of ``colour`` and of the colour index, and their covariance."""
    _, err_c = mags[colour]
    if colour_index != INSTRUMENTAL_COLOUR:
        zero = np.zeros_like(err_c)
        return err_c**2, zero, zero
    err_b, err_r = mags["b"][1], mags["r"][1]
    colour_var = err_b**2 + err_r**2
    covariance = _COLOUR_NOISE[colour] * err_c**2
    return err_c**2, colour_var, covariance


def _check_exptime(exptime: float, image_id: Any) -> None:
    try:
        valid = math.isfinite(float(exptime)) and float(exptime) > 0
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ZeroPointError(
            f"image {image_id or '?'}: exposure time {exptime!r} s is not a positive number; "
            "pass the frame's EXPTIME"
        )


def _weighted_fit(
    y: np.ndarray, design: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Return weighted least squares coefficients, covariance (unscaled) and weighted RSS."""
    root = np.sqrt(weight)
    a = design * root[:, None]
    b = y * root
    normal = a.T @ a
    covariance = np.linalg.inv(normal)
    beta = covariance @ (a.T @ b)
    rss = float(np.sum((b - a @ beta) ** 2))
    return beta, covariance, rss


def _bic(rss: float, n: int, p: int) -> float:
    return n * math.log(max(rss, 1e-300) / n) + p * math.log(n)


def fit_zero_point(
    table: Table,
    colour: str,
    *,
    exptime: float,
    airmass: float | None = None,
    image_id: str | None = None,
    colour_index: str = INSTRUMENTAL_COLOUR,
    min_snr: float = 30.0,
    floor: float = 0.02,
    clip_sigma: float = 3.0,
    max_iter: int = 10,
    min_delta_bic: float = 10.0,
    min_stars: int = 10,
    bad_flags: int = DEFAULT_BAD_FLAGS,
) -> ZeroPoint:
    """Fit the zero point (and a colour term where it helps) of one frame in one colour.

    Parameters
    ----------
    table : astropy.table.Table
        The frame's sources table: ``picid``, ``vmag`` (mag), ``flux_<c>`` and
        ``flux_err_<c>`` (e-) for ``c`` in r, g, b, ``flags``; perhaps a catalog colour
        column.
    colour : str
        ``r``, ``g`` or ``b``.
    exptime : float
        Exposure time (s).
    airmass : float or None
        Airmass of the frame, recorded with the zero point (default ``table.meta``'s).
    image_id : str or None
        The frame, for the record and the messages (default ``table.meta``'s).
    colour_index : str
        ``"b-r"`` (the instrumental colour, default) or a catalog colour column such as
        ``"bv"`` (see the module docstring).
    min_snr : float
        Least signal-to-noise ratio of a star's flux in ``colour`` (and, for the
        instrumental colour, in r and b).
    floor : float
        Error added in quadrature to every star's (mag): catalog errors, flat-field residuals.
    clip_sigma : float
        Residuals beyond this many robust sigmas are clipped.
    max_iter : int
        Most clipping iterations.
    min_delta_bic : float
        The colour term is kept when it lowers the BIC by more than this.
    min_stars : int
        Fewest stars a fit may use.
    bad_flags : int
        Stars with any of these :class:`~.flags.SourceFlag` bits are left out.

    Returns
    -------
    ZeroPoint
        The fit.

    Raises
    ------
    ZeroPointError
        With a message naming the image and the colour: bad exposure time, unknown colour
        column, or fewer than ``min_stars`` usable or kept stars.
    """
    image_id = image_id if image_id is not None else table.meta.get("image_id")
    if airmass is None and table.meta.get("airmass") is not None:
        airmass = float(table.meta["airmass"])
    _check_exptime(exptime, image_id)
    if colour not in _COLOURS:
        raise ZeroPointError(f"image {image_id or '?'}: unknown colour {colour!r}, not r, g or b")
    needed = {colour, "r", "b"} if colour_index == INSTRUMENTAL_COLOUR else {colour}
    mags = {c: _magnitudes(table, c, exptime) for c in needed}
    x = star_colours(table, colour_index)
    m_inst = mags[colour][0]
    var_m, var_x, cov_mx = _colour_errors(mags, colour, colour_index)
    vmag = _values(table, "vmag")
    flags = np.asarray(table["flags"], dtype=np.int64)
    snr_limit = MAG_PER_RELATIVE_FLUX / min_snr
    with np.errstate(invalid="ignore"):
        usable = ((flags & bad_flags) == 0) & np.isfinite(vmag) & np.isfinite(m_inst)
        usable &= np.isfinite(x) & np.all([mags[c][1] <= snr_limit for c in needed], axis=0)
    n_usable = int(usable.sum())
    where = f"image {image_id or '?'}, colour {colour}"
    if n_usable < min_stars:
        raise ZeroPointError(
            f"{where}: {n_usable} usable stars (unflagged, S/N >= {min_snr:g}, catalog V and "
            f"colour {colour_index!r} known), need {min_stars}: the frame may be cloudy, "
            "blurred or badly solved; check its photometry or lower min_snr"
        )
    y = (vmag - m_inst)[usable]
    x, var_m, var_x, cov_mx = x[usable], var_m[usable], var_x[usable], cov_mx[usable]
    design = np.column_stack([np.ones(y.size), x])

    def variance(slope: float) -> np.ndarray:
        # residual y - slope * x: noise -dm - slope * dx
        return var_m + slope**2 * var_x + 2 * slope * cov_mx + floor**2

    keep = np.ones(y.size, dtype=bool)
    slope = 0.0
    for _ in range(max_iter):
        if keep.sum() < min_stars:
            break
        weight = 1.0 / variance(slope)
        beta, _, _ = _weighted_fit(y[keep], design[keep], weight[keep])
        slope = float(beta[1])
        normalised = (y - design @ beta) * np.sqrt(weight)
        scale = 1.4826 * np.median(np.abs(normalised[keep] - np.median(normalised[keep])))
        new = np.abs(normalised) <= clip_sigma * max(scale, 1e-12)
        if np.array_equal(new, keep):
            break
        keep = new
    n = int(keep.sum())
    if n < min_stars:
        raise ZeroPointError(
            f"{where}: {n} of {n_usable} stars left after clipping, need {min_stars}: the "
            "residuals are not one population (blends, a bad catalog match?)"
        )
    weight = 1.0 / variance(slope)
    y_k, design_k, w_k = y[keep], design[keep], weight[keep]
    beta1, cov1, rss1 = _weighted_fit(y_k, design_k, w_k)
    beta0, cov0, rss0 = _weighted_fit(y_k, design_k[:, :1], w_k)
    delta_bic = _bic(rss0, n, 1) - _bic(rss1, n, 2)
    with_colour = delta_bic > min_delta_bic
    beta, cov, rss, p = (beta1, cov1, rss1, 2) if with_colour else (beta0, cov0, rss0, 1)
    cov = cov * max(1.0, rss / max(n - p, 1))
    residual = y_k - design_k[:, :p] @ beta
    return ZeroPoint(
        image_id=None if image_id is None else str(image_id),
        colour=colour,
        zero_point=float(beta[0]),
        zero_point_err=float(np.sqrt(cov[0, 0])),
        colour_term=float(beta[1]) if with_colour else None,
        colour_term_err=float(np.sqrt(cov[1, 1])) if with_colour else None,
        covariance=float(cov[0, 1]) if with_colour else 0.0,
        colour_index=colour_index,
        delta_bic=float(delta_bic),
        n_stars=n,
        n_rejected=n_usable - n,
        rms=float(np.sqrt(np.mean(residual**2))),
        exptime=float(exptime),
        airmass=None if airmass is None else float(airmass),
    )


def fit_zero_points(
    table: Table,
    *,
    exptime: float,
    airmass: float | None = None,
    colours: Sequence[str] = _COLOURS,
    **options: Any,
) -> dict[str, ZeroPoint]:
    """Fit the zero point of one frame in each colour (see :func:`fit_zero_point`).

    Parameters
    ----------
    table : astropy.table.Table
        The frame's sources table.
    exptime : float
        Exposure time (s).
    airmass : float or None
        Airmass of the frame (default ``table.meta``'s).
    colours : sequence of str
        Colours to fit.
    **options
        Keyword arguments of :func:`fit_zero_point` (``colour_index``, ``min_snr``,
        ``floor``, ``clip_sigma``, ``max_iter``, ``min_delta_bic``, ``min_stars``,
        ``bad_flags``, ``image_id``).

    Returns
    -------
    dict
        Colour to :class:`ZeroPoint`; ``{c: zp.to_record()}`` is the image document's value.

    Raises
    ------
    ZeroPointError
        When any colour cannot be fitted (the message names it).
    """
    return {
        c: fit_zero_point(table, c, exptime=exptime, airmass=airmass, **options) for c in colours
    }


def calibrated_magnitudes(table: Table, zero_points: Mapping[str, ZeroPoint]) -> Table:
    """Return the calibrated magnitudes of a frame's stars from its zero points.

    ``mag_c = m_inst + zero_point + colour_term * colour`` (on the catalog's V scale), with
    the colour index each zero point was fitted with.

    Parameters
    ----------
    table : astropy.table.Table
        The frame's sources table (the one the zero points were fitted on, or another
        table of the same frame).
    zero_points : Mapping
        Colour to :class:`ZeroPoint` (:func:`fit_zero_points`).

    Returns
    -------
    astropy.table.Table
        ``picid``, ``vmag`` and per colour ``mag_<c>`` and ``mag_err_<c>`` (mag; the error
        combines the star's noise and the zero point's); NaN where the flux is not
        positive or the colour is unknown.
    """
    out = Table({"picid": np.asarray(table["picid"]), "vmag": _values(table, "vmag")})
    for c, zp in zero_points.items():
        needed = {c, "r", "b"} if zp.colour_index == INSTRUMENTAL_COLOUR else {c}
        mags = {k: _magnitudes(table, k, zp.exptime) for k in needed}
        x = star_colours(table, zp.colour_index)
        if zp.colour_term is None:
            x = np.where(np.isfinite(x), x, 0.0)
        var_m, var_x, cov_mx = _colour_errors(mags, c, zp.colour_index)
        offset, offset_err = zp.offset(x)
        noise = var_m + zp.slope**2 * var_x + 2 * zp.slope * cov_mx
        out[f"mag_{c}"] = mags[c][0] + offset
        out[f"mag_err_{c}"] = np.sqrt(noise + offset_err**2)
        out[f"mag_{c}"].unit = out[f"mag_err_{c}"].unit = "mag"
    out["vmag"].unit = "mag"
    return out


def observation_colour_term(zero_points: Sequence[ZeroPoint]) -> tuple[float, float | None]:
    """Return one colour term for an observation from its frames' zero points in a colour.

    The colour term is a property of the camera's filter, not of the frame: the light
    curves of an observation use one value. It is the inverse-variance weighted mean of the
    frames' colour terms when a majority of the frames kept one, else 0.

    Parameters
    ----------
    zero_points : sequence of ZeroPoint
        One colour's zero points, one per frame, all with the same colour index.

    Returns
    -------
    (float, float or None)
        The colour term (mag per mag) and its error (None when 0 was returned).
    """
    if not zero_points:
        raise ZeroPointError("no zero points to combine")
    indices = {zp.colour_index for zp in zero_points}
    if len(indices) > 1:
        raise ZeroPointError(f"zero points of different colour indices {sorted(indices)}")
    kept = [zp for zp in zero_points if zp.colour_term is not None and zp.colour_term_err]
    if 2 * len(kept) <= len(zero_points):
        return 0.0, None
    terms = np.array([zp.colour_term for zp in kept], dtype=float)
    weights = 1.0 / np.array([zp.colour_term_err for zp in kept], dtype=float) ** 2
    mean = float(np.sum(weights * terms) / np.sum(weights))
    return mean, float(np.sqrt(1.0 / np.sum(weights)))
