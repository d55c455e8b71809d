"""Errors raised by the AMI client.

The codec has exactly one error, :class:`~central.telephony.ami.protocol.ProtocolError`
(bytes that are not AMI). The client adds the errors a caller must tell apart to act
correctly, above all "never sent" (safe to retry) versus "maybe executed" (reconcile,
never retry blindly: an Originate sent twice dials a customer twice).
"""

from __future__ import annotations

from .protocol import ProtocolError

__all__ = [
    "AMIError",
    "ActionNotConfirmed",
    "ActionTimeout",
    "AuthenticationFailed",
    "ClientClosed",
    "NotConnected",
    "OriginateOutcomeUnknown",
    "ProtocolError",
]


class AMIError(Exception):
    """Base class of the client's errors."""


class AuthenticationFailed(AMIError):
    """Asterisk answered the Login with ``Response: Error`` (``ami-login-failure.txt``:
    ``Message: Authentication failed``, then it closes the socket)."""


class NotConnected(AMIError):
    """The action was NOT written to any socket: there is no logged-in connection.
    Safe to retry later."""


class ClientClosed(AMIError):
    """The client was closed by its owner while the action was pending."""


class ActionNotConfirmed(AMIError):
    """The action's bytes were handed to a connection that then dropped before Asterisk
    answered. It may or may not have been executed. The client never re-sends it; the
    caller must reconcile (e.g. look the channel up with ``CoreShowChannels``/``Status``
    by the pre-assigned ChannelId) before deciding anything."""

    def __init__(self, message: str, *, action: str, action_id: str) -> None:
        super().__init__(message)
        self.action = action
        self.action_id = action_id


class OriginateOutcomeUnknown(ActionNotConfirmed):
    """An Originate was accepted (``Originate successfully queued``) or may have been,
    but the ``OriginateResponse`` never arrived (connection lost or timeout). The call
    may be ringing or up right now: reconcile by ``channel_id``."""

    def __init__(
        self, message: str, *, action_id: str, channel_id: str | None, accepted: bool
    ) -> None:
        super().__init__(message, action="Originate", action_id=action_id)
        self.channel_id = channel_id
        self.accepted = accepted


class ActionTimeout(ActionNotConfirmed):
    """No response within the timeout. Like a dropped connection, the action may have
    run; the late response, if any, is ignored."""
