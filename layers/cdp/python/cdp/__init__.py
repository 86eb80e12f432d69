"""Customer data platform: ingest first-party data, resolve identities, score, segment and activate.

The package is engine- and cloud-agnostic at its core (``cdp.domain``); ``cdp.adapters`` binds it to a local
folder, pyiceberg catalogs and event buses; ``cdp.pipeline`` declares the steps that both the local runner and
the Step Functions state machine execute.
"""

__version__ = "0.1.0"
