"""Numerical core of HikmaX: sequences, sequential recommenders, training, evaluation.

Imports no Django. See CONTRACT.md for the interface shared with recourse/engine.
"""
