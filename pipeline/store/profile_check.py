"""What each export profile would read in a folder, before any run (``pipeline profiles check``).

For every profile and each of its file kinds: the files it recognises, the header each
contract column would be read from, the required headers missing (the file would fail
its load) and the headers nothing reads. It uses the same discovery, ZIP checks, SQL
check and plan as the load itself, so what it says is what a run does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.exports import EXPORT_ROW, discover_in, read_export
from pipeline.landing import LandingFileError
from pipeline.profiles import FileSpec, Profile
from pipeline.profiles.plan import FilePlan, plan_file
from pipeline.store.expressions import check_profiles
from pipeline.zipsafe import ZipLimits


@dataclass
class FileCheck:
    name: str
    spec: FileSpec
    plan: FilePlan | None = None
    error: str | None = None


@dataclass
class ProfileCheck:
    profile: Profile
    folder: Path | None  # None: the folder has nothing for this profile
    files: list[FileCheck] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # archives refused whole
    unrecognised: list[str] = field(default_factory=list)  # files in its folder no spec reads

    @property
    def ok(self) -> bool:
        return not self.errors and all(f.error is None and f.plan is not None and f.plan.ok for f in self.files)


def _folder_for(root: Path, profile: Profile) -> Path | None:
    if (root / profile.folder).is_dir():
        return root / profile.folder
    if root.name.lower() == profile.folder and root.is_dir():
        return root
    return None


def check_folder(root: Path, profiles: tuple[Profile, ...], limits: ZipLimits) -> list[ProfileCheck]:
    """One ProfileCheck per profile; raises ProfileError when a profile's SQL is not valid.

    ``root`` is a landing folder (with one folder per system) or one system's folder."""
    refs = check_profiles(profiles)
    out: list[ProfileCheck] = []
    for profile in profiles:
        folder = _folder_for(root, profile)
        pc = ProfileCheck(profile, folder)
        out.append(pc)
        if folder is None:
            continue
        seen: set[str] = set()
        for spec in profile.files:
            try:
                found = discover_in(folder, profile, spec, limits)
            except LandingFileError as exc:
                if str(exc) not in pc.errors:
                    pc.errors.append(str(exc))
                continue
            for f in found:
                seen.add(f.path.name)
                check = FileCheck(f.name, spec)
                try:
                    frame = read_export(f, limits)
                    check.plan = plan_file(spec, [c for c in frame.columns if c != EXPORT_ROW], refs)
                except LandingFileError as exc:
                    check.error = str(exc)
                pc.files.append(check)
        pc.unrecognised = sorted(
            p.name
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name not in seen and not pc.errors
        )
    return out
