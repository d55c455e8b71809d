"""Speech-to-text, text-to-speech and reply-engine providers behind small interfaces.

Each extension picks its chain per kind in its provider settings JSON; see
:func:`central.voice.providers.registry.build_providers`.
"""
