"""Transport only: REST handlers, GraphQL and WebSocket endpoints over the services.

Nothing here decides a rule; it parses, calls a service, and writes the answer.
"""
