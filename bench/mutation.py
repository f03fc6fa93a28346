"""``make mutation``: mutation testing of the handler package with mutmut, summed up in bench/MUTATION.md.

``python -m bench.mutation [PYTEST SELECTION ...]`` mutates every module of lambda/cdk_lookoutvision_packaging_handler
and runs, for each mutant, the selected tests that call the mutated function (the Makefile passes the selection:
everything but the tests marked slow and the runtime and deploy suites, the same rule as ``make test-rest``).

mutmut names a mutant after its file's path, and the trampoline in the mutated code checks that name against the
module the function was imported as. Run from the root, the handler's path would name it
``lambda.cdk_lookoutvision_packaging_handler`` while the tests import ``cdk_lookoutvision_packaging_handler``, and no
test would ever be found for a mutant. So mutmut runs in a stage, build/mutation, where the package sits at its import
name; the mutmut configuration is written into the stage's copy of pyproject.toml, since it means nothing at the root.
The tests find the rest of the project through their ROOT, which in mutmut's copy (build/mutation/mutants) is filled
with links to the real root, and ``lambda/cdk_lookoutvision_packaging_handler`` there links to the mutated copy, so
the asset the construct bundles and the sources the tests compare it with are the same files.

What makes it fast enough for two cores (about 4,000 mutants): mutmut forks each mutant's run from a process that has
imported everything, and runs only the tests that call the mutated function, stopping at the first failure. This
module is also a pytest plugin in those runs (``-p bench.mutation``): it puts the quickest tests first, by the times
mutmut recorded, so a killed mutant usually dies in the first few milliseconds instead of after whichever test came
first. Tests marked ``wall_clock`` are left out: they wait out real seconds (read timeouts, the invocation's deadline)
and each calls most of the handler, so every surviving mutant of the handler's main path would wait them out again;
with them the run took hours. A mutant counts as timed out after (its tests' recorded time + 5 s) x 3: the 5 s is what
a run spends beyond its tests' calls (fixtures, a fresh botocore session), and x 3 allows for a shared machine.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "cdk_lookoutvision_packaging_handler"
SOURCE = ROOT / "lambda" / PACKAGE
STAGE = ROOT / "build" / "mutation"
REPORT = ROOT / "bench" / "MUTATION.md"
# The unexplained survivors' diffs: too long to commit, rewritten by every run.
SURVIVORS = STAGE / "survivors.md"
RUN = STAGE / "run.json"  # the whole run's figures and each --again since, for the report
# Never linked into mutmut's copy: what mutmut copies itself, the handler (linked to its mutated copy instead), and
# build/, which holds the stage.
NOT_LINKED = {"lambda", "tests", "pyproject.toml", "build", "mutants", "__pycache__", ".pytest_cache", ".hypothesis"}
CACHES = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", ".hypothesis")


def mutmut_config(selection: list[str]) -> str:
    """The [tool.mutmut] table for the stage, as TOML."""
    settings = {
        "source_paths": [PACKAGE],
        # No cache written into the copy; this module orders each mutant's tests.
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-p", "bench.mutation"],
        "pytest_add_cli_args_test_selection": selection,
        "timeout_constant": 5.0,
        "timeout_multiplier": 3.0,
        # The stage is rebuilt for every run, so there is nothing for git to tell about changed files.
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def stage(selection: list[str]) -> None:
    """Lay out build/mutation from scratch: the package at its import name, the tests, and links for the rest."""
    shutil.rmtree(STAGE, ignore_errors=True)
    STAGE.mkdir(parents=True)
    shutil.copytree(SOURCE, STAGE / PACKAGE, ignore=CACHES)
    shutil.copytree(ROOT / "tests", STAGE / "tests", ignore=CACHES)
    (STAGE / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + mutmut_config(selection))
    copy = STAGE / "mutants"
    (copy / "lambda").mkdir(parents=True)
    (copy / "lambda" / PACKAGE).symlink_to(Path("..") / PACKAGE)
    for entry in sorted(ROOT.iterdir()):
        if entry.name not in NOT_LINKED:
            (copy / entry.name).symlink_to(entry)


_durations: dict[str, float] | None = None


def builds_cdk_apps(item: pytest.Item) -> bool:
    """Whether the test's module imports aws_cdk: the construct's tests, which synthesize apps."""
    module = getattr(item, "module", None)
    imported = vars(module).values() if module else ()
    return any(isinstance(value, ModuleType) and value.__name__.split(".")[0] == "aws_cdk" for value in imported)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the construct's tests; the rest quickest first, by the call times of mutmut's first run, a module's
    tests together (module fixtures)."""
    global _durations
    construct = [item for item in items if builds_cdk_apps(item)]
    if construct:
        config.hook.pytest_deselected(items=construct)
        items[:] = [item for item in items if not builds_cdk_apps(item)]
    if _durations is None:
        stats = Path("mutmut-stats.json")  # mutmut runs pytest in its copy, where it keeps this file
        if not stats.exists():
            return
        _durations = json.loads(stats.read_text())["duration_by_test"]
    known = _durations
    module_s: Counter[str] = Counter()
    for item in items:
        module_s[item.nodeid.partition("::")[0]] += known.get(item.nodeid, 0.0)
    items.sort(key=lambda item: (module_s[item.nodeid.partition("::")[0]], known.get(item.nodeid, 0.0)))


@dataclass(frozen=True)
class Survivor:
    path: str
    line: int
    name: str
    diff: str
    why: str = ""  # why it is left alive, when it is of a kind that no test needs to kill


# A log line is read by people, not parsed: no test pins its wording, keys, level or attribution. What is a contract
# about the logs (no ResponseURL or signature in any line, JSON lines, the traceback of a bug) is tested by
# test_redaction and the protocol suite, whatever the wording.
LOG_LINE = "how a log line is written (its wording, keys, level or attribution)"
_LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception", "log"})


# Survivors read and found equivalent: no test can tell them from the code. Keyed by module and mutmut's name, which
# holds while the function it is in does not change.
EQUIVALENT: dict[str, tuple[str, ...]] = {
    "start_request sets ComponentVersion only when it is absent, and component_version returns the one given, so "
    "setting it again changes nothing": tuple(
        f"configuration.xǁPackagingǁstart_request__mutmut_{n}" for n in (3, 4, 5, 6)
    ),
    "differences: a parsed configuration always names its ComponentVersion when ModelVersion is latest, so "
    "component_version is never None here": tuple(
        f"configuration.xǁPackagingǁdifferences__mutmut_{n}" for n in (25, 26, 27, 28)
    ),
    "tag_problem: X is no Unicode category's first letter, so XXLZNXX admits the same characters as LZN": (
        "contract.x_tag_problem__mutmut_17",
    ),
    "Backoff.delay: the exponent's cap only guards the power; cap_s (30 s) is reached at the fifth failure": (
        "outbound.xǁBackoffǁdelay__mutmut_20",
    ),
    "_endpoint_of: botocore's EndpointConnectionError always carries kwargs with an endpoint_url, which has a host": (
        tuple(f"outbound.x__endpoint_of__mutmut_{n}" for n in (7, 10, 15, 19, 21))
    ),
    "_target_problems: the service knows one TargetDevice, so the separator of the list is never written": (
        "configuration.x__target_problems__mutmut_28",
    ),
    "ensure_job: wait_for_job only reads `not wait`, where None and False agree": ("start.x_ensure_job__mutmut_26",),
    "component.failed_reason: botocore's model makes status.errors a map, so the other branch never runs": (
        "component.x_failed_reason__mutmut_16",
        "component.x_failed_reason__mutmut_22",
    ),
    "wait_deployable: the first look writes seen's status before anything reads it, and only an error carries a "
    "problem": tuple(f"component.x_wait_deployable__mutmut_{n}" for n in (8, 9, 68)),
    "_prefix_within: searching one length past the text finds the same prefix (a slice past the end is the whole "
    "text)": ("response.x__prefix_within__mutmut_14",),
    "classify: botocore's error responses always carry ResponseMetadata with an HTTPStatusCode and HTTPHeaders (and "
    "the PUT's HttpStatusError its status), so their defaults are never read": (
        *(f"outbound.x__classify_answer__mutmut_{n}" for n in (34, 36, 43)),
        *(f"outbound.x__retry_after__mutmut_{n}" for n in (11, 13, 15, 17)),
    ),
    "_unresolvable_name: botocore always wraps an exception as an EndpointConnectionError's error": (
        "outbound.x__unresolvable_name__mutmut_31",
    ),
    "the invocation's retry and status callbacks (the Start's too), and the fields crhelper puts on each log line, "
    "only change log lines": (
        *(f"lifecycle.xǁ_Invocationǁwait_for_job__mutmut_{n}" for n in (37, 43, 51, 59)),
        *(f"lifecycle.xǁ_Invocationǁrun__mutmut_{n}" for n in (18, 21)),
        *(f"crhelper_adapter.xǁResponderǁ_log_setup__mutmut_{n}" for n in range(2, 27)),
    ),
    "job_failure: an error always carries its problem, and a look that timed out without waiting always saw a "
    "transient error": tuple(f"lifecycle.xǁ_Invocationǁjob_failure__mutmut_{n}" for n in (6, 7, 8, 30, 31)),
    "_send: crhelper sends its own answer without arguments, and the timer gives its reason, so the default reason "
    "is never used": ("crhelper_adapter.xǁResponderǁ_send__mutmut_1",),
    "_send's fallback answer: the context only bounds the PUT by the invocation's remaining time, which a ResponseURL "
    "that never accepts shows in the wall-clock protocol test that mutation testing leaves out": (
        "crhelper_adapter.xǁResponderǁ_send__mutmut_39",
    ),
    "the hand-off's Call: its texts never reach a reason (the hand-off words its refusal from the code and the "
    "status), repeatable=None is as falsy as False, and codec names are case-insensitive": tuple(
        f"handoff.x_continue_elsewhere__mutmut_{n}" for n in (10, *range(24, 30), 34, *range(36, 45))
    ),
    "the hand-off: its retry callback, its count of retries and what it says of an Invoke of unknown outcome only "
    "reach log lines": tuple(f"handoff.x_continue_elsewhere__mutmut_{n}" for n in (12, 52, 58, 90, 92, 93, 94, 95)),
    "the hand-off's refusal: classify gives a coded problem, or HTTP<status> when the answer had no code, so 'an "
    "error' is never said": tuple(f"handoff.x_continue_elsewhere__mutmut_{n}" for n in (110, 111)),
    "handoff._detail: of the problems that reach it, only a transient one comes without an HTTP status": (
        "handoff.x__detail__mutmut_2",
    ),
    "the claim is only tested for truth or against 'answer' and 'hand-off', where None and '' agree": (
        "crhelper_adapter.xǁResponderǁrelease_hand_off__mutmut_4",
        "crhelper_adapter.xǁResponderǁ__call____mutmut_31",
        "crhelper_adapter.xǁResponderǁ__init____mutmut_34",
    ),
    "Responder.__init__: crhelper only tests AWS_SAM_LOCAL for truth, its boto_level defaults to ERROR, and the "
    "variable is always set when it is popped": tuple(
        f"crhelper_adapter.xǁResponderǁ__init____mutmut_{n}" for n in (10, 11, 18, 27)
    ),
    "deliver: an empty physical id and None both give the stand-in": (
        "crhelper_adapter.xǁResponderǁ__call____mutmut_22",
        "crhelper_adapter.xǁResponderǁ_send__mutmut_42",
    ),
    "__call__: dividing the remaining milliseconds by 1001 shortens the wait for an answer under way by a thousandth": (
        "crhelper_adapter.xǁResponderǁ__call____mutmut_58",
    ),
    "_log_setup: a StreamHandler given no stream writes to sys.stderr": (
        "crhelper_adapter.xǁResponderǁ_log_setup__mutmut_29",
    ),
    "lifecycle.run: the entry point always passes the log stream, and the properties are parsed before anything "
    "reads them": ("lifecycle.x_run__mutmut_2", "lifecycle.x_run__mutmut_3"),
    "the names the answer's log line gives its fields, and the PUT's retry count and callback, only reach log lines": (
        *(f"crhelper_adapter.x_deliver__mutmut_{n}" for n in range(36, 52)),
        *(f"delivery.x_send_response__mutmut_{n}" for n in (20, 73, 78)),
    ),
    "the PUT's header names: HTTP reads them whatever their case": tuple(
        f"delivery.x_send_response__mutmut_{n}" for n in (44, 45, 48, 49)
    ),
    "job_call: every caller passes the Region": ("job.x_job_call__mutmut_1",),
    "_encode: codec names are case-insensitive": ("response.x__encode__mutmut_9",),
    "encode_response: a field is cut only while the answer is over the limit, so what is kept is always shorter": (
        "response.x_encode_response__mutmut_49",
        "response.x_encode_response__mutmut_51",
    ),
    "wait: sleeping 0 s before a first look due now changes nothing": ("waiting.x_wait__mutmut_33",),
    "classify_status: any text that is no status reads as unknown": ("job.x_classify_status__mutmut_6",),
    "wait_state: a first invocation's count is WaitState's default, 1": ("continuation.x_wait_state__mutmut_5",),
    "secret_forms: every form but the path starts with the URL's scheme, so reverse text order also puts the path, "
    "the one form the others contain, last": (
        "redaction.x_secret_forms__mutmut_21",
        "redaction.x_secret_forms__mutmut_24",
    ),
}
_EQUIVALENT_BY_NAME = {name: why for why, names in EQUIVALENT.items() for name in names}


def log_call_lines(path: Path) -> set[int]:
    """The lines of ``path`` inside a call that writes a log line (``logger.info(...)``, ``_log(...)``)."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_log = (isinstance(func, ast.Name) and func.id == "_log") or (
            isinstance(func, ast.Attribute) and func.attr in _LOG_METHODS and getattr(func.value, "id", "") == "logger"
        )
        if is_log:
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def source_line(path: Path, mutant: str, diff: str) -> int:
    """The source line the mutant changes: the first line its diff removes, found within its function."""
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key

    function, class_name = orig_function_and_class_names_from_key(mutant)
    tree = ast.parse(path.read_text())
    scope: list[ast.stmt] = tree.body
    if class_name:
        scope = next(n.body for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == class_name)
    node = next(n for n in scope if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == function)
    lines = path.read_text().splitlines()
    removed = [d[1:].strip() for d in diff.splitlines() if d.startswith("-") and not d.startswith("---")]
    for number in range(node.lineno, (node.end_lineno or node.lineno) + 1):
        if removed and lines[number - 1].strip() == removed[0]:
            return number
    return node.lineno


def collect() -> tuple[Counter[str], list[Survivor]]:
    """Read mutmut's results in the stage: the count of each status, and every survivor with its diff."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    counts: Counter[str] = Counter()
    survivors = []
    os.chdir(STAGE)
    for path in sorted(Path(PACKAGE).rglob("*.py")):
        data = SourceFileMutationData(path=path)
        data.load()
        logging_lines = log_call_lines(path)
        for name, exit_code in data.exit_code_by_key.items():
            status = status_by_exit_code[exit_code]
            counts[status] += 1
            if status == "survived":
                diff = get_diff_for_mutant(name, path=path)
                relative = f"lambda/{path.as_posix()}"
                diff = diff.replace(str(path), relative)
                line = source_line(path, name, diff)
                why = (
                    LOG_LINE if line in logging_lines else _EQUIVALENT_BY_NAME.get(name.removeprefix(f"{PACKAGE}."), "")
                )
                survivors.append(Survivor(relative, line, name, diff, why))
    os.chdir(ROOT)
    return counts, sorted(survivors, key=lambda s: (s.path, s.line, s.name))


def changed_lines(diff: str) -> list[str]:
    """The lines a mutant removes and adds, without the diff's headers and context."""
    return [line for line in diff.splitlines() if line[:1] in "-+" and line[:3] not in ("---", "+++")]


def render(counts: Counter[str], survivors: list[Survivor], run: dict[str, str], selection: list[str]) -> str:
    total = sum(counts.values())
    killed = counts["killed"]
    checked = total - counts["not checked"]
    lines = [
        "# Mutation testing of the handler package",
        "",
        f"`make mutation` on {run['commit']}: mutmut {mutmut_version()} on every module of lambda/{PACKAGE}. Each",
        "mutant runs those tests that call the function it mutates, out of the ones selected by",
        f"`pytest {shlex.join(selection)}` less the construct's tests (those of modules that import aws_cdk).",
        "",
        f"**Score: {killed} killed / {total} mutants = {100 * killed / total:.1f}%**" if total else "No mutants.",
        *(
            ["", f"Of the {checked} checked, {killed} killed = {100 * killed / checked:.1f}%."]
            if checked and checked != total
            else []
        ),
        "",
        "| status | mutants |",
        "| --- | ---: |",
        *(f"| {status} | {count} |" for status, count in counts.most_common()),
        f"| total | {total} |",
        "",
        *(
            [f"Its unexplained survivors were then tested again (`make mutation-again`): {run['again']}.", ""]
            if run.get("again")
            else []
        ),
        f"Wall time: {run['wall']} for the whole run with {run['jobs']} mutants at a time ({run['per_mutant']}), on a",
        f"machine shared with other test runs (load average {run['load']}, start and end). mutmut's raw output stays",
        "in build/mutation/mutmut.log.",
        *(
            [
                "",
                f"**Incomplete:** {run['stopped']}. mutmut runs the mutants whose tests take least time first, so",
                "those not checked are the handler's main path (the invocation's step, the wait, the answer).",
            ]
            if run["stopped"]
            else []
        ),
    ]
    logged = Counter(survivor.path for survivor in survivors if survivor.why == LOG_LINE)
    equivalent = [survivor for survivor in survivors if survivor.why not in ("", LOG_LINE)]
    unexplained = [survivor for survivor in survivors if not survivor.why]
    lines += [
        "",
        f"## Survivors ({len(survivors)})",
        "",
        f"{sum(logged.values())} change {LOG_LINE} (`bench/mutation.py` says why no test needs to kill them):",
        *(f"- {count} in {path}" for path, count in sorted(logged.items())),
        "",
        f"{len(equivalent)} are equivalent, for the reasons given:",
        *(f"- {why}: {', '.join(f'`{name}`' for name in names)}" for why, names in _by_reason(equivalent).items()),
        "",
        f"The other {len(unexplained)} are to be tested or explained. {SURVIVORS.relative_to(ROOT)} lists each,",
        "with the line of the source it changes and what it removes and adds (`mutmut show NAME` in build/mutation).",
    ]
    return "\n".join(lines).rstrip() + "\n"


def render_survivors(survivors: list[Survivor]) -> str:
    """The survivors nobody has explained yet, by file, each with its diff."""
    lines = ["# Survivors to test or explain"]
    path = ""
    for survivor in survivors:
        if survivor.why:
            continue
        if survivor.path != path:
            lines += ["```"] if path else []
            path = survivor.path
            lines += ["", f"## {path}", "", "```diff"]
        lines += [f"@@ line {survivor.line}: {survivor.name.rpartition('.')[2]}", *changed_lines(survivor.diff)]
    if path:
        lines.append("```")
    return "\n".join(lines) + "\n"


def _by_reason(survivors: list[Survivor]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for survivor in survivors:
        grouped.setdefault(survivor.why, []).append(survivor.name.removeprefix(f"{PACKAGE}."))
    return grouped


def mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants tested side by side")
    parser.add_argument("--minutes", type=float, help="stop mutmut after this long and report what it checked")
    parser.add_argument(
        "--again", action="store_true", help="test the last run's unexplained survivors again, against today's tests"
    )
    parser.add_argument("selection", nargs=argparse.REMAINDER, help="pytest arguments that select the tests")
    args = parser.parse_args()
    selection = [a for a in args.selection if a != "--"]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    survivors_before: list[str] = []
    if args.again:
        # The last run's stage (its mutmut configuration holds the run's selection), with today's tests: mutmut copies
        # them over its own copy, and traces the new ones.
        last_run = json.loads(RUN.read_text())
        selection = shlex.split(last_run["selection"])
        survivors_before = [survivor.name for survivor in collect()[1] if not survivor.why]
        if not survivors_before:  # mutmut given no names would run every mutant
            print("No unexplained survivor to test again")
            return 0
        shutil.rmtree(STAGE / "tests")
        shutil.copytree(ROOT / "tests", STAGE / "tests", ignore=CACHES)
    else:
        stage(selection)
    log = STAGE / ("mutmut-again.log" if args.again else "mutmut.log")
    # Started in the background by a shell, this process ignores SIGINT, and so would every process it starts,
    # including the CLI that a test interrupts with SIGINT and expects to stop: give them the default back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    load_at_start = " ".join(f"{x:.1f}" for x in os.getloadavg())
    started = time.monotonic()
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs), *survivors_before]
    stopped = False
    # The fuzz's first 25 examples of each test (they are the same in every run): a surviving mutant runs every test
    # that calls it, and all 250 examples would take it 12 s more.
    env = {**os.environ, "FUZZ_EXAMPLES": "25"}
    with (
        log.open("w") as out,
        subprocess.Popen(command, cwd=STAGE, env=env, stdout=out, stderr=subprocess.STDOUT) as mutmut,
    ):
        try:
            mutmut.wait(timeout=args.minutes * 60 if args.minutes else None)
        except subprocess.TimeoutExpired:
            # mutmut stops its workers on Ctrl-C and keeps every result it has.
            mutmut.send_signal(signal.SIGINT)
            mutmut.wait()
            stopped = True
    wall_s = time.monotonic() - started
    if mutmut.returncode != 0:
        print(log.read_text()[-5000:])
        print(f"mutmut failed ({mutmut.returncode}); its output is in {log.relative_to(ROOT)}")
        return mutmut.returncode
    counts, survivors = collect()
    tested = sum(counts.values()) - counts["no tests"] - counts["not checked"]
    run = {
        "commit": commit,
        "wall": f"{wall_s / 60:.0f} min",
        "jobs": str(args.jobs),
        "per_mutant": f"{wall_s / tested:.2f} s per mutant checked" if tested else "no mutant checked",
        "load": f"{load_at_start} and {' '.join(f'{x:.1f}' for x in os.getloadavg())}",
        "stopped": f"stopped after {args.minutes:g} minutes (--minutes)" if stopped else "",
        "selection": shlex.join(selection),
    }
    if args.again:
        again = f"{len(survivors_before)} on {commit} ({wall_s:.0f} s)"
        run = {**last_run, "again": f"{last_run['again']}, then {again}" if last_run.get("again") else again}
    RUN.write_text(json.dumps(run))
    REPORT.write_text(render(counts, survivors, run, selection))
    SURVIVORS.write_text(render_survivors(survivors))
    print(f"{counts['killed']} killed of {sum(counts.values())} mutants, {len(survivors)} survived, in {wall_s:.0f} s")
    print(f"Written {REPORT.relative_to(ROOT)}; mutmut's output is in {log.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
