"""One module per domain of the specification; each route names its operation with the
specification's own summary, so the OpenAPI document and the specification compare mechanically."""
