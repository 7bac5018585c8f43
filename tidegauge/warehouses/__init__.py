"""Warehouse adapters, one module per engine.

To add an engine: write ``warehouses/<engine>.py`` with ``<Engine>WarehouseConfig``
(a pydantic model with ``type: Literal["<engine>"]``) and ``<Engine>Warehouse(Warehouse)``
setting ``DIALECT`` and the capability flags; then add one line to ``WAREHOUSES`` in
``registry.py``. Third-party packages register under the entry-point group
``tidegauge.warehouses`` instead.
"""
