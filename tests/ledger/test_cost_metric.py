"""The cost metric: the ledger keeps each model's series, and follows its label when it changes."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import make_mocked_request

from gateway.adapters.base import StreamUsage
from gateway.keys.principal import Principal
from gateway.ledger.file import FileLedger
from gateway.ledger.pricing import Price, PriceTable
from gateway.ledger.service import Ledger
from gateway.metrics import MAX_UNLISTED_MODELS, Metrics
from gateway.settings import MetricsSettings
from gateway.usage import FACTS, RequestFacts
from tests.fakes.providers import Directory, live_provider

CALLER = Principal(key_id="key_1", name="one", scopes=frozenset({"chat"}))


def cost_lines(metrics: Metrics) -> list[str]:
    metrics.flush()
    text = metrics.exposition().decode()
    return [line for line in text.splitlines() if line.startswith("gateway_cost_usd_total{")]


async def test_a_model_labelled_other_gets_its_own_series_once_listed(tmp_path: Path) -> None:
    metrics = Metrics(MetricsSettings())
    prices = PriceTable({"model-*": Price(input=1.0, output=2.0)})
    directory = Directory([live_provider("p", "http://127.0.0.1:9", prices=prices)])
    store = FileLedger(tmp_path, 10, 60)
    store.load()
    ledger = Ledger(store, directory, metrics)
    for n in range(MAX_UNLISTED_MODELS):  # the provider's own labels for unlisted models run out
        metrics.models.label("p", f"served-{n}", True)

    def charge(prompt: int) -> None:
        request = make_mocked_request("POST", "/v1/chat/completions")
        usage = StreamUsage(prompt_tokens=prompt)
        request[FACTS] = RequestFacts(attempts=1, provider="p", model="model-a", usage=usage)
        ledger.record(request, CALLER, "/v1/chat/completions", 200, 0.01, "req-1")
        ledger.drain()

    charge(1_000_000)  # $1
    assert cost_lines(metrics) == ['gateway_cost_usd_total{model="other",provider="p"} 1.0']
    metrics.models.register("p", ["model-a"])  # the catalog lists it from now on
    charge(2_000_000)  # $2
    assert sorted(cost_lines(metrics)) == [
        'gateway_cost_usd_total{model="model-a",provider="p"} 2.0',
        'gateway_cost_usd_total{model="other",provider="p"} 1.0',
    ]
