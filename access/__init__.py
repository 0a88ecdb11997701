"""Who may use Lantern and what they were given: API keys, the append-only audit log, the
prompts and judgements store, retention and subject access (see ``docs/architecture.md``).

Used by the service (``serving/``) and by the ``lantern`` commands that run with no service.
"""
