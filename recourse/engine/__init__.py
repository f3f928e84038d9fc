"""Explanation, drift and recourse engine (pure: numpy/TensorFlow, no Django).

Works with any model following recsys/ml/CONTRACT.md. Inputs are plain lists or
arrays (caller interaction order, oldest first); outputs are plain dataclasses
whose positions refer back to the caller's interaction indices.
"""
