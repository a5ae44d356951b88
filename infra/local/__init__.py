"""Embedded local runner: MongoDB wire server, moto, RIE and the local gateway."""
