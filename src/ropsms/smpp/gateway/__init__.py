"""The SMPP gateway (`ropsms gateway`): see engine.py for the shape, session.py for the protocol."""
