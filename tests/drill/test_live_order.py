"""The live drill's "outbox drained": messages due and not handed to the gateway; a roster notice held until the
morning (quiet hours, `not_before`) is not due, so a drill run at night can see its outbox drained."""
from __future__ import annotations

from datetime import timedelta

from mobilize.drill.live_order import pending_outbound
from mobilize.models import OutboundStatus
from mobilize.models._types import utcnow
from mobilize.sms import outbox
from mobilize.sms.outbox import Priority


def test_only_messages_due_count_as_waiting_for_the_gateway(runtime):
    with runtime.transaction() as session:
        due, morning, sent = (outbox.queue_message(session, body=f"text {n}", kind="shift_backfill",
                                                   priority=Priority.bulk, to_phone=f"+8613900000{n:03d}")
                              for n in range(3))
        morning.not_before = utcnow() + timedelta(hours=8)
        sent.status = OutboundStatus.sent
    assert pending_outbound(runtime) == 1
    with runtime.transaction() as session:
        session.get(type(due), due.id).not_before = utcnow() - timedelta(seconds=1)  # held, now due again
    assert pending_outbound(runtime) == 1
