"""``relight-video batch``: many clips from one job file, surviving failures and kills.

A job file (YAML; paths relative to its folder)::

    defaults: {engine: classical, key: green, background: bg/studio.png}
    jobs:
      - {input: clips/a.mp4, output: out/a.mp4}
      - {input: clips/b.mp4, output: out/b.mp4, background: bg/sunset.png, keyframes: keys/b.yaml}
      - {glob: "clips/day2/*.mp4", output_dir: out/day2}

A run (:func:`run_batch`), step by step:

1. read the job file: every key is checked (an unknown key is an error naming its line) before
   anything runs; paths are resolved, globs expanded, each job's settings merged over ``defaults``,
2. hash each job: its resolved :class:`RunConfig` and the size + mtime of every file it reads,
3. the manifest (JSON lines, ``JOBS.manifest.jsonl``) decides what runs: a job done with the same
   hash whose output exists is skipped; one that failed with the same hash is reported as failed
   again and rerun only with ``retry_failed``; anything else (new, changed, pending, or
   ``running`` left behind by a dead run) runs,
4. run: in this process (one worker), a process pool (``workers``) or as Ray tasks; only this
   process writes the manifest; a job's stale ``.partial-`` outputs are removed before it runs,
5. report: one row per job and an exit code (0: all done, 1: some failed, 130: interrupted,
   143: stopped by SIGTERM).

One job's failure (missing input, corrupt clip, bad settings, a worker killed twice) is recorded
and the others go on. Outputs are written under a hidden name and renamed when complete
(:class:`relight_video.io.VideoWriter`), so a kill never leaves an incomplete file under a final
name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import glob as globlib
import hashlib
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
import typing
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import click

from relight_video import __version__, io
from relight_video.config import RunConfig, from_dict, merge_sections, to_dict
from relight_video.errors import InputError, interrupt_code

BATCH_KEYS = ("input", "output", "glob", "output_dir")  # besides the RunConfig fields
JOB_ONLY_KEYS = ("input", "output", "glob")  # meaningless in ``defaults``
MATTE_KEYS = ("key", "alpha", "matte")  # one way to pull the matte: a job's choice wins
# settings that are paths (relative to the job file); all but output_alpha are read by the job
READ_KEYS = (
    "background",
    "alpha",
    "garbage",
    "matte_model",
    "keyframes",
    "env_map",
    "checkpoint",
    "temporal.flow_weights",
)
PATH_KEYS = (*READ_KEYS, "output_alpha")
WRITABLE_SUFFIXES = (".mp4", ".m4v", ".mkv", ".mov")  # a glob input keeps its name if writable
MAX_ATTEMPTS = 2  # a job whose worker process dies is retried once in a fresh worker


# ----------------------------------------------------------------------------------- jobs


@dataclass
class Job:
    """One clip to harmonize, resolved from the job file (absolute paths)."""

    name: str  # the output path relative to the job file's folder: the manifest key
    line: int  # where the job is written in the job file
    input: Path | None
    output: Path | None
    config: RunConfig | None  # None when the settings are invalid (then ``error`` says why)
    settings: dict[str, Any] = field(default_factory=dict)  # as written, paths resolved
    error: str | None = None  # found before running: bad settings, a glob matching nothing
    hash: str = ""

    def finals(self) -> list[Path]:
        """The final paths this job writes (a PNG pattern's folder, not the pattern)."""
        return [p.parent if "%" in p.name else p for p in self.outputs()]

    def outputs_present(self) -> bool:
        """Whether what this job wrote is still there: the files, or frames in its folders."""
        for p in self.outputs():
            if "%" in p.name:
                made = io._pattern_regex(p.name)
                if not p.parent.is_dir() or not any(made.match(f.name) for f in p.parent.iterdir()):
                    return False
            elif io.is_sequence_path(p):
                if not p.is_dir() or not any(p.glob("*.png")):
                    return False
            elif not p.exists():
                return False
        return True

    def outputs(self) -> list[Path]:
        """The output and the alpha output, as given (a pattern stays a pattern)."""
        outs = [self.output]
        if self.config is not None and self.config.output_alpha:
            outs.append(Path(self.config.output_alpha))
        return [p for p in outs if p is not None]

    def reads(self) -> dict[str, Path]:
        """The files this job's settings name for reading (``READ_KEYS``), by setting."""
        settings = to_dict(self.config) if self.config is not None else self.settings
        reads = {}
        for key in READ_KEYS:
            value = _lookup(settings, key)
            if isinstance(value, str) and value != "self":
                reads[key] = Path(value)
        return reads

    def remove_partials(self) -> None:
        """Delete what a killed run of this job left under hidden temporary names."""
        for final in self.finals():
            for stale in io.stale_partials(final):
                io.remove_path(stale)

    def claims(self) -> list[Path]:
        """What this job's outputs take for themselves: a file, a folder, or in a folder the
        frames of one pattern (``shots/a_%04d.png`` and ``shots/b_%04d.png`` can share
        ``shots/``; the digit count does not tell two patterns apart)."""
        return [
            p.parent / re.sub(r"%0?\d*d", "#", p.name) if "%" in p.name else p
            for p in self.outputs()
        ]

    def record(self, state: str, **fields: Any) -> dict[str, Any]:
        """A manifest record of this job in ``state`` (pending, running, done, failed)."""
        return {
            "job": self.name,
            "state": state,
            "hash": self.hash,
            "line": self.line,
            "input": str(self.input) if self.input else None,
            "output": str(self.output) if self.output else None,
            "error": None,
            **fields,
        }


def load_job_file(path: str | Path) -> list[Job]:
    """Read, check and expand a job file; any problem with the file itself is an
    :class:`InputError` naming its line. Problems of one job's values (a bad engine name, a glob
    that matches nothing) are left in that job's ``error`` so the others still run."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"job file not found: {path}")
    where = _Where(str(path))
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read job file {path}: {e}") from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark else ""
        raise InputError(f"bad YAML in {path}{at}: {getattr(e, 'problem', None) or e}") from None
    finally:
        loader.dispose()
    if root is None:
        raise InputError(f"{path}: empty job file (expected a 'jobs' list)")
    if not isinstance(root, yaml.MappingNode):
        raise where.error(root, "expected a mapping with 'jobs' (and 'defaults') at the top")
    top = _pairs(root, "the job file", where)
    for key, (key_node, _) in top.items():
        if key not in ("defaults", "jobs"):
            raise where.error(key_node, f"unknown top-level key '{key}' (known: defaults, jobs)")
    if "jobs" not in top:
        raise InputError(f"{path}: no 'jobs' list")

    defaults: dict[str, Any] = {}
    if "defaults" in top:
        node = top["defaults"][1]
        if not _is_null(node):
            if not isinstance(node, yaml.MappingNode):
                raise where.error(node, "'defaults' must be a mapping of settings")
            defaults = _settings(loader, node, "defaults", where, forbid=JOB_ONLY_KEYS)

    jobs_node = top["jobs"][1]
    if not isinstance(jobs_node, yaml.SequenceNode) or not jobs_node.value:
        raise where.error(jobs_node, "'jobs' must be a non-empty list of jobs")
    base = path.resolve().parent
    jobs: list[Job] = []
    for index, node in enumerate(jobs_node.value, 1):
        if not isinstance(node, yaml.MappingNode):
            raise where.error(node, f"job {index} must be a mapping (input: ..., output: ...)")
        data = _settings(loader, node, f"job {index}", where)
        jobs += _expand(data, defaults, base, _line(node), index, where)

    _check_unique_outputs(jobs, base, where)
    for job in jobs:
        job.hash = job_hash(job)
    return jobs


class _Where:
    """Formats errors as ``FILE line N: message``."""

    def __init__(self, name: str):
        self.name = name

    def error(self, node: Any, message: str) -> InputError:
        return InputError(f"{self.name} line {_line(node)}: {message}")

    def at(self, line: int, message: str) -> InputError:
        return InputError(f"{self.name} line {line}: {message}")


def _line(node: Any) -> int:
    return node.start_mark.line + 1


def _is_null(node: Any) -> bool:
    return getattr(node, "tag", "") == "tag:yaml.org,2002:null"


def _pairs(node: Any, what: str, where: _Where) -> dict[str, tuple[Any, Any]]:
    """``{key: (key node, value node)}`` of a YAML mapping node; duplicate keys are errors."""
    import yaml

    out: dict[str, tuple[Any, Any]] = {}
    merged: dict[str, tuple[Any, Any]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise where.error(key_node, f"keys in {what} must be names")
        key = key_node.value
        if key_node.tag == "tag:yaml.org,2002:merge":  # ``<<: *common``: YAML merge keys
            sources = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise where.error(source, f"'<<' in {what} must merge mappings")
                for k, pair in _pairs(source, what, where).items():
                    merged.setdefault(k, pair)  # the first source wins, as YAML says
            continue
        if key in out:
            raise where.error(key_node, f"duplicate key '{key}' in {what}")
        out[key] = (key_node, value_node)
    return {**merged, **out}  # the mapping's own keys override merged ones


def _sections() -> dict[str, type]:
    """RunConfig fields that are nested dataclasses (``keying``, ``classical``, ``encode``)."""
    hints = typing.get_type_hints(RunConfig)
    return {name: t for name, t in hints.items() if dataclasses.is_dataclass(t)}


def _settings(
    loader: Any, node: Any, what: str, where: _Where, forbid: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Check the keys of a job (or ``defaults``) mapping node and construct its values."""
    import yaml

    fields = {f.name for f in dataclasses.fields(RunConfig)}
    sections = _sections()
    pairs = _pairs(node, what, where)
    for key, (key_node, value_node) in pairs.items():
        if key in forbid:
            raise where.error(key_node, f"'{key}' belongs in a job, not in {what}")
        if key in BATCH_KEYS:
            continue
        if key not in fields:
            known = ", ".join(sorted(fields | set(BATCH_KEYS)))
            job_at = f" (line {_line(node)})" if what.startswith("job") else ""
            raise where.error(key_node, f"unknown key '{key}' in {what}{job_at} (known: {known})")
        if key in sections and not _is_null(value_node):
            if not isinstance(value_node, yaml.MappingNode):
                raise where.error(value_node, f"'{key}' must be a mapping of settings")
            known_sub = {f.name for f in dataclasses.fields(sections[key])}
            for sub, (sub_node, _) in _pairs(value_node, f"{what} {key}", where).items():
                if sub not in known_sub:
                    raise where.error(
                        sub_node,
                        f"unknown key '{key}.{sub}' in {what} (known: {', '.join(sorted(known_sub))})",
                    )
    try:
        return {key: loader.construct_object(v, deep=True) for key, (_, v) in pairs.items()}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise where.at(mark.line + 1 if mark else _line(node), f"bad value: {e}") from None


def _resolve(base: Path, value: str) -> Path:
    return Path(os.path.normpath(base / Path(value).expanduser()))


def _output_name(input_path: Path) -> str:
    """The output name of a glob-matched clip: its own name when it is a writable type."""
    if input_path.suffix.lower() in WRITABLE_SUFFIXES:
        return input_path.name
    return input_path.stem + ".mp4"


def _expand(
    job: dict[str, Any],
    defaults: dict[str, Any],
    base: Path,
    line: int,
    index: int,
    where: _Where,
) -> list[Job]:
    """One job mapping → its :class:`Job` (or one per file its ``glob`` matches)."""
    data = merge_sections(defaults, job)
    if any(job.get(k) is not None for k in MATTE_KEYS):  # the job's own matte replaces the
        for k in MATTE_KEYS:  # defaults' choice (defaults: key green; this job: alpha masks/)
            if job.get(k) is None:
                data.pop(k, None)
    for key in BATCH_KEYS:
        if data.get(key) is not None and not isinstance(data[key], str):
            raise where.at(line, f"job {index}: '{key}' must be a path, got {data[key]!r}")
    has_input, has_glob = job.get("input") is not None, job.get("glob") is not None
    if has_input == has_glob:
        which = "both" if has_input else "neither"
        raise where.at(line, f"job {index} needs exactly one of 'input' or 'glob' (has {which})")
    if job.get("output") and job.get("output_dir"):
        raise where.at(line, f"job {index}: give 'output' or 'output_dir', not both")
    input_value, pattern = data.pop("input", None), data.pop("glob", None)
    output, output_dir = data.pop("output", None), data.pop("output_dir", None)
    settings = _resolve_paths(data, base)
    try:
        config, error = from_dict(RunConfig, settings).validate(), None
    except InputError as e:
        config, error = None, f"bad settings: {e}"
    common = {"line": line, "config": config, "settings": settings, "error": error}

    if has_input:
        src = _resolve(base, input_value)
        if output:
            dst = _resolve(base, output)
        elif output_dir:
            dst = _resolve(base, output_dir) / _output_name(src)
        else:
            raise where.at(line, f"job {index} needs 'output' (or 'output_dir')")
        return [Job(name=_name(dst, base), input=src, output=dst, **common)]

    if output:
        raise where.at(line, f"job {index}: a glob job writes into 'output_dir', not 'output'")
    if not output_dir:
        raise where.at(line, f"job {index}: a glob job needs 'output_dir'")
    if settings.get("output_alpha"):
        raise where.at(line, f"job {index}: 'output_alpha' names one file; a glob job has many")
    full = pattern if os.path.isabs(pattern) else str(base / pattern)
    out_dir = _resolve(base, output_dir)
    matches = sorted(
        Path(p)
        for p in globlib.glob(full, recursive=True)
        if Path(p).is_file() and not Path(p).resolve().is_relative_to(out_dir.resolve())
    )  # a recursive glob over its own output folder must not take last run's outputs as inputs
    if not matches:
        common["error"] = f"glob {pattern!r} matches no files"
        return [Job(name=f"line {line}: {pattern}", input=None, output=None, **common)]
    return [
        Job(
            name=_name(out_dir / _output_name(m), base),
            input=Path(os.path.normpath(m)),
            output=out_dir / _output_name(m),
            **common,
        )
        for m in matches
    ]


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of job settings with every path setting (``PATH_KEYS``) made absolute."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for dotted in PATH_KEYS:
        *section, key = dotted.split(".")
        node = out.get(section[0]) if section else out
        value = node.get(key) if isinstance(node, dict) else None
        if isinstance(value, str) and not (dotted == "alpha" and value == "self"):
            node[key] = _resolve(base, value).as_posix()
    return out


def _lookup(settings: dict[str, Any], dotted: str) -> Any:
    node: Any = settings
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _name(output: Path, base: Path) -> str:
    return Path(os.path.relpath(output, base)).as_posix()


def _check_unique_outputs(jobs: list[Job], base: Path, where: _Where) -> None:
    """Two jobs writing one file would overwrite each other: an error before anything runs."""
    seen: dict[Path, int] = {}
    for job in jobs:
        for final in job.claims():
            if final in seen:
                raise where.at(
                    job.line,
                    f"{_name(final, base)} is also written by the job on line {seen[final]}",
                )
            seen[final] = job.line


def _fingerprint(path: Path | None) -> Any:
    """Size and mtime of a file (of every file in a folder); ``"missing"`` when absent."""
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return "missing"
    if not path.is_dir():
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    digest = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            s = p.stat()
            digest.update(f"{p.relative_to(path)}\0{s.st_size}\0{s.st_mtime_ns}\n".encode())
    return {"folder": digest.hexdigest()}


def _keyframe_plates(path: Path) -> dict[str, Any]:
    """Fingerprints of the plates a keyframe file names (relative to that file); best effort:
    a file that does not parse is the job's error to report, not the hash's."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    keys = data.get("keys") if isinstance(data, dict) else data
    plates = {}
    for key in keys if isinstance(keys, list) else []:
        for name in ("background", "env_map"):
            if isinstance(key, dict) and isinstance(key.get(name), str):
                plates[key[name]] = _fingerprint(_resolve(path.parent, key[name]))
    return plates


def job_hash(job: Job) -> str:
    """What a job's output depends on: the resolved settings (every RunConfig field, defaults
    included), the output path, the package version, and size + mtime of every file it reads
    (input, background, alpha, keyframes and the plates they name, checkpoint, ...)."""
    settings = to_dict(job.config) if job.config is not None else job.settings
    reads: dict[str, Any] = {}
    for key, path in job.reads().items():
        reads[key] = _fingerprint(path)
        if key == "keyframes":
            reads["keyframe plates"] = _keyframe_plates(path)
    doc = {
        "version": __version__,
        "input": [str(job.input), _fingerprint(job.input)],
        "output": str(job.output),
        "settings": settings,
        "reads": reads,
    }
    blob = json.dumps(doc, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# ------------------------------------------------------------------------------- manifest


class Manifest:
    """Every job's last state, kept as JSON lines: one record appended (and fsync'd) per change,
    the last record of a job wins. Only the process running the batch writes it; a line torn by a
    kill is ignored. Opening it for a run takes a lock (``.NAME.lock``), so two runs never share
    it, and rewrites it with one line per job."""

    def __init__(self, path: Path):
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        self._lock: Any = None
        if path.is_file():
            for text in path.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(text)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("job"), str):
                    self.records[record["job"]] = record

    def open_for_run(self) -> None:
        """Lock (error if another run holds it) and compact."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(ImportError):
            import fcntl

            lock = open(self.path.with_name(f".{self.path.name}.lock"), "a+")  # noqa: SIM115
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                pid = lock.read().strip() or "?"
                lock.close()
                raise InputError(
                    f"another relight-video batch (pid {pid}) is using {self.path}"
                ) from None
            lock.seek(0)
            lock.truncate()
            lock.write(f"{os.getpid()}\n")
            lock.flush()
            self._lock = lock
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        with open(tmp, "w") as f:
            f.writelines(json.dumps(r, default=str) + "\n" for r in self.records.values())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def write(self, record: dict[str, Any]) -> None:
        self.records[record["job"]] = record
        with open(self.path, "a") as f:
            f.write(json.dumps(record, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())


def _check_manifest_path(path: Path, job_file: Path, jobs: list[Job]) -> None:
    """The manifest is appended to and rewritten: it may not be a file the batch reads or
    writes, nor an existing file that is not a manifest."""
    taken = {job_file.resolve(): "the job file"}
    for job in jobs:
        if job.input is not None:
            taken[Path(job.input).resolve()] = f"an input (line {job.line})"
        for out in job.finals():
            taken[out.resolve()] = f"an output (line {job.line})"
        for key, read in job.reads().items():
            taken[read.resolve()] = f"the {key} of line {job.line}"
    if path.resolve() in taken:
        raise InputError(f"--manifest {path} is {taken[path.resolve()]}")
    if path.is_dir():
        raise InputError(f"--manifest {path} is a folder")
    if path.is_file() and path.stat().st_size:
        with open(path, "rb") as f:
            head = f.readline(4096).strip()
        if not head.startswith(b"{"):
            raise InputError(f"--manifest {path} exists and is not a manifest (JSON lines)")


def default_manifest(job_file: str | Path) -> Path:
    """``JOBS.yaml`` → ``JOBS.manifest.jsonl`` beside it."""
    job_file = Path(job_file)
    return job_file.with_name(f"{job_file.stem}.manifest.jsonl")


@dataclass
class Step:
    """What a run does with one job: ``run``, ``skip`` (done, unchanged) or ``fail`` (reported
    failed without running)."""

    job: Job
    action: str
    reason: str


def plan(jobs: list[Job], records: dict[str, dict[str, Any]], retry_failed: bool) -> list[Step]:
    """Decide each job from its manifest record (see the module docstring, step 3)."""
    steps = []
    for job in jobs:
        record = records.get(job.name)
        if job.error:
            steps.append(Step(job, "fail", job.error))
        elif record is None:
            steps.append(Step(job, "run", "new"))
        elif record.get("hash") != job.hash:
            steps.append(Step(job, "run", "inputs or settings changed"))
        elif record.get("state") == "done":
            if job.outputs_present():
                steps.append(Step(job, "skip", "done, unchanged"))
            else:
                steps.append(Step(job, "run", "done, but its output is gone"))
        elif record.get("state") == "failed":
            if retry_failed:
                steps.append(Step(job, "run", "failed before; --retry-failed"))
            else:
                error = record.get("error") or "failed"
                steps.append(Step(job, "fail", f"{error} [unchanged since; --retry-failed reruns]"))
        elif record.get("state") == "running":
            steps.append(Step(job, "run", "was running when a previous run died"))
        else:
            steps.append(Step(job, "run", str(record.get("state", "pending"))))
    return steps


# -------------------------------------------------------------------------------- running


def run_job(job: Job, progress: bool = False) -> dict[str, Any]:
    """Harmonize one job, in whatever process runs it (this one, a pool worker, a Ray worker).

    Never raises for the job's own failure: returns ``{"ok": False, "error": ...}`` instead, and
    on success ``{"ok": True, "frames": ..., "cuts": ..., "stages": ...}``; both with ``seconds``, times, host.
    """
    import socket

    from relight_video.harmonize import harmonize_video

    t0 = time.perf_counter()
    result: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "started": _now()}
    try:
        for out in job.outputs():  # a pattern's frames go into a folder made here
            out.parent.mkdir(parents=True, exist_ok=True)
        job.remove_partials()
        stats = harmonize_video(job.input, None, job.output, config=job.config, progress=progress)
        stages = {k: round(v, 3) for k, v in stats.stages.items()}
        result.update(ok=True, frames=stats.frames, cuts=stats.cuts, stages=stages)
        if stats.empty_frames:  # the summary line says so: a matte that found nothing
            result.update(empty_frames=stats.empty_frames, first_empty=stats.first_empty)
    except Exception as e:  # one job's failure is data for the manifest, not a crash
        result.update(ok=False, error=describe(e))
    result.update(seconds=round(time.perf_counter() - t0, 3), ended=_now())
    return result


def describe(e: BaseException) -> str:
    """One line for the manifest and the summary."""
    text = " ".join(str(e).split())
    if not isinstance(e, (InputError, OSError)):
        text = f"{type(e).__name__}: {text}"
    return text[:500]


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


class Backend(Protocol):
    """Runs jobs somewhere; at most ``capacity`` are submitted and not yet returned by wait."""

    capacity: int

    def submit(self, job: Job) -> None: ...

    def wait(self) -> list[tuple[Job, dict[str, Any]]]: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


class InlineBackend:
    """One job at a time in this process (``--workers 1``), with the clip's own progress bar."""

    capacity = 1

    def __init__(self, progress: bool):
        self.progress = progress
        self.queue: deque[Job] = deque()

    def submit(self, job: Job) -> None:
        self.queue.append(job)

    def wait(self) -> list[tuple[Job, dict[str, Any]]]:
        job = self.queue.popleft()
        return [(job, run_job(job, progress=self.progress))]

    def cancel(self) -> None:
        self.queue.clear()

    def close(self) -> None:
        pass


class PoolBackend:
    """A local process pool (``spawn``) of ``workers`` processes.

    A worker that dies (SIGKILL, out of memory) breaks the pool: its jobs come back as
    ``crashed`` and the next submit starts a fresh pool.
    """

    def __init__(self, workers: int):
        self.capacity = workers
        self._pool: Any = None
        self.futures: dict[Any, tuple[Job, Any]] = {}

    def _executor(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                max_workers=self.capacity,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(os.getpid(), worker_threads(self.capacity)),
            )
        return self._pool

    def submit(self, job: Job) -> None:
        pool = self._executor()
        self.futures[pool.submit(run_job, job)] = (job, pool)

    def wait(self) -> list[tuple[Job, dict[str, Any]]]:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        done, _ = wait(list(self.futures), return_when=FIRST_COMPLETED)
        results = []
        for future in done:
            job, pool = self.futures.pop(future)
            try:
                results.append((job, future.result()))
            except BrokenProcessPool:
                error = "its worker process died (killed, or out of memory)"
                results.append((job, {"ok": False, "crashed": True, "error": error}))
                if pool is self._pool:
                    pool.shutdown(wait=True, cancel_futures=True)
                    self._pool = None
            except (Exception, SystemExit) as e:  # not sent to the worker / stopped by SIGTERM
                crashed = isinstance(e, SystemExit)
                results.append((job, {"ok": False, "crashed": crashed, "error": describe(e)}))
        return results

    def cancel(self) -> None:
        """Stop the running jobs: SIGTERM lets each worker's writer drop its partial output."""
        if self._pool is None:
            return
        for process in list(getattr(self._pool, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self.futures.clear()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def worker_threads(workers: int) -> int:
    """Compute threads per worker process: the machine's cores shared out. Each process's
    PyTorch would otherwise start a thread per core, and OpenMP threads that outnumber the
    cores spin against each other: 4 diffusion jobs took 164 s with 2 workers on 2 cores,
    against 23 s with 1."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _init_worker(parent_pid: int, threads: int) -> None:
    """Pool worker setup: Ctrl-C is the parent's to handle; SIGTERM unwinds (so the writer
    removes its temporary file); the worker exits when the parent is gone (e.g. SIGKILLed);
    compute libraries get ``threads`` threads (read when they load, after this)."""
    import signal

    if "OMP_NUM_THREADS" not in os.environ:  # a user's own setting stands
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(name, str(threads))
        if "torch" in sys.modules:  # spawned workers import it later, but be sure
            sys.modules["torch"].set_num_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(1)  # orphaned: its partial output is removed by the next run


class RayBackend:
    """Each job a Ray task, declaring what it needs (one CPU; one GPU when the job's device is
    CUDA). ``address="local"`` starts a local Ray instance; anything else joins a cluster."""

    def __init__(self, address: str, workers: int | None):
        import logging

        import ray

        self._local = address == "local"
        if not self._local:
            _check_reachable(address)
        # ray.init takes over SIGTERM (it kills the driver outright, leaving jobs "running" and
        # partial files behind); the handler we had (unwind like Ctrl-C) is put back after it
        previous = signal.getsignal(signal.SIGTERM)
        try:
            if address == "local":
                ray.init(
                    num_cpus=workers or os.cpu_count() or 1,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                )
            else:
                ray.init(address=address, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise InputError(f"cannot start or reach Ray at {address!r}: {describe(e)}") from None
        finally:
            if threading.current_thread() is threading.main_thread() and previous is not None:
                signal.signal(signal.SIGTERM, previous)

        @ray.remote(num_cpus=1, num_gpus=0, max_retries=MAX_ATTEMPTS - 1)
        def ray_job(job: Job) -> dict[str, Any]:
            return run_job(job)

        self._ray, self._task = ray, ray_job
        resources = ray.cluster_resources()
        self.gpus = resources.get("GPU", 0)
        self.capacity = workers or max(1, int(resources.get("CPU", 1)))
        self.refs: dict[Any, Job] = {}
        self.ready: list[tuple[Job, dict[str, Any]]] = []

    def submit(self, job: Job) -> None:
        needs_gpu = job.config is not None and job.config.device.startswith("cuda")
        if needs_gpu and self.gpus < 1:
            error = f"device {job.config.device} needs a GPU; the Ray cluster has none"
            self.ready.append((job, {"ok": False, "error": error}))
            return
        task = self._task.options(num_gpus=1) if needs_gpu else self._task
        self.refs[task.remote(job)] = job

    def wait(self) -> list[tuple[Job, dict[str, Any]]]:
        if self.ready:
            out, self.ready = self.ready, []
            return out
        done, _ = self._ray.wait(list(self.refs), num_returns=1)
        results = []
        for ref in done:
            job = self.refs.pop(ref)
            try:
                results.append((job, self._ray.get(ref)))
            except self._ray.exceptions.RayError as e:  # the task's worker or node died
                text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                results.append((job, {"ok": False, "error": f"ray: {text}"}))
        return results

    def cancel(self) -> None:
        # no ray.cancel: cancelling a task as it finishes crashed the driver inside Ray ("Tried
        # to complete task that was not pending", 1 run in 7); close() shuts Ray down, which
        # stops the tasks, and the caller removes their partial files
        self.refs.clear()

    def close(self) -> None:
        # a local Ray's processes (and its workers under them) are this driver's descendants;
        # shutdown only signals them, so wait until they are gone: a worker still writing would
        # otherwise recreate a partial output the caller has just removed
        import psutil

        local = psutil.Process().children(recursive=True) if self._local else []
        self._ray.shutdown()
        psutil.wait_procs(local, timeout=15)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a ``HOST:PORT`` nothing listens on (Ray itself retries for minutes)."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", "ray://...": left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise InputError(f"cannot reach the Ray head at {address}: {e}") from None


def make_backend(workers: int | None, ray_address: str | None, progress: bool) -> Backend:
    if ray_address:
        return RayBackend(ray_address, workers)
    if (workers or 1) == 1:
        return InlineBackend(progress)
    return PoolBackend(workers)


# -------------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    """One row of the summary: ``done``, ``skipped``, ``failed``, ``interrupted``, ``pending``."""

    job: str
    state: str
    seconds: float | None
    detail: str  # the output, or the error


@dataclass
class Report:
    manifest: Path
    steps: list[Step]
    outcomes: list[Outcome] = field(default_factory=list)
    interrupt_code: int = 0  # 130 when stopped by Ctrl-C, 143 by SIGTERM (as for ``run``)
    dry_run: bool = False

    @property
    def interrupted(self) -> bool:
        return self.interrupt_code != 0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return self.interrupt_code
        return 1 if any(o.state == "failed" for o in self.outcomes) else 0


def run_batch(
    job_file: str | Path,
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    manifest: str | Path | None = None,
    retry_failed: bool = False,
    dry_run: bool = False,
    progress: bool = True,
    say: Callable[[str], None] | None = None,
) -> Report:
    """Run (or, with ``dry_run``, plan) a job file; see the module docstring.

    Args:
        job_file: the YAML job file.
        workers: parallel jobs: 1 runs them in this process; N a pool of N processes; with
            ``ray_address``, the most Ray tasks in flight (default: the cluster's CPUs).
        ray_address: ``"local"`` (start Ray here) or a cluster address (``HEAD:6379``, ``auto``).
        manifest: the manifest path (default: ``JOBS.manifest.jsonl`` beside the job file).
        retry_failed: rerun jobs that failed before even when nothing changed.
        dry_run: only plan; nothing is run or written.
        progress: an overall progress bar (plus the clip's own bar with one worker) and a line
            per job.
        say: where per-job lines go (default: stderr, above the progress bar).

    Returns:
        a :class:`Report`; its ``exit_code`` is 0 when every job is done, 1 when any failed.
    """
    from tqdm import tqdm

    # 1. read and check the whole job file (nothing runs on an error)
    jobs = load_job_file(job_file)
    manifest_path = Path(manifest) if manifest else default_manifest(job_file)
    _check_manifest_path(manifest_path, Path(job_file), jobs)
    book = Manifest(manifest_path)

    # 2. decide what runs
    steps = plan(jobs, book.records, retry_failed)
    report = Report(manifest=book.path, steps=steps, dry_run=dry_run)
    if dry_run:
        return report

    book.open_for_run()
    try:
        # 3. remove what a killed run left behind; record what fails without running
        outcomes: dict[str, Outcome] = {}
        for step in steps:
            for final in step.job.finals():
                for stale in io.stale_partials(final):
                    io.remove_path(stale)
            if step.action == "skip":
                outcomes[step.job.name] = Outcome(step.job.name, "skipped", None, _out(step.job))
            elif step.action == "fail":
                if step.job.error:
                    book.write(step.job.record("failed", error=step.job.error, ended=_now()))
                outcomes[step.job.name] = Outcome(step.job.name, "failed", None, step.reason)

        # 4. run the rest, writing the manifest as jobs start and end
        queue = deque(step.job for step in steps if step.action == "run")
        if queue:
            say = say or (lambda text: tqdm.write(text, file=sys.stderr))
            code = _run_jobs(queue, book, outcomes, workers, ray_address, progress, say)
            report.interrupt_code = code
        report.outcomes = [outcomes[s.job.name] for s in steps if s.job.name in outcomes]
    finally:
        book.close()
    return report


def _run_jobs(
    queue: deque[Job],
    book: Manifest,
    outcomes: dict[str, Outcome],
    workers: int | None,
    ray_address: str | None,
    progress: bool,
    say: Callable[[str], None],
) -> int:
    """Run the queued jobs on a backend; returns 0, or the exit code of an interrupt (130
    Ctrl-C, 143 SIGTERM)."""
    from tqdm import tqdm

    run_id = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    total = len(queue)
    attempts: Counter[str] = Counter()
    inflight: dict[str, Job] = {}
    backend: Backend | None = None
    bar = tqdm(total=total, unit="job", desc="batch", disable=not progress, position=0)
    lines = progress and (ray_address is not None or (workers or 1) > 1)  # else: the clip's bar
    try:
        backend = make_backend(workers, ray_address, progress)
        while queue or inflight:
            while queue and len(inflight) < backend.capacity:
                job = queue.popleft()
                attempts[job.name] += 1
                book.write(
                    job.record("running", started=_now(), run=run_id, attempt=attempts[job.name])
                )
                inflight[job.name] = job
                backend.submit(job)
                if lines:
                    say(f"start   {job.name}")
            for job, result in backend.wait():
                del inflight[job.name]
                if result.get("crashed") and attempts[job.name] < MAX_ATTEMPTS:
                    if progress:
                        say(f"retry   {job.name}: {result['error']}")
                    queue.appendleft(job)
                    continue
                state = "done" if result.get("ok") else "failed"
                fields = {k: v for k, v in result.items() if k not in ("ok", "crashed")}
                book.write(job.record(state, run=run_id, attempt=attempts[job.name], **fields))
                detail = _out(job) if state == "done" else result.get("error", "failed")
                if result.get("empty_frames"):  # written, but the matte found nothing there
                    detail += f" (no subject in {result['empty_frames']} frames: matte empty)"
                outcomes[job.name] = Outcome(job.name, state, result.get("seconds"), detail)
                bar.update(1)
                if progress:
                    seconds = result.get("seconds")
                    took = f"{seconds:.1f} s" if seconds is not None else "-"
                    tail = f"{result.get('frames', 0)} frames" if state == "done" else detail
                    say(f"{state:<7} {job.name} ({took}): {tail}")
        return 0
    except KeyboardInterrupt as interrupt:
        if backend is not None:  # stopped first, so no job writes after its partials are gone
            backend.cancel()
            backend.close()
            backend = None
        for job in inflight.values():
            job.remove_partials()  # a worker Ray's shutdown kills cannot clean up after itself
            book.write(job.record("pending", error="interrupted", run=run_id))
            outcomes[job.name] = Outcome(job.name, "interrupted", None, "rerun to finish")
        for job in queue:
            outcomes[job.name] = Outcome(job.name, "pending", None, "not started")
        return interrupt_code(interrupt)
    finally:
        bar.close()
        if backend is not None:
            backend.close()


def _out(job: Job) -> str:
    return _show(job.output)


def _show(path: Path | None) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    if path is None:
        return "-"
    rel = os.path.relpath(path)
    return path.as_posix() if rel.startswith("..") else Path(rel).as_posix()


# ---------------------------------------------------------------------------------- tables


def format_table(rows: list[list[str]], header: list[str]) -> str:
    """A plain text table (the last column is not padded)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]

    def fmt(row: list[str]) -> str:
        cells = [c.ljust(w) for c, w in zip(row, widths)] + [row[-1]]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths) + "  " + "-" * len(header[-1])
    return "\n".join([fmt(header), rule, *map(fmt, rows)])


def summary_table(report: Report) -> str:
    rows = [
        [o.job, o.state, f"{o.seconds:.1f}" if o.seconds is not None else "-", o.detail]
        for o in report.outcomes
    ]
    counts = Counter(o.state for o in report.outcomes)
    tally = ", ".join(f"{n} {state}" for state, n in counts.items())
    return (
        format_table(rows, ["job", "state", "seconds", "output / error"])
        + f"\n{len(report.outcomes)} jobs: {tally}. manifest: {report.manifest}"
    )


def plan_table(report: Report) -> str:
    verbs = {"run": "would run", "skip": "would skip", "fail": "failed"}
    rows = [
        [
            verbs[s.action],
            s.job.name,
            str(s.job.line),
            _show(s.job.input),
            s.reason,
        ]
        for s in report.steps
    ]
    table = format_table(rows, ["action", "job", "line", "input", "why"])
    counts = Counter(s.action for s in report.steps)
    return (
        table + f"\n{len(report.steps)} jobs: {counts['run']} to run, {counts['skip']} to skip, "
        f"{counts['fail']} failed without running. manifest: {report.manifest} (not written)"
    )


# ------------------------------------------------------------------------------------ CLI


@click.command("batch")
@click.argument("job_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-j",
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Jobs at once: 1 (default) in this process, N in a pool of N processes; "
    "with --ray, the most tasks in flight (default: the cluster's CPUs).",
)
@click.option(
    "--ray",
    "ray_address",
    default=None,
    metavar="ADDRESS|local",
    help="Run each job as a Ray task on the cluster at ADDRESS (HEAD:6379), or 'local'.",
)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Manifest file (default: JOBS.manifest.jsonl beside the job file).",
)
@click.option("--retry-failed", is_flag=True, help="Rerun failed jobs even if nothing changed.")
@click.option("--dry-run", is_flag=True, help="Show what would run and what would be skipped.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or per-job lines.")
@click.pass_context
def batch_command(
    ctx: click.Context,
    job_file: Path,
    workers: int | None,
    ray_address: str | None,
    manifest: Path | None,
    retry_failed: bool,
    dry_run: bool,
    quiet: bool,
) -> None:
    """Run every job of JOB_FILE (YAML), skipping those already done; see README, "Batch".

    Exit code: 0 when every job is done, 1 when any failed, 2 for a bad job file.
    """
    if ray_address is not None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise InputError(
                "--ray needs the [ray] extra: pip install 'relight-video[ray]'"
            ) from None
    report = run_batch(
        job_file,
        workers=workers,
        ray_address=ray_address,
        manifest=manifest,
        retry_failed=retry_failed,
        dry_run=dry_run,
        progress=not quiet,
    )
    click.echo(plan_table(report) if dry_run else summary_table(report))
    if report.interrupted:
        click.echo("interrupted: finished jobs are kept; run again to do the rest", err=True)
    ctx.exit(report.exit_code)
