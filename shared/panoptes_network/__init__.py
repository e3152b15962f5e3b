"""Domain logic of the PANOPTES data network.

One subpackage per stage, each with the module its service calls, over a core every step
shares (imports run one way, checked by ``lint-imports``):

- :mod:`.pipeline`: context, stored objects, results, verified writes, quarantine, ports,
  settings, errors, schema, logging.
- :mod:`.frames`: bucket paths, FITS headers, checksums, compression, camera facts.
- :mod:`.ingest`, :mod:`.raw`, :mod:`.astrometry`, :mod:`.photometry`, :mod:`.catalog`: the
  stages.
- :mod:`.lightcurves`: light curves from the stages' products.
- :mod:`.simulation`: realistic frames and tables with known truth.
- :mod:`.adapters`: the only code that uses cloud clients; :mod:`.cli`: the tools behind
  ``bin/``.
"""

__version__ = "0.1.0"
