"""Export profiles: how the files other systems export become the contract's sources.

The built-in profiles are TOML files beside this module (salesforce, stripe, zendesk,
hubspot); a team adds its own, or changes a built-in's settings, in ``[[profiles]]`` of
pipeline.toml. No Python is needed to add a system.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from pipeline.profiles.model import AccountLookup, ColumnMap, FileSpec, Profile, ProfileError, parse_profile

__all__ = [
    "AccountLookup",
    "ColumnMap",
    "FileSpec",
    "Profile",
    "ProfileError",
    "builtin_names",
    "parse_profile",
    "resolve_profiles",
]


@cache
def _builtin_docs() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            doc = tomllib.loads(entry.read_text(encoding="utf-8"))
            docs[str(doc["name"])] = doc
    return docs


def builtin_names() -> tuple[str, ...]:
    return tuple(_builtin_docs())


def resolve_profiles(
    configured: Sequence[Mapping[str, Any]] = (), origin: str = "pipeline.toml"
) -> tuple[Profile, ...]:
    """The built-in profiles and the configured ones (``[[profiles]]`` of pipeline.toml).

    A configured table with a built-in's name and no ``files`` changes that profile's
    ``settings`` (custom field names, a default currency) or ``folder``; with ``files``
    it replaces the built-in. Any other name adds a profile. Raises ProfileError naming
    the profile and the key when one is not valid."""
    docs: dict[str, tuple[dict[str, Any], str, Mapping[str, Any]]] = {
        name: (dict(doc), "built-in", {}) for name, doc in _builtin_docs().items()
    }
    seen: set[str] = set()
    for i, entry in enumerate(configured):
        if not isinstance(entry, Mapping):
            raise ProfileError(f"{origin}: profiles[{i}] must be a table ([[profiles]] with name, files, ...)")
        name = str(entry.get("name", "")).strip()
        if name in seen:
            raise ProfileError(f"{origin}: the profile {name!r} is configured twice; keep one [[profiles]] table")
        seen.add(name)
        if name in docs and "files" not in entry:
            base, _, _ = docs[name]
            unknown = set(entry) - {"name", "settings", "folder", "description"}
            if unknown:
                raise ProfileError(
                    f"profile {name!r} in {origin}: unknown key(s) {', '.join(sorted(unknown))}; to change a "
                    "built-in profile give settings or folder, or give files to replace it"
                )
            merged = {**base, **{k: v for k, v in entry.items() if k in ("folder", "description")}}
            settings = entry.get("settings", {})
            if not isinstance(settings, Mapping):
                raise ProfileError(f"profile {name!r} in {origin}, settings: must be a table of name = value")
            docs[name] = (merged, f"built-in, settings from {origin}", settings)
        else:
            docs[name] = (dict(entry), origin, {})
    profiles = tuple(parse_profile(doc, where, settings) for doc, where, settings in docs.values())
    folders: dict[str, str] = {}
    for p in profiles:
        if p.folder in folders:
            raise ProfileError(
                f"profile {p.name!r} ({p.origin}), folder: landing/{p.folder}/ is already the folder of "
                f"profile {folders[p.folder]!r}; give each profile its own folder"
            )
        folders[p.folder] = p.name
    return profiles
