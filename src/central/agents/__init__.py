"""Agents: who sits behind a queue interface (identity), pause codes, queue login/logout
and pauses through the PBX link, and the supervisor's real-time agents table."""
