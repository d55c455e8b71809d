"""JWT refresh-token families: reusing a rotated refresh token revokes the whole family.

Each sign-in starts a *family* (the ``fam`` claim, copied into every refresh token rotated
from it and into their access tokens). Rotation blacklists the presented refresh token.
A blacklisted refresh token presented again means two parties hold the family, the thief
and the user, and we cannot tell which one is which (OAuth 2.0 Security BCP, refresh token
rotation): every refresh token of the family is blacklisted and its access tokens stop
working (a cache mark checked by :class:`FamilyJWTAuthentication` for the access token
lifetime). Other sign-ins of the same user (other families) are untouched.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenBackendError, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

FAMILY_CLAIM = "fam"


def _revoked_key(family: str) -> str:
    return f"jwt:revoked-family:{family}"


def _decode(raw: str, *, verify: bool) -> dict | None:
    try:
        return token_backend.decode(raw, verify=verify)
    except TokenBackendError:
        return None


def revoke_family(user_id, family: str | None) -> int:
    """Blacklist every live refresh token of ``family`` (all of the user's when the token
    predates families) and stop the family's access tokens. Returns how many were revoked."""
    revoked = 0
    live = OutstandingToken.objects.filter(user_id=user_id, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    for outstanding in live:
        payload = _decode(outstanding.token, verify=False) or {}
        if family is None or payload.get(FAMILY_CLAIM) == family:
            _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
            revoked += int(created)
    if family is not None:
        lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
        cache.set(_revoked_key(family), 1, timeout=int(lifetime) + 60)
    return revoked


class FamilyTokenObtainPairSerializer(TokenObtainPairSerializer):
    """Sign-in: a new refresh token starts a new family."""

    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        token[FAMILY_CLAIM] = uuid.uuid4().hex
        return token


class ReuseDetectingRefreshSerializer(TokenRefreshSerializer):
    """Rotation that treats a replayed (already rotated or logged-out) refresh token as theft."""

    def validate(self, attrs):
        payload = _decode(attrs["refresh"], verify=True)
        if payload is None or payload.get(api_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
            return super().validate(attrs)  # raises the library's own error
        jti = payload.get(api_settings.JTI_CLAIM)
        with transaction.atomic():
            # Lock the token's row: two concurrent refreshes of one token are serialized, so
            # the second one sees the first one's blacklist entry and counts as a reuse.
            outstanding = OutstandingToken.objects.select_for_update().filter(jti=jti).first()
            reused = outstanding is not None and BlacklistedToken.objects.filter(token=outstanding).exists()
            if not reused:
                return super().validate(attrs)
        user_id = payload.get(api_settings.USER_ID_CLAIM)
        family = payload.get(FAMILY_CLAIM)
        count = revoke_family(user_id, family)
        from django.contrib.auth import get_user_model

        from . import audit

        audit.record("auth.refresh_reuse", request=self.context.get("request"),
                     actor=get_user_model().objects.filter(pk=user_id).first(), revoked=count)
        raise TokenError("Token is blacklisted")


class FamilyJWTAuthentication(JWTAuthentication):
    """Access tokens of a revoked family stop working before they expire."""

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        family = token.get(FAMILY_CLAIM)
        if family and cache.get(_revoked_key(family)):
            raise InvalidToken({"detail": "Token family revoked", "code": "token_not_valid"})
        return token


class FamilyJWTScheme(SimpleJWTScheme):
    """The OpenAPI schema documents it as the usual bearer JWT."""

    target_class = "central.core.tokens.FamilyJWTAuthentication"
