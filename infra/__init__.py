"""AWS deployment tooling: the Lambda package build and the sample events (the SAM template lives beside it)."""
