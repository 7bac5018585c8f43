"""Fan-out: a run's per-table work as tasks on an existing distributed engine.

``execution.type`` in ``tidegauge.yml`` picks the engine: ``local`` (this process, the
default) or ``celery``. Engine-neutral parts (chunks, what travels on the wire) live in
:mod:`.chunks` and :mod:`.wire`; each engine has its own module.
"""
