"""The tenant admin command line."""
