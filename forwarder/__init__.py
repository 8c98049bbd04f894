"""The public webhook endpoint: verifies Meta's payloads and hands them durably to the handler."""
