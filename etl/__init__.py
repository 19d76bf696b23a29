"""Department feeds → validated, pseudonymised, geocoded, loaded; derived analytics."""
