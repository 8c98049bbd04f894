"""Thin I/O for the handler: each adapter returns model types and decides nothing."""
