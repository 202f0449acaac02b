"""Backend-neutral storage of JSON documents (providers, gateway keys)."""
