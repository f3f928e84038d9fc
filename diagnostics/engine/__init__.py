"""Deletion diagnostics (paper 003): influence of a user or an item = eval(full) - eval(without it).

Django-free and fully typed. ``exact`` retrains, ``approximate`` warm-starts, ``influence``
aggregates seeds into influences with their noise, ``pruning`` holds the statistics of the
pruning experiment.
"""
