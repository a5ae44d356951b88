"""Shared domain code of the triage platform, shipped as one Lambda layer."""
