"""The demo: a livestream-marketplace warehouse with realistic history and injected incidents.

``tidegauge.demo.warehouse.build_demo_warehouse`` writes an embedded DuckDB file with 60 days
of hourly history (daily and weekly seasonality, growth, Poisson noise) in ``raw`` tables and
dbt-style ``analytics`` views, plus a handful of incidents in the last 30 hours; it returns the
``tidegauge.demo.scenario.Scenario`` that describes them. ``apply_schema_change`` drops a column,
to be called between two monitoring runs.
"""
