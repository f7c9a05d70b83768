"""SQLAlchemy 2 models, one module per aggregate. Importing this package registers every table on Base."""
from mobilize.db import Base
from mobilize.models.accounts import ApiToken, User, UserRole
from mobilize.models.audit import AuditEvent
from mobilize.models.orders import (
    ACTIVE_ASSIGNMENT,
    Assignment,
    AssignmentStatus,
    Demand,
    Invitation,
    InvitationStatus,
    Order,
    OrderState,
    PeacetimePolicy,
    Response,
)
from mobilize.models.messaging import InboundMessage, OutboundMessage, OutboundStatus, Priority
from mobilize.models.roster import (
    LIVE_SIGNUP,
    PLACE_HOLDING,
    GapReport,
    Post,
    RosterHoliday,
    ServiceKind,
    ServiceRecord,
    ServiceStatus,
    Shift,
    ShiftPattern,
    ShiftSignup,
    ShiftStatus,
    ShiftSwap,
    SignupStatus,
    SwapStatus,
)
from mobilize.models.registry import (
    Community,
    Role,
    Site,
    SiteKind,
    SiteRole,
    Skill,
    Street,
    Team,
    Volunteer,
    volunteer_skills,
    volunteer_teams,
)

__all__ = [
    "ACTIVE_ASSIGNMENT", "Assignment", "AssignmentStatus", "Demand", "Invitation", "InvitationStatus", "Order",
    "OrderState", "PeacetimePolicy", "Response",
    "ApiToken", "AuditEvent", "Base", "Community", "InboundMessage", "OutboundMessage", "OutboundStatus", "Priority", "Role", "Site", "SiteKind", "SiteRole", "Skill", "Street",
    "Team", "User", "UserRole", "Volunteer", "volunteer_skills", "volunteer_teams",
    "LIVE_SIGNUP", "PLACE_HOLDING", "GapReport", "Post", "RosterHoliday", "ServiceKind", "ServiceRecord",
    "ServiceStatus", "Shift", "ShiftPattern", "ShiftSignup", "ShiftStatus", "ShiftSwap", "SignupStatus", "SwapStatus",
]
from mobilize.models.outreach import DialogueStep, Notice, NoticeState, OpenCallDialogue  # noqa: E402,F401
