"""Stoxlify core: every domain of the Stoxlify Core API, free of chat and scheduler concerns."""
