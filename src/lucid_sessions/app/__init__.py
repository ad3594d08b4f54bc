"""The application layer: the use cases (`app.usecases`, one module per capability) and what
they share: the blob codec, per-session locks and cross-replica claims, the cached session
repository, the background finalization and periodic work, and the offline audits of a
manifest and of the session log. It imports only the domain, the standard library and anyio.
Settings, the composition root, the app factory and the CLI's entry point live in
`bootstrap`; the CLI's parser and commands in `adapters.cli`."""
