"""One module per study: a config in, a run in the store out, and a command line.

Every study is reachable from the command line (``python -m models.studies.<name>``)
and from the dashboard through the same ``run_*`` function.
"""
