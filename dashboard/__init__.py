"""The analyst research dashboard: pages (views, urls), reads, Plotly figures and its JSON API.

It sits on top: it reads recsys and recourse and runs the engine on in-memory copies; nothing imports it.
"""
