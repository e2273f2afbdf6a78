"""Training and evaluation engine (imports torch; load lazily)."""
