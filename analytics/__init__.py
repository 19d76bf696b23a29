"""Derived analytics: benefit lists, warnings, supervision and rollups, per month."""
