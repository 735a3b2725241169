"""flows:host/github-api: the binding (api), the REST client with its retry
policy and repository confinement (client), and App authentication (app)."""
