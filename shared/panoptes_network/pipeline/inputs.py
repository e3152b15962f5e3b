"""Every step reads only the buckets it is declared to read.

A message is a request to act on an object. A forged or mistaken one naming another bucket
(the archive, say) must not make a step read, rewrite or delete anything there: the step
acknowledges it, the refusal is logged, and the object is left untouched. The buckets of each
step are :data:`~.settings.STEP_INPUTS`, declared again in each service's
``services/<name>/service.yaml``.
"""

from __future__ import annotations

from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject

__all__ = ["REFUSED", "refuse_foreign_bucket"]

#: The action of a step that refused a message naming a bucket it does not read.
REFUSED = "refused"


def refuse_foreign_bucket(ctx: ChainContext, obj: StoredObject, service: str) -> StepResult | None:
    """Return a refusal when ``obj`` is not in one of ``service``'s input buckets.

    Parameters
    ----------
    ctx : ChainContext
        The chain (its settings name the buckets).
    obj : StoredObject
        The object the message names.
    service : str
        The step's service name (a key of :data:`~.settings.STEP_INPUTS`).

    Returns
    -------
    StepResult or None
        ``refused`` with the reason, or None when the step may go on.
    """
    allowed = ctx.settings.input_buckets(service)
    if obj.bucket in allowed:
        return None
    return StepResult(
        REFUSED,
        {
            "object": obj.uri,
            "why": f"{service} reads only gs://{', gs://'.join(sorted(allowed)) or '(none)'}; "
            "the message was acknowledged and the object left untouched",
        },
    )
