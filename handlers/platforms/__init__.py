"""Chat platforms behind the adapter interface (base.py): one module each, listed in registry.py, and what they share."""
