"""The theoretical noise of aperture photometry on a PANOPTES frame (the CCD equation).

The simulator's detector model (:mod:`panoptes_network.simulation.render`) makes each pixel
the sum of Poisson electrons (star, sky, dark current), Gaussian read noise and the rounding
to whole ADU. A background-subtracted aperture sum over ``npix`` pixels, with the background
estimated from ``n_sky_pix`` independent sky pixels, then has the variance (all in e-)::

    sigma^2 = F + npix * (S + RN^2 + G^2 / 12) * (1 + npix / n_sky_pix)

with ``F`` the source electrons in the aperture, ``S`` the sky electrons per pixel, ``RN`` the
read noise and ``G^2 / 12`` the quantisation variance for a gain ``G`` (e-/ADU). The factor
``(1 + npix / n_sky_pix)`` is the error of the background estimate (dropped when ``n_sky_pix``
is ``None``: a perfectly known background). A magnitude error follows from
``sigma_mag = 2.5 / ln(10) * sigma_F / F ~= 1.0857 * sigma_F / F``.

Per-frame photometry (:mod:`.frame_photometry`) fills its ``flux_err_*`` columns with
:func:`theoretical_flux_error`; light-curve building and its acceptance test use the same
functions, so measured scatter can be compared with this expectation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["MAG_PER_RELATIVE_FLUX", "theoretical_flux_error", "theoretical_mag_error"]

#: ``2.5 / ln(10)``: magnitudes per unit relative flux error (``sigma_mag = this * sigma/F``).
MAG_PER_RELATIVE_FLUX: float = 2.5 / np.log(10.0)


def theoretical_flux_error(
    flux_e: ArrayLike,
    sky_e_per_pix: ArrayLike,
    npix: ArrayLike,
    read_noise_e: ArrayLike,
    n_sky_pix: ArrayLike | None = None,
    *,
    gain_e_per_adu: ArrayLike = 0.0,
) -> np.ndarray:
    """Return the expected 1-sigma error of a background-subtracted aperture flux.

    Parameters
    ----------
    flux_e : array_like
        Source electrons in the aperture (e-). Negative values (noise on a faint source)
        contribute no shot noise.
    sky_e_per_pix : array_like
        Sky (background) electrons per pixel (e- / pixel), above the bias. Negative values
        are treated as 0.
    npix : array_like
        Number of pixels in the aperture (pixels; may be fractional for partial pixels).
    read_noise_e : array_like
        Read noise per pixel (e- rms).
    n_sky_pix : array_like or None, optional
        Number of independent pixels the background was estimated from (pixels). ``None``
        means a perfectly known background (no estimate error).
    gain_e_per_adu : array_like, optional
        Gain (e- / ADU); adds the quantisation variance ``gain**2 / 12`` (e-^2) per pixel.
        The default 0 leaves it out.

    Returns
    -------
    numpy.ndarray
        The flux error (e-), broadcast over the inputs.
    """
    flux = np.clip(np.asarray(flux_e, dtype=float), 0.0, None)
    sky = np.clip(np.asarray(sky_e_per_pix, dtype=float), 0.0, None)
    npix = np.asarray(npix, dtype=float)
    gain = np.asarray(gain_e_per_adu, dtype=float)
    per_pixel = sky + np.asarray(read_noise_e, dtype=float) ** 2 + gain**2 / 12.0
    estimate = 1.0
    if n_sky_pix is not None:
        n_sky = np.asarray(n_sky_pix, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            estimate = np.where(n_sky > 0, 1.0 + npix / n_sky, np.inf)
    return np.sqrt(flux + npix * per_pixel * estimate)


def theoretical_mag_error(
    flux_e: ArrayLike,
    sky_e_per_pix: ArrayLike,
    npix: ArrayLike,
    read_noise_e: ArrayLike,
    n_sky_pix: ArrayLike | None = None,
    *,
    gain_e_per_adu: ArrayLike = 0.0,
) -> np.ndarray:
    """Return the expected 1-sigma magnitude error, ``1.0857 * sigma_F / F``.

    Parameters
    ----------
    flux_e, sky_e_per_pix, npix, read_noise_e, n_sky_pix, gain_e_per_adu
        As for :func:`theoretical_flux_error` (e-, e- / pixel, pixels, e-, pixels, e- / ADU).

    Returns
    -------
    numpy.ndarray
        The magnitude error (mag); ``inf`` where the flux is not positive.
    """
    flux = np.asarray(flux_e, dtype=float)
    sigma = theoretical_flux_error(
        flux, sky_e_per_pix, npix, read_noise_e, n_sky_pix, gain_e_per_adu=gain_e_per_adu
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, MAG_PER_RELATIVE_FLUX * sigma / flux, np.inf)
