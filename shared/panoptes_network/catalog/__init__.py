"""Star catalogs and the field lookup.

- :mod:`.field_lookup`: lookup-field (:func:`lookup_field`), with
  :mod:`.coordinate_parser`, :mod:`.target_names`, :mod:`.picid_lookup` and
  :mod:`.sesame_resolver`.
- :mod:`.star_catalog`: the :class:`Catalog` interface (cone and footprint searches).
- :mod:`.local_file`: the local Parquet catalog with its spatial index.
- :mod:`.tycho2_index`, :mod:`.tic_import`: building one from Tycho-2 or the TIC.
"""
