"""Services the command line and the web share, below both: the public JSON shapes of alerts
and incidents (:mod:`.serialise`)."""
