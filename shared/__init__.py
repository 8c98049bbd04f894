"""Code that both the forwarder and the handler use."""

SERVICE_VERSION = "1.0.0"
