"""How good detection is, measured: pure scorers run by ``bench/`` and checked in ``tests/quality``.

``nab_score`` is the Numenta Anomaly Benchmark's scoring (windows, probation, scaled sigmoid,
threshold sweep, normalization), the yardstick for the anomaly evaluator.
Nothing here imports Django or touches files: callers load the data and pass it in.
"""
