"""Writes that land after the operation that sent them has ended (beyond the matrix).

The proxy holds every request of one write call until it is healed; the
operation meanwhile gives up on it (its reads find nothing, its re-sends are
held too) and ends. Healing then lands the held writes, recovery runs, and AWS
and the records must still agree. This is issue 11's first finding in its
hardest form: no reading before the write lands can see it, so only a pass
after the fact (recovery, or a sweep of what the portal tagged) can settle it.
"""

from __future__ import annotations

import pytest

from .proxy import FaultKind
from .scenarios import SCENARIOS, run_cell

pytestmark = pytest.mark.django_db

# A CreateRole or PutUserPolicy landing after the rolled-back provision ended is removed
# by recovery's sweep of rolled-back provisions with an unknown outcome
# (grants.services.operations._sweep_late_writes).
CELLS = [
    ("create", "iam:CreateRole"),
    ("create", "iam:AttachRolePolicy"),
    ("create", "iam:PutRolePolicy"),
    ("create", "iam:PutUserPolicy"),
    ("revoke", "iam:DeleteUserPolicy"),
    ("revoke", "iam:DetachRolePolicy"),
    ("revoke", "iam:DeleteRolePolicy"),
    ("revoke", "iam:DeleteRole"),
]


@pytest.mark.parametrize(("scenario", "call"), CELLS, ids=lambda v: str(v))
def test_a_write_landing_after_its_operation_ended_leaves_aws_and_records_agreeing(
    fault_world, scenario: str, call: str
) -> None:  # type: ignore[no-untyped-def]
    cell = run_cell(fault_world, SCENARIOS[scenario], call, FaultKind.LATE_APPLY)
    assert cell.fired, f"the operation never made {call}: {fault_world.proxy.calls()}"
    assert cell.new == [], cell.report()
