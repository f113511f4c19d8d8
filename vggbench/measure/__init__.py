"""Measurements: each module turns a model specification into rows of numbers.

Also here: what a measurement runs on and with (the data set, the hardware, the setups' knobs, the training
rules) and how far this machine's timings can be trusted (noise). A measurement knows nothing of verdicts,
run directories or reports."""
