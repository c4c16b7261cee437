"""Analysis of run folders, from files alone: the paper's tables and figures.

``run_folder`` (reading a run), ``metrics_csv`` (its metrics.csv), ``chains`` (resumed
runs joined, partial runs refused), ``grouping`` (groups by experiment, loss and variant;
mixed configs refused), ``curves`` and ``run_metrics`` (what a run contributes),
``statistics`` (mean ± CI, paired / Welch t-tests), ``summary`` and ``tables`` (the
tables), ``collect`` (all of it from a folder), ``curve_bands``, ``figures_*``,
``figure_files`` and ``figure_set`` (the figures).
"""
