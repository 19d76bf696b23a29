"""Feeds in → validated, pseudonymised, geocoded, loaded and published (nothing synthetic)."""
