"""Input sanitization, the SSRF guard for upstream URLs, and log redaction."""
