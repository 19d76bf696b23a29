"""Spatial core: admin hierarchy and geography, CRS, boundaries, display geometries, rasters."""
