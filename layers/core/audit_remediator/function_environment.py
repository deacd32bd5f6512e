"""A function's settings read from its environment, with one plain error naming the function and each
variable that is wrong."""

from collections.abc import Mapping

from pydantic import BaseModel, ValidationError

from audit_remediator.errors import SettingsError


def settings_from_environment[Settings: BaseModel](
    model: type[Settings],
    environ: Mapping[str, str],
    function: str,
) -> Settings:
    try:
        return model.model_validate(dict(environ))
    except ValidationError as error:
        problems = "; ".join(f"{item['loc'][0]}: {item['msg']}" for item in error.errors())
        raise SettingsError(f"{function} environment is invalid: {problems}") from error
