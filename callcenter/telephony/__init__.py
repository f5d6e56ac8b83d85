"""Asterisk adapters: the AMI client, the FastAGI server and AMI-to-domain event translation."""
