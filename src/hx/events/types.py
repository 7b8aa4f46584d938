"""The event types hx publishes (one payload class per type lives in :mod:`hx.events.payloads`)."""

from __future__ import annotations

import enum


class EventType(enum.StrEnum):
    """Every event type hx publishes.  Publishing an unknown type is a programming error."""

    RUNTIME_STARTED = "runtime.started"
    RUNTIME_STEP_FAILED = "runtime.step_failed"
    ANOMALY_DETECTED = "anomaly.detected"
    ANOMALY_RESOLVED = "anomaly.resolved"
    ANOMALY_NO_DATA = "anomaly.no_data"
    ANOMALY_EXPLAINED = "anomaly.explained"
    DEPLOYMENT_REQUESTED = "deployment.requested"
    DEPLOYMENT_DECIDED = "deployment.decided"
    DEPLOYMENT_STEP = "deployment.step"
    DEPLOYMENT_ANALYSIS = "deployment.analysis"
    DEPLOYMENT_AWAITING_APPROVAL = "deployment.awaiting_approval"
    DEPLOYMENT_APPROVED = "deployment.approved"
    DEPLOYMENT_PAUSED = "deployment.paused"
    DEPLOYMENT_RESUMED = "deployment.resumed"
    DEPLOYMENT_PROMOTED = "deployment.promoted"
    DEPLOYMENT_ROLLED_BACK = "deployment.rolled_back"
    DEPLOYMENT_ABORTED = "deployment.aborted"
    DEPLOYMENT_FAILED = "deployment.failed"
    DEPLOYMENT_ROLLBACK_REQUESTED = "deployment.rollback_requested"
    DEPLOYMENT_ROLLBACK_REFUSED = "deployment.rollback_refused"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_CLASSIFIED = "incident.classified"
    INCIDENT_ACTION = "incident.action"
    INCIDENT_ESCALATED = "incident.escalated"
    INCIDENT_RESOLVED = "incident.resolved"
    INCIDENT_PREDICTED = "incident.predicted"
    NOTIFICATION_SENT = "notification.sent"
    NOTIFICATION_FAILED = "notification.failed"
    SCALING_DECIDED = "scaling.decided"
    SCALING_ACTED = "scaling.acted"
    SCALING_ALPHA_CHOSEN = "scaling.alpha_chosen"
    COST_REPORT = "cost.report"
    PLACEMENT_DECIDED = "placement.decided"
    DR_DRILL = "dr.drill"
    MODEL_TRAINED = "model.trained"
    MODEL_PROMOTED = "model.promoted"
    MODEL_RETIRED = "model.retired"
    IMPROVEMENT_CYCLE = "improvement.cycle"
    QUALITY_GATE = "improvement.quality_gate"
    SIM_FAULT_INJECTED = "sim.fault_injected"
    SIM_FAULT_HEALED = "sim.fault_healed"

    @property
    def family(self) -> str:
        """The ``family.*`` filter that selects this type and its siblings.

        >>> EventType.DEPLOYMENT_PROMOTED.family
        'deployment.*'
        """
        return f"{self.value.split('.', 1)[0]}.*"
