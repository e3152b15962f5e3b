"""Differential light curves of one observation, per Bayer colour.

- :mod:`.build_lightcurve`: build-lightcurve (:func:`build_lightcurve`), a processing run.
- :mod:`.triggers`: lightcurve-requests (:func:`request_lightcurve`, :func:`sweep`);
  :mod:`.request`: what a run is asked to do.
- :mod:`.flags`: what people flagged as bad (observations, images, points), left out first.
- :mod:`.frame_quality`: bad frames rejected next.
- :mod:`.stacking`: tables into (frames x stars) arrays; :mod:`.robust_stats`: medians,
  robust sigmas, spikes that are outliers (never a coherent dip); :mod:`.ensemble`:
  comparison ensembles, Broeg weights and cotrending, each star's trend predicted from its
  comparison stars so that a signal only it has passes through
  (:func:`differential_lightcurves`).
- :mod:`.products`: the run's data file, precision statistics and documents.
"""
