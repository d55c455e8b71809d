"""Which extensions exist in the simulated dialplan, matched the way Asterisk matches them.

Asterisk checks the target of an Originate before queuing it (main/manager.c,
``action_originate``: "Check early if the extension exists", ``ast_exists_extension``, else
``Response: Error`` / ``Message: Extension does not exist.``: ami-login-and-actions.txt,
orig-fail-target), and ``ShowDialPlan`` lists what matches (main/pbx.c,
``manager_show_dialplan``). Both need the same notion of "exists", so it lives here.

Pattern syntax (main/pbx.c, ``ext_cmp_pattern`` / ``_extension_match_core``): a leading
``_`` makes a pattern; ``X`` is 0-9, ``Z`` 1-9, ``N`` 2-9, ``[...]`` a set with ranges,
``.`` one or more further characters, ``!`` zero or more; anything else is literal.
Without ``_`` the extension must be equal.

A context the simulator knows (``SimulatorConfig.contexts``) without an entry in
``SimulatorConfig.dialplan`` accepts any extension: the capture peer's contexts dial
whatever number they are given (``customers``, ``discador-out`` with ``Exten:`` the
number in ami-login-and-actions.txt).
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["DEFAULT_DIALPLAN", "expand_variables", "extension_exists", "extension_match",
           "matching_patterns"]

#: Extensions of the contexts whose contents matter to Central. ``discador-out`` is the
#: dialer's context of docs/dialer-engine.md: ``fila`` (answered leg into the campaign
#: queue), ``fim`` (hangup handler) and the numbers (``_+X.``; ``_X.`` for the capture's
#: ``Exten: 5511999990001``), plus ``s``, Asterisk's conventional start extension, which
#: simulator clients use as a neutral target.
DEFAULT_DIALPLAN: dict[str, tuple[str, ...]] = {
    "discador-out": ("fila", "fim", "s", "_X.", "_+X."),
}


@lru_cache(maxsize=512)
def _pattern(pattern: str) -> re.Pattern[str]:
    out, i, body = [], 0, pattern[1:]
    while i < len(body):
        ch = body[i]
        up = ch.upper()
        if up == "X":
            out.append("[0-9]")
        elif up == "Z":
            out.append("[1-9]")
        elif up == "N":
            out.append("[2-9]")
        elif ch == ".":
            out.append(".+")
        elif ch == "!":
            out.append(".*")
        elif ch == "[":
            end = body.find("]", i + 1)
            if end < 0:  # Asterisk treats an unterminated set as a literal "["
                out.append(re.escape(ch))
            else:
                out.append("[" + "".join(re.escape(c) if c != "-" else "-" for c in body[i + 1:end]) + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def extension_match(pattern: str, exten: str) -> bool:
    """Does dialplan extension ``pattern`` match the dialed ``exten``?"""
    if pattern.startswith("_"):
        return _pattern(pattern).match(exten) is not None
    return pattern == exten


def matching_patterns(dialplan: dict[str, tuple[str, ...]], context: str, exten: str) -> list[str]:
    """The extensions of ``context`` that match ``exten`` (``[exten]`` for an open context)."""
    patterns = dialplan.get(context)
    if patterns is None:
        return [exten]
    return [p for p in patterns if extension_match(p, exten)]


def extension_exists(contexts: tuple[str, ...], dialplan: dict[str, tuple[str, ...]],
                     context: str, exten: str) -> bool:
    """``ast_exists_extension`` for the simulated dialplan."""
    if context not in contexts and context not in dialplan:
        return False
    return bool(matching_patterns(dialplan, context, exten))


_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def expand_variables(text: str, variables: dict[str, str]) -> str:
    """``${NAME}`` substitution as the dialplan does it for plain channel variables
    (main/pbx_variables.c: an unset variable expands to the empty string)."""
    return _VARIABLE.sub(lambda m: variables.get(m.group(1), ""), text)
