"""HTTP layer: app factory, middleware, thin handlers. Handlers call services, never SQL."""
