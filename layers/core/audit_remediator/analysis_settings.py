"""The PreStartAnalysisFunction's environment, modelled and validated when the function starts."""

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from audit_remediator.function_environment import settings_from_environment
from audit_remediator.models.plan import RemediationMode
from audit_remediator.settings import MitigationActionNames


class PreStartAnalysisSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    remediation_table_name: Annotated[str, Field(min_length=3, max_length=255)] = Field(
        alias="REMEDIATION_TABLE_NAME"
    )
    remediation_mode: RemediationMode = Field(alias="REMEDIATION_MODE")
    mitigation_action_name_prefix: Annotated[str, Field(max_length=80, pattern=r"^[a-zA-Z0-9_-]*$")] = Field(
        alias="MITIGATION_ACTION_NAME_PREFIX"
    )
    mitigation_action_names: MitigationActionNames = Field(alias="MITIGATION_ACTION_NAMES")
    # arn:<partition>:iot:<region>:<account>:cert/ - a finding names its certificate by id only.
    certificate_arn_prefix: Annotated[
        str, Field(pattern=r"^arn:aws[a-z-]*:iot:([a-z0-9-]+):[0-9]{12}:cert/$")
    ] = Field(alias="CERTIFICATE_ARN_PREFIX")

    @property
    def region(self) -> str:
        return self.certificate_arn_prefix.split(":")[3]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "PreStartAnalysisSettings":
        return settings_from_environment(cls, environ, "PreStartAnalysisFunction")
