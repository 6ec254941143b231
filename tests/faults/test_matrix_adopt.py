"""Fault matrix, adopt: every AWS call it makes x every fault kind.

After each fault the proxy is healed and recovery runs; then AWS and the
records must not disagree (see checker.py); drift made outside the portal beforehand may remain
if the
operation failed, but nothing new may appear.
"""

from __future__ import annotations

import pytest

from .proxy import MATRIX_KINDS, FaultKind
from .scenarios import SCENARIOS, run_cell

pytestmark = pytest.mark.django_db
SCENARIO = SCENARIOS["adopt"]


@pytest.mark.parametrize("kind", MATRIX_KINDS, ids=str)
@pytest.mark.parametrize("call", SCENARIO.calls)
def test_adopt_leaves_aws_and_records_agreeing(fault_world, call: str, kind: FaultKind) -> None:  # type: ignore[no-untyped-def]
    cell = run_cell(fault_world, SCENARIO, call, kind)
    assert cell.fired, f"the operation never made {call}: {fault_world.proxy.calls()}"
    assert cell.new == [], cell.report()
