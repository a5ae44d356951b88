"""Deployment and local-emulation code for the triage platform."""
