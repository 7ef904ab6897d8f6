"""Account roles. Staff (admin, therapist) are enrolled by an admin; family by a therapist."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    ADMIN = "admin"  # installs and runs the service, enrolls therapists; no booklet access
    THERAPIST = "therapist"  # creates booklets, invites family, posts and schedules
    GUARDIAN = "guardian"  # a parent or guardian: member of their child's booklet
    CAREGIVER = "caregiver"  # another close adult (daycare, school), time-limited membership


# The roles a booklet member can have: an admin is never a member of any booklet.
MEMBER_ROLES = frozenset({Role.THERAPIST, Role.GUARDIAN, Role.CAREGIVER})
