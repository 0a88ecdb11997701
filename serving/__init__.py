"""The BentoML service: endpoints, auth and audit middleware, model fleet and the page."""
