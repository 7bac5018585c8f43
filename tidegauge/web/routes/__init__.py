"""HTTP routes of the tidegauge web app, one module per concern, each exposing a ``router``."""
