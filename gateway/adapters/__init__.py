"""Wire-format adapters: one module per upstream API family behind one interface."""
