"""Services the command line and the web share, below both: the public JSON shapes of alerts
and incidents (:mod:`.serialise`) and what watches a table (:mod:`.table_monitors`)."""
