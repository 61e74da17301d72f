"""What ``logpipe tenants purge`` counts and says, the same on both stacks (issue 16: erasure).

The steps, in this order on both stacks (``adapters/sqlite/purge.py``, ``adapters/aws/purge.py``):

1. revoke the tenant's keys and mark the purge on the tenant (so ``tenants list`` shows it, and an
   interrupted purge is visible until it is run again);
2. delete the tenant's messages from the queue and the DLQ (a message is one tenant's: its envelope says
   which, ``core/envelope.py``), so no worker stores them after step 3;
3. delete every stored record of the tenant, in small batches, reporting progress;
4. clear the mark.

Every step deletes only what is still there, so running the purge again after a crash finishes the job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from logpipe_backend.core.envelope import expand

# (what, how many more) after each batch: "records", "queued", "dead". The CLI draws its progress bar.
Progress = Callable[[str, int], None]


def no_progress(kind: str, count: int) -> None:
    """A :data:`Progress` that shows nothing."""


class UnknownTenant(Exception):
    """Nothing to purge: no such tenant, and no record stored under that id (a typo, most likely)."""


@dataclass
class PurgeCounts:
    records: int = 0
    queued: int = 0  # messages of the tenant in the queue
    dead: int = 0  # ... and in the DLQ

    def summary(self, tenant_id: str, *, dry_run: bool) -> str:
        verb = "would delete" if dry_run else "purged"
        keys = "its keys would be revoked" if dry_run else "keys revoked"
        return (
            f"{tenant_id}: {verb} {self.records} record(s), {self.queued} queued message(s),"
            f" {self.dead} dead letter(s); {keys}"
        )


def tenant_of(body: str) -> str | None:
    """The tenant of a queue message body (v1 or compressed v2 envelope); None when it is not one."""
    try:
        data = json.loads(expand(body))
    except (ValueError, TypeError):
        return None
    tenant = data.get("tenant_id") if isinstance(data, dict) else None
    return tenant if isinstance(tenant, str) else None
