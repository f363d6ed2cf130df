"""Complaints inbox: placeholder until the eservices `Feedback` model lands."""

from __future__ import annotations


def available() -> bool:
    try:
        from ropsms.eservices.models import Feedback  # noqa: F401
    except ImportError:
        return False
    return True


def inbox(request, pu):  # replaced when Feedback exists
    raise NotImplementedError
