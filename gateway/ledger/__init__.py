"""Usage and cost ledger: what each request used and cost, per-key budgets, the request log.

``pricing`` turns token counts into cost from the templates' ``pricing:`` data;
``record`` is one request's entry; ``aggregates`` adds entries up per key,
provider, model and UTC day; ``file`` and ``redis`` keep them (the storage
backend decides which); ``sink`` ships entries as JSON lines; ``service`` ties
them to the request path; ``budget`` refuses keys that spent their budget.
"""
