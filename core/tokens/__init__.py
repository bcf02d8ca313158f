"""Personal access tokens: how a program (a script, an integration, the HTTP API's clients) acts as a user."""
