"""Every ```python block of the README runs as written and synthesizes its app, and the blocks fit together: each
stack output or SSM parameter one block reads is one that a block publishes, and the output ids the comments name
are real."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from support import ROOT

README = ROOT / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)
# An output logical id as the comments of the blocks name them: a prefix of letters and digits, then a published key.
NAMED_OUTPUT = re.compile(r"\b[A-Za-z0-9]+(?:ComponentVersionArn|ComponentName|ComponentVersion|Status|ModelVersion)\b")


def python_blocks() -> list[str]:
    text = README.read_text()
    blocks = BLOCK.findall(text)
    # A fence the pattern missed would silently go untested.
    assert len(blocks) == text.count("```python"), "a ```python block is not closed by a ``` line of its own"
    assert len(blocks) >= 5, "the README's examples are no longer ```python blocks"
    return blocks


BLOCKS = python_blocks()


@dataclass
class Block:
    number: int
    code: str
    outdir: Path
    apps: list[cdk.App] = field(default_factory=list)
    error: BaseException | None = None
    # Stack name -> template, for every stack of every app the block built.
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def blocks(tmp_path_factory: pytest.TempPathFactory) -> list[Block]:
    """Run each block as a script, with aws_cdk.App recording the apps it builds and writing them to a folder."""
    results = []
    for number, code in enumerate(BLOCKS, start=1):
        block = Block(number, code, tmp_path_factory.mktemp(f"readme-block-{number}"))

        class RecordingApp(cdk.App):
            def __init__(self, *args: Any, _block: Block = block, **kwargs: Any) -> None:
                kwargs.setdefault("outdir", str(_block.outdir / str(len(_block.apps))))
                # Without version reporting, as many apps run: no AWS::CDK::Metadata resource hides an empty stack.
                kwargs.setdefault("analytics_reporting", False)
                super().__init__(*args, **kwargs)
                _block.apps.append(self)

        patch = pytest.MonkeyPatch()
        patch.setattr(cdk, "App", RecordingApp)
        try:
            # The README is this repository's own text: running it is the point of the test.
            exec(compile(code, f"README.md python block {number}", "exec"), {"__name__": "__main__"})  # noqa: S102
        except Exception as exc:  # reported by the block's own test
            block.error = exc
        finally:
            patch.undo()
        if block.error is None:
            for app in block.apps:
                # The block's own app.synth() wrote the assembly; synth() again returns that same assembly.
                assembly = app.synth()
                for stack in assembly.stacks:
                    block.templates[stack.stack_name] = stack.template
        results.append(block)
    return results


@pytest.mark.parametrize("number", range(1, len(BLOCKS) + 1))
def test_block_runs_and_synthesizes_its_app(blocks: list[Block], number: int) -> None:
    block = blocks[number - 1]
    assert block.error is None, f"README python block {number} raised {block.error!r}:\n{block.code}"
    assert block.apps, f"README python block {number} builds no App"
    unsynthesized = [i for i in range(len(block.apps)) if not (block.outdir / str(i) / "manifest.json").is_file()]
    assert unsynthesized == [], f"README python block {number} does not call app.synth()"
    assert block.templates, f"README python block {number} synthesizes no stack"
    # A stack of nothing but outputs and parameters cannot be deployed ("Resources section must exist and be
    # non-empty"): each consumer in the README must consume the job in a resource, as a real one does.
    empty = [name for name, template in block.templates.items() if not template.get("Resources")]
    assert empty == [], f"README python block {number} synthesizes stacks without resources: {empty}"


def _find(value: Any, key: str) -> Iterator[Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            yield from _find(v, key)
    elif isinstance(value, list):
        for item in value:
            yield from _find(item, key)


def _published_outputs(blocks: list[Block]) -> set[tuple[str, str]]:
    return {(name, output) for b in blocks for name, t in b.templates.items() for output in t.get("Outputs", {})}


def test_every_stack_output_and_ssm_parameter_a_block_reads_is_published_by_a_block(blocks: list[Block]) -> None:
    templates = [t for b in blocks for t in b.templates.values()]
    published = _published_outputs(blocks)
    read = {(ref["StackName"], ref["OutputName"]) for t in templates for ref in _find(t, "Fn::GetStackOutput")}
    assert ("LookoutVisionModelGate", "ModelPackagingJobComponentVersionArn") in read
    assert read <= published, f"read but published by no block: {sorted(read - published)}"
    resources = [r for t in templates for r in t.get("Resources", {}).values()]
    parameters = {r["Properties"]["Name"] for r in resources if r["Type"] == "AWS::SSM::Parameter"}
    read_parameters = {
        p["Default"]
        for t in templates
        for p in t.get("Parameters", {}).values()
        if p["Type"] == "AWS::SSM::Parameter::Value<String>" and p["Default"].startswith("/lookoutvision/")
    }
    assert read_parameters, "no block reads an SSM parameter"
    assert read_parameters <= parameters, f"read but published by no block: {sorted(read_parameters - parameters)}"


def test_output_ids_named_in_comments_exist(blocks: list[Block]) -> None:
    outputs = {output for _, output in _published_outputs(blocks)}
    for block in blocks:
        comments = " ".join(line.split("#", 1)[1] for line in block.code.splitlines() if "#" in line)
        named = set(NAMED_OUTPUT.findall(comments))
        assert named <= outputs, f"README python block {block.number} names outputs no block has: {named - outputs}"
    assert "PcbArmComponentVersionArn" in outputs
