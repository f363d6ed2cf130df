"""ropsms: an SMS e-government gateway (SMPP transport, pull services, staff messaging, integration API)."""

__version__ = "0.1.0"
