"""Core: settings, database, cluster, migrations, errors, users, roles, audit."""
