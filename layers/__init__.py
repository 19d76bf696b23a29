"""Thematic map layers: queries, styles, legends and exports (never imports dash)."""
