"""GraphQL at /axon/v1/graphql: schema (SDL), resolvers over the services, limits,
execution kept off the event loop when large, and graphql-transport-ws subscriptions."""
