"""Rendering: everything trailguard says, as text. ``text`` keeps untrusted strings harmless, ``fix`` turns
calls into commands and infrastructure-as-code hints, ``slack`` and ``email`` render alerts, ``audit`` the
command line's table and JSON. Pure functions; nothing here sends or reads anything."""
