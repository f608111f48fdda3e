"""What the real engine previews for a command whose input comes from a resource the same run
updates: the input is unknown, and the preview shows an update; the `up` then finds the value
unchanged and leaves the command alone. The change mode models the preview
(tools/imitations/engine_rules.py `_computed_command_inputs`)."""

from __future__ import annotations

from pulumi_command import local

from tools.engine import inline

from .conftest import assert_no_errors


def test_an_input_from_an_updated_resource_is_an_update_in_the_preview_only(engine_bins, work):
    generation = {"n": "1"}

    def program() -> None:
        script = f"echo same-output  # generation {generation['n']}"
        source = local.Command("source", create=script, update=script)
        local.Command("consumer", create=source.stdout.apply(lambda out: f"echo got {out}"))

    engine = inline.EngineStack("dev", work, echo=None, pack=False, program=program)
    assert_no_errors(engine.up())
    generation["n"] = "2"  # the source's script changes; its output does not
    preview = engine.preview()
    assert_no_errors(preview)
    ops = {s["name"]: s["op"] for s in preview.steps()}
    assert (ops["source"], ops["consumer"]) == ("update", "update")
    up = engine.up()
    assert_no_errors(up)
    ops = {s["name"]: s["op"] for s in up.steps()}
    assert (ops["source"], ops["consumer"]) == ("update", "same")
