"""Continuous improvement: KPIs and quality gates, and the optimisation cycle that retrains models,
runs them in shadow on live outcomes, promotes the better one and falls back to rules when a model
stops earning its place.
"""
