"""Detectors: one module per kind of evidence, all pure (numpy and the standard library).

- ``base``: settings (:class:`~tidegauge.core.detectors.base.DetectorSettings`) and the result
  type every detector returns (:class:`~tidegauge.core.detectors.base.Detection`).
- ``seasonal/`` (metric series: ``model``, ``scoring``, ``detector``, ``batch``), ``stream``,
  ``proportion`` (rates of rows), ``freshness``, ``categorical``, ``schema``, ``rules``.
- ``fdr`` (false-discovery control across a run), ``feedback`` (how user feedback changes
  training) and ``backtest`` (replays).

To add a detector: create ``<name>.py`` here with a ``<Name>Detector`` dataclass that takes a
``DetectorSettings`` and whose ``evaluate(...)`` returns ``list[Detection]`` (or one
``Detection``), each carrying ``observed``/``expected``/``lower``/``upper``, a p-value when it
has one (so that ``fdr`` can pool it with the others), a one-sentence ``reason`` and, in
``details["kind"]``, the alert kind it maps to. Test it in
``tests/core/detectors/test_<name>.py``, against bad input as well as good. Keep it free of I/O:
the runner collects the data and the store persists the result.
"""
