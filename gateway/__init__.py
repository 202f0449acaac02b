"""An OpenAI-compatible reverse-proxy gateway for LLM providers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llm-gateway")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"
