"""The fake models upstream's fixtures (tests/fakes/providers.py), for this folder's tests."""

from tests.fakes.providers import upstream, upstream_client, upstream_url

__all__ = ["upstream", "upstream_client", "upstream_url"]
