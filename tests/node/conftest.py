"""The gateway in front of three fake upstreams, as the ``gateway`` fixture."""

from tests.fidelity.gateway import gateway

__all__ = ["gateway"]
