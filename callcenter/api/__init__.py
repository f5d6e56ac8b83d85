"""HTTP API (FastAPI): one router per noun, authenticated and scoped by role."""
