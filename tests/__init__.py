"""Tests on a real PostGIS and Debian chromium."""
