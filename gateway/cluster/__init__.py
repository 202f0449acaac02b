"""State shared by several gateway instances through Redis: limits, cache, health."""
