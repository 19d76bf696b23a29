"""Spatial data core: settings, database, migrations, admin hierarchy, geography."""
