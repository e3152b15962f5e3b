"""What every step of the chain uses; it imports no stage.

- :mod:`.context`: :class:`ChainContext` (settings, store, bus, documents, clock), the
  :class:`StoredObject` a message names, the :class:`StepResult` a step returns.
- :mod:`.storage`: :func:`write_verified` (size and MD5 checked) and :func:`quarantine`.
- :mod:`.commit`: :func:`commit_with_retry`, read-plan-commit of document writes.
- :mod:`.ports`: the interfaces to the outside world (objects, messages, documents).
- :mod:`.settings`: :class:`Settings`, the only reader of ``PANOPTES_*`` variables.
- :mod:`.errors`: permanent failures, bad input, :class:`NotFound`.
- :mod:`.schema`: collection names, statuses and content types.
- :mod:`.log`: structured log lines. :mod:`.timing`: :class:`StageTimer`.
"""
