"""Code that both Lambdas (the forwarder and the handler) use, and nothing else: the webhook's
and the hand-off's formats, signatures, errors, logging, environment readers."""

SERVICE_VERSION = "1.0.0"
