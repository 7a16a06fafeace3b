"""The HTTP side of the app: SSE endpoints and /metrics, served by the Chainlit process."""
