"""The spec helper itself: it must fail answers OpenAI's spec calls wrong, or it proves nothing."""

from __future__ import annotations

import pytest

from support.openai_spec import SpecMismatchError, assert_matches_spec, operation_of

PROJECT = {"object": "organization.project", "id": "proj_1", "name": "p", "created_at": 1}


def test_a_path_maps_to_openai_operation() -> None:
    operation = operation_of("GET", "/v1/organization/projects/proj_1/api_keys")
    assert operation is not None and operation.operation_id == "list-project-api-keys"
    assert operation_of("POST", "/v1/keys/verify") is None  # keyplane's own: not checked


def test_if_a_create_answers_201_then_it_does_not_match() -> None:
    with pytest.raises(SpecMismatchError, match="answers \\['200'\\]"):
        assert_matches_spec("POST", "/v1/organization/projects", 201, PROJECT)


@pytest.mark.parametrize(
    "body",
    [
        {k: v for k, v in PROJECT.items() if k != "created_at"},  # a required field missing
        {**PROJECT, "object": "project"},  # the wrong constant
        {**PROJECT, "archived_at": "yesterday"},  # the wrong type
    ],
)
def test_if_a_required_field_or_type_is_wrong_then_it_does_not_match(body: object) -> None:
    with pytest.raises(SpecMismatchError):
        assert_matches_spec("GET", "/v1/organization/projects/proj_1", 200, body)


def test_extra_fields_and_nullable_ones_match() -> None:
    body = {**PROJECT, "archived_at": None, "keyplane_extra": {"anything": 1}}
    assert assert_matches_spec("GET", "/v1/organization/projects/proj_1", 200, body)


def test_an_error_answer_must_be_openai_envelope() -> None:
    envelope = {
        "error": {"message": "m", "type": "invalid_request_error", "param": None, "code": None}
    }
    assert assert_matches_spec("GET", "/v1/organization/projects/x", 404, envelope)
    with pytest.raises(SpecMismatchError):
        assert_matches_spec("GET", "/v1/organization/projects/x", 404, {"detail": "Not Found"})
