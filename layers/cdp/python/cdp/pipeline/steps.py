"""The pipeline's steps, in order. The local runner iterates this list; the CDK stack chains one state per step."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]


STEPS: tuple[Step, ...] = (
    Step("resolve", "Link records into persons on deterministic keys; keep profile ids stable.",
         ("records", "identities"), ("identities",)),
    Step("merge", "Build one golden profile per person with the survivorship rules.",
         ("records", "identities"), ("profiles",)),
    Step("features", "Compute behavioural features per profile as of the run date.",
         ("profiles", "identities", "orders", "events"), ("features",)),
    Step("segments", "Evaluate segment rules and record who entered or left each segment.",
         ("profiles", "features", "segment_memberships"), ("segment_memberships",)),
    Step("activate", "Emit a Segment Membership Changed event per change, only on consented channels.",
         ("profiles", "segment_memberships"), ("activations",)),
)

STEP_NAMES: tuple[str, ...] = tuple(step.name for step in STEPS)
