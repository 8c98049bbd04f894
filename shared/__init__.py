"""Code that both the forwarder and the handler use."""
