"""Modules of the API function that app.py imports (Chalice bundles this package)."""
