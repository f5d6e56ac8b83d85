"""12345 government-service hotline call-center engine."""

__version__ = "0.1.0"
