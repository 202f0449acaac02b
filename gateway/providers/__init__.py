"""Providers: templates, records, the live registry, routing, catalog and health."""
