"""Every sentence Jetbox shows the model, read once from jetbox/prompts.yaml and checked
against the fields the code passes, before a run starts.

The templates are str.format strings with named fields, not string.Template: the same
syntax as the f-strings they replace, so a field keeps its format spec (`{seconds:g}`,
`{chars:,}`, `{name!r}`), and `string.Formatter().parse` names every field, which is what
lets a misspelled one be reported at its line instead of at the moment a model hits it.
"""

from __future__ import annotations

import difflib
import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml

from jetbox.core.errors import ConfigError

PROMPTS_FILE = Path(__file__).resolve().parent.parent / "prompts.yaml"

# What the code uses: every key, with exactly the fields its code passes. The file must
# hold these keys and no others, each with these fields and no others.
FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "system": (),
    "goal": ("goal",),
    "tools.list_dir": (),
    "tools.read_file": (),
    "tools.search": (),
    "tools.edit_file": (),
    "tools.write_file": (),
    "tools.run_cmd": (),
    "tools.finish": (),
    "json_protocol.header": (),
    "json_protocol.tool": ("name", "parameters", "description"),
    "json_protocol.result": ("tool", "content"),
    "reply.no_call": (),
    "reply.cut_off_before_call": (),
    "reply.unreadable": ("where", "error"),
    "reply.cut_off": (),
    "reply.cut_off_named": ("name",),
    "reply.unreadable_arguments": ("name", "near"),
    "reply.too_long": ("chars", "limit"),
    "reply.quoted": (),
    "reply.unparsable": ("near",),
    "reply.unparsable_arguments": ("name", "near"),
    "reply.in_reasoning": ("name",),
    "reply.shell_in_fence": (),
    "reply.made_up_tag": ("tag", "tools"),
    "reply.no_name": (),
    "reply.ambiguous_name": ("name", "choices"),
    "reply.near_name": ("name", "guess"),
    "reply.unknown_name": ("name", "tools"),
    "arguments.unknown_tool": ("name", "tools"),
    "arguments.not_json": ("tool",),
    "arguments.not_object": ("tool", "type"),
    "arguments.expected": ("tool", "expected", "missing", "unknown"),
    "arguments.missing": ("names",),
    "arguments.unknown": ("names",),
    "arguments.not_string": ("tool", "key"),
    "arguments.not_whole_number": ("tool", "key"),
    "result.refused": ("reason",),
    "result.error": ("error",),
    "result.internal_error": ("tool", "type", "error"),
    "result.person_declined": ("reason",),
    "result.no_reason_given": (),
    "result.not_a_folder": ("path",),
    "result.folder_entries": ("path", "entries"),
    "result.empty_folder": (),
    "result.link_out": ("name",),
    "result.entry_size": ("name", "size"),
    "result.unreadable_link": ("name", "reason"),
    "result.unreadable_entry": ("name", "reason"),
    "result.more": ("count",),
    "result.not_a_file": ("path",),
    "result.binary_file": ("path", "size"),
    "result.not_utf8": ("path",),
    "result.partly_read": ("shown", "size"),
    "result.empty_file": ("path",),
    "result.bad_range": ("path", "total"),
    "result.long_line": ("start", "more"),
    "result.lines": ("path", "first", "last", "total"),
    "result.more_lines": ("count", "path", "start", "end"),
    "result.edit_not_a_file": ("path",),
    "result.too_big": ("path", "size", "limit"),
    "result.edit_not_utf8": ("path",),
    "result.old_empty": (),
    "result.old_missing": ("path",),
    "result.no_similar_line": (),
    "result.old_repeated": ("count", "path", "lines"),
    "result.edited": ("path", "first", "last", "old", "new"),
    "result.content_too_big": ("size", "limit"),
    "result.write_a_folder": ("path",),
    "result.cannot_write": ("path", "reason"),
    "result.unchanged": ("path", "size"),
    "result.wrote": ("path", "size"),
    "result.not_allowed_program": ("program", "allowed"),
    "result.timed_out": ("seconds",),
    "result.exit_code": ("code",),
    "result.protected_removed": ("name",),
    "result.copy_merged": ("path",),
    "result.copy_conflict": ("path", "why"),
    "result.copy_conflict_kept": ("where",),
    "result.copy_not_applied": ("path", "reason"),
    "result.read_only_large": ("megabytes", "names"),
    "result.finish": ("summary",),
    "result.hard_link_outside": ("path",),
    "result.hard_links_in_place": ("links",),
    "merge.binary": (),
    "merge.no_git": (),
    "merge.overlap": (),
    "merge.failed": ("output",),
    "merge.not_two_files": (),
    "merge.too_big": ("megabytes",),
    "path.device": ("path",),
    "path.unc": ("path",),
    "path.drive_relative": ("path",),
    "path.absolute_windows": ("path",),
    "path.colon": ("path",),
    "path.trailing_dot": ("path",),
    "path.reserved": ("path", "part"),
    "path.backslash": ("path",),
    "path.outside": ("path", "workspace"),
    "path.in_interpreter": ("path",),
    "path.not_a_string": ("type",),
    "path.bad": (),
    "path.invalid_name": ("path",),
    "path.control_characters": ("path",),
    "path.unresolvable": ("path", "reason"),
    "path.protected": ("path",),
    "path.in_venv": ("path",),
    "path.workspace_itself": (),
    "path.symlink_loop": (),
    "path.unstorable_name": (),
    "command.unsplittable": ("error",),
    "command.not_a_list": (),
    "command.empty": (),
    "command.a_path": ("program",),
    "command.not_found": ("program",),
    "command.path_refused": ("what", "reason"),
    "command.gits": ("what", "path"),
    "command.python_flag": ("flag",),
    "command.python_alone": (),
    "command.python_m_alone": (),
    "command.python_module": ("module", "allowed"),
    "command.abbreviates": ("program", "option", "refused"),
    "command.needs_value": ("program", "option"),
    "command.ruff_config": ("value",),
    "command.refused_option": ("program", "option"),
    "command.response_file": ("program", "argument"),
    "command.ruff_subcommand": ("subcommand", "allowed"),
    "command.pip_subcommand": ("subcommand", "allowed", "install"),
    "command.pip_install_off": (),
    "command.pip_target": (),
    "search.bad_pattern": (),
    "search.bad_regex": ("error",),
    "search.too_slow": ("seconds",),
    "search.failed": ("error",),
    "search.no_match": ("pattern", "files"),
    "search.found": ("matches", "files"),
    "search.one_match": ("count",),
    "search.matches": ("count",),
    "search.one_file": ("count",),
    "search.files": ("count",),
    "search.more_matches": ("count", "files"),
    "replay.error": ("error",),
    "replay.edited": ("path",),
    "replay.wrote": ("path",),
    "replay.exit_code": ("code",),
    "replay.already_applied": ("path",),
    "replay.interrupted": ("action", "path", "error"),
    "replay.completed": ("path",),
    "replay.file_changed": (),
    "context.status": ("status", "round"),
    "context.jetbox_note": ("note",),
    "context.person_note": ("note",),
    "context.done_so_far": (),
    "context.call_ok": ("call",),
    "context.call_failed": ("call",),
    "context.cut": (),
    "context.latest_results": (),
    "context.latest_result": ("call", "output"),
    "context.plan": (),
    "context.probes_now": ("verdict",),
    "context.blocking": (),
    "context.new_findings": (),
    "context.pre_existing": (),
    "context.finish_refused": ("reasons",),
    "context.warning": ("warning",),
    "context.paused": ("reason",),
    "context.elided": ("chars",),
    "context.written_elided": ("chars",),
    "files.whole": ("count", "files"),
    "files.none": (),
    "files.key": ("count", "named", "more"),
    "files.and_more": ("count",),
    "files.per_folder": ("folders", "more"),
    "files.more_folders": ("count", "files"),
    "files.added": ("paths", "more"),
    "files.removed": ("paths", "more"),
    "call.read_lines": ("path", "start", "end"),
    "call.on_path": ("tool", "path"),
    "call.search": ("pattern", "path"),
    "call.run": ("command",),
    "call.other": ("tool", "arguments"),
    "plan.work_on_goal": ("goal",),
    "plan.fix": ("blocker",),
    "plan.finish_when_green": (),
    "plan.finish_after_fixes": (),
    "plan.work_on_goal_short": (),
    "plan.fix_short": ("topics",),
    "plan.finish_when_green_short": (),
    "plan.finish_after_fixes_short": (),
    "reflect.repeated_call": ("count", "call"),
    "reflect.loop": ("count", "call"),
    "reflect.no_progress": ("rounds",),
    "reflect.malformed": ("count",),
    "verdict.ruff": ("new", "before"),
    "verdict.ruff_clean": (),
    "verdict.as_at_start": ("summary",),
    "verdict.pytest": ("counts", "regressions", "known"),
    "verdict.known_failures": ("count",),
    "verdict.nothing_ran": (),
    "verdict.no_tests_asked": ("summary",),
    "verdict.room": ("fixed", "failed", "still_passing", "passed"),
    "verdict.room_new_tests": ("count", "before", "after"),
    "verdict.fail_before": (),
    "verdict.pass_before": (),
    "verdict.pass_after": (),
    "verdict.fail_after": (),
    "verdict.room_allowed": ("tests",),
    "verdict.room_changed": ("tests",),
    "verdict.changes": ("added", "removed", "skipped", "config", "allowed"),
    "verdict.config_changed": ("files",),
    "verdict.config_unchanged": (),
    "verdict.not_put_back": ("path",),
    "verdict.changes_allowed": (),
    "verdict.added_tests": ("tests",),
    "verdict.more_files": ("count",),
    "how.failed": (),
    "how.error": (),
    "how.skipped": (),
    "how.xfailed": (),
    "how.xpassed": (),
    "how.deselected": (),
    "how.missing": (),
    "blocker.new_finding": ("count", "findings"),
    "blocker.new_findings": ("count", "findings"),
    "blocker.pytest": ("reasons",),
    "blocker.goal_asks_for_tests": ("summary",),
    "blocker.plugins": ("plugins",),
    "blocker.regression": ("count", "tests"),
    "blocker.regressions": ("count", "tests"),
    "blocker.failing_one": ("count", "tests", "hint"),
    "blocker.failing": ("count", "tests", "hint"),
    "blocker.hidden_one": ("count", "tests", "hint"),
    "blocker.hidden": ("count", "tests", "hint"),
    "blocker.known_hint": (),
    "blocker.dont": (),
    "blocker.config_changed": ("files",),
    "blocker.asks_for_change": ("verb",),
    "blocker.no_test_passed": (),
    "blocker.no_test_added": (),
    "blocker.named_findings": ("findings",),
    "blocker.shadows": ("modules",),
    "blocker.knows_runner": ("files",),
    "blocker.tests_pass_without": ("tests",),
    "blocker.tests_import_nothing": ("files",),
    "blocker.hidden_by_change": ("files", "tests", "dont"),
    "blocker.left_out": ("tests",),
    "blocker.left_out_changed": ("test",),
    "blocker.left_out_not_used": ("test",),
    "blocker.left_out_new": ("test",),
    "probe.not_installed": ("name",),
    "probe.pytest_missing": ("python", "source"),
    "probe.cannot_run": ("name", "error"),
    "probe.timed_out": ("name", "seconds"),
    "probe.room_not_built": (),
    "probe.room_missing": ("folder",),
    "probe.room_failed": ("error",),
    "probe.no_report": ("code",),
    "probe.late_plugins": ("plugins",),
    "probe.session_status": ("code", "status"),
    "probe.exit_interrupted": ("code",),
    "probe.exit_internal_error": ("code",),
    "probe.exit_bad_options": ("code",),
    "probe.failed_in_report": ("count",),
    "probe.none_failed": (),
    "probe.passed_in_report": (),
    "probe.strange_exit": ("code",),
    "pause.round_limit": ("count",),
    "pause.round_limit_many": ("count",),
    "pause.timebox": ("seconds", "then"),
    "pause.calls_on_resume": ("first", "last"),
    "pause.timebox_in_call": ("error",),
    "pause.timebox_before_call": (),
    "pause.person_quit": ("qid",),
    "pause.waiting": ("qid", "file"),
    "pause.waiting_unsandboxed": ("qid", "file"),
    "status.starting": (),
    "status.unknown": (),
    "status.paused": ("status", "reason"),
    "status.waiting_for_model": ("error",),
    "status.error": ("error",),
    "status.internal_error": ("type", "error"),
    "status.interrupted": ("how",),
    "status.finish_requested": (),
    "status.calls_failed": ("failed", "calls"),
    "status.repeating": ("call",),
    "status.no_progress": ("rounds",),
    "status.progress": (),
    "status.calls_ok": (),
    "status.done": ("checks",),
    "status.no_probe_ran": (),
    "status.undone": (),
    "resume.rebuilt": ("problem",),
    "resume.rebuilt_note": ("problem",),
})


@dataclass(frozen=True)
class Prompt:
    """One template: its key, its text and the line of prompts.yaml it is on."""

    key: str
    text: str
    line: int


@dataclass(frozen=True)
class Prompts:
    """The templates, checked; `say` fills one."""

    path: Path
    templates: Mapping[str, Prompt]

    def say(self, key: str, /, **fields: object) -> str:
        prompt = self.templates.get(key)
        if prompt is None:  # a bug in Jetbox, not in the file: the load checked the file
            raise KeyError(f"no prompt `{key}` in FIELDS (jetbox/core/prompts.py)")
        if tuple(sorted(fields)) != tuple(sorted(FIELDS[key])):
            raise TypeError(f"prompt `{key}` takes {', '.join(FIELDS[key]) or 'no fields'}; "
                            f"given {', '.join(sorted(fields)) or 'none'}")
        return prompt.text.format(**fields)


def template_fields(text: str) -> list[str]:
    """The fields a template names, in order (ValueError for a broken template)."""
    names = []
    for _, name, spec, _ in string.Formatter().parse(text):
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"`{{{name}}}` is not a plain field name (write {{name}}; a "
                             f"literal brace is {{{{ or }}}})")
        if spec and "{" in spec:
            raise ValueError(f"`{{{name}:{spec}}}`: a format spec may not hold a field")
        names.append(name)
    return names


def _flatten(node: yaml.Node, path: Path, prefix: str = "") -> dict[str, Prompt]:
    """`group: {key: text}` as {"group.key": Prompt}, each with its line."""
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}:{node.start_mark.line + 1}: expected `key: text` lines")
    found: dict[str, Prompt] = {}
    for key_node, value in node.value:
        key = f"{prefix}{key_node.value}"
        line = key_node.start_mark.line + 1
        if key in found:
            raise ConfigError(f"{path}:{line}: `{key}` is given twice")
        if isinstance(value, yaml.MappingNode):
            found.update(_flatten(value, path, f"{key}."))
        elif isinstance(value, yaml.ScalarNode) and value.tag.endswith(":str"):
            found[key] = Prompt(key, value.value, line)
        else:
            raise ConfigError(f"{path}:{line}: `{key}` must be a text (put it in quotes)")
    return found


def load_prompts(path: Path = PROMPTS_FILE) -> Prompts:
    """Read and check prompts.yaml; every problem is a ConfigError naming the file and line."""
    try:
        # libyaml's parser where PyYAML has it: 4 ms against 60 ms in pure Python, paid by
        # every Jetbox process that says anything; the nodes and their lines are the same.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=loader)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError.invalid_yaml(path, exc) from None
    found = _flatten(node, path) if node is not None else {}
    for key, prompt in found.items():
        if key not in FIELDS:
            near = difflib.get_close_matches(key, list(FIELDS), n=1)
            hint = f"; did you mean `{near[0]}`?" if near else ""
            raise ConfigError(f"{path}:{prompt.line}: unknown prompt `{key}`: Jetbox never "
                              f"says it{hint}")
        try:
            named = template_fields(prompt.text)
        except ValueError as exc:
            raise ConfigError(f"{path}:{prompt.line}: `{key}`: {exc}") from None
        expected = FIELDS[key]
        unknown = [name for name in named if name not in expected]
        missing = [name for name in expected if name not in named]
        if unknown or missing:
            given = ", ".join(f"{{{name}}}" for name in expected) or "none"
            problem = (f"{{{unknown[0]}}} is not a field it is given" if unknown
                       else f"{{{missing[0]}}} is missing")
            raise ConfigError(f"{path}:{prompt.line}: `{key}`: {problem}; its fields: {given}")
    absent = [key for key in FIELDS if key not in found]
    if absent:
        raise ConfigError(f"{path}: prompt `{absent[0]}` is missing (fields: "
                          f"{', '.join(FIELDS[absent[0]]) or 'none'})"
                          + (f" and {len(absent) - 1} more" if len(absent) > 1 else ""))
    return Prompts(path, MappingProxyType(dict(found)))


@functools.cache
def prompts() -> Prompts:
    """The packaged prompts.yaml, read and checked once per process."""
    return load_prompts(PROMPTS_FILE)


def say(key: str, /, **fields: object) -> str:
    """The sentence `key` of prompts.yaml with its fields filled."""
    return prompts().say(key, **fields)
