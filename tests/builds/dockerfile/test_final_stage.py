"""The final stage read from the Dockerfile text: the USER the image will run as (followed through
the stages it is FROM), and its steps as the image history will list them."""
from builds.dockerfile.final_stage import final_stage_read


def test_the_runtime_user_is_the_final_stages_last_user_after_substitution():
    user = final_stage_read("FROM a\nUSER 10001\nRUN true\nUSER 0:0\n").user
    assert (user.written, user.value, user.line, user.name) == ("0:0", "0:0", 4, "0")
    assert final_stage_read("FROM a\nARG UID=0\nUSER ${UID}\n").user.value == "0"
    assert final_stage_read("FROM a\nARG UID=0\nUSER ${UID}\n", {"UID": "2000"}).user.value == "2000"
    assert final_stage_read("FROM a\nENV RUNNER=app\nUSER $RUNNER\n").user.value == "app"
    unknown = final_stage_read("FROM a\nUSER ${NOBODY_SET_IT}\n").user
    assert unknown.value is None and unknown.line == 2, "known only at build time: never guessed"


def test_a_final_stage_without_user_inherits_only_from_the_stage_it_is_from():
    assert final_stage_read("FROM a AS base\nUSER app\nFROM base\nRUN true\n").user.value == "app"
    assert final_stage_read("FROM a AS one\nUSER app\nFROM one AS two\nRUN x\nFROM two\n").user.line == 2
    unrelated = final_stage_read("FROM a AS build\nUSER app\nFROM b\nCOPY --from=build /x /x\n").user
    assert unrelated.line == 0 and unrelated.value == "", "a stage copied from gives files, not its USER"
    assert final_stage_read("FROM a\nRUN true\n").user.line == 0


def test_the_history_lists_the_final_stages_steps_with_the_build_arguments_a_run_saw():
    final = final_stage_read("ARG V=9\nFROM a AS build\nARG SKIPPED=x\nRUN make\n"
                             "FROM b\nARG TOKEN=default\nARG V\nARG UNSET\nENV A=1\nRUN echo $TOKEN\n", {"TOKEN": "given"})
    assert [(s.line, s.text) for s in final.history] == [
        (6, "ARG TOKEN=default"), (7, "ARG V"), (8, "ARG UNSET"), (9, "ENV A=1"),
        (10, "|2 TOKEN=given V=9 /bin/sh -c echo $TOKEN")], "earlier stages leave no history; an unset ARG no value"
    assert final.args == {"TOKEN": "given", "V": "9"} and final.env == {"A": "1"}


def test_an_empty_or_from_less_text_has_no_user_and_no_history():
    for text in ("", "# just a comment\n", "ARG X=1\n"):
        final = final_stage_read(text)
        assert final.user.line == 0 and final.history == () and final.env == {}
