"""Measurements: each module turns a model specification into rows of numbers."""
