"""Orchestration services: they apply domain decisions to telephony and storage."""
