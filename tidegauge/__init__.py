"""tidegauge: open-source data observability."""
