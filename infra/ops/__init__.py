"""Operator tools: MongoDB backup and restore."""
