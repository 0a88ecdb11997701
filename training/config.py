"""Typed training settings, loaded explicitly from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from features.registry import Registry

DEFAULT_CONFIG = Path(__file__).with_name("training.yaml")


class LightGBMSettings(BaseModel):
    """LightGBM hyper-parameters (tree size is capped so explanations stay fast)."""

    model_config = ConfigDict(extra="forbid")
    num_leaves: int = Field(4, ge=2, le=255)
    max_depth: int = Field(2, ge=1, le=16)
    learning_rate: float = Field(0.03, gt=0, le=1)
    n_estimators: int = Field(3000, ge=1)
    early_stopping_rounds: int = Field(100, ge=1)
    min_child_samples: int = Field(300, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.5, gt=0, le=1)
    reg_lambda: float = Field(10.0, ge=0)
    monotone: bool = True
    """Keep each feature to its registry direction (LightGBM monotone constraints)."""
    monotone_method: Literal["basic", "intermediate", "advanced"] = "basic"
    """LightGBM's ``monotone_constraints_method``, chosen by measured accuracy."""


class FeatureSetSettings(BaseModel):
    """Which registry features a model uses: all, less ``exclude``; a sensitive feature only
    where ``sensitive`` gives its written justification."""

    model_config = ConfigDict(extra="forbid")
    exclude: list[str] = Field(default_factory=list)
    sensitive: dict[str, str] = Field(default_factory=dict)

    def select(self, registry: Registry) -> list[str]:
        """The feature columns a model uses, in registry order."""
        unknown = [n for n in [*self.exclude, *self.sensitive] if n not in registry]
        if unknown:
            raise ValueError(
                f"the feature set names {unknown}, which the registry does not have; "
                "`lantern registry` lists the features"
            )
        not_sensitive = [n for n in self.sensitive if not registry[n].sensitive]
        if not_sensitive:
            raise ValueError(
                f"{not_sensitive} are not sensitive features: list them only to justify a "
                "sensitive one"
            )
        return [
            name
            for name, spec in registry.items()
            if name not in self.exclude and (not spec.sensitive or name in self.sensitive)
        ]


class RegistrationSettings(BaseModel):
    """When a trained model is registered: only if, on the validation data, its headline AUC
    is at least its best baseline's minus ``margin``. ``when_worse: register`` registers it
    anyway (the card and the run record that it was worse); the default refuses."""

    model_config = ConfigDict(extra="forbid")
    margin: float = Field(0.02, ge=0, le=0.5)
    when_worse: Literal["refuse", "register"] = "refuse"


class TrainingSettings(BaseModel):
    """Everything `lantern train` needs besides the data."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 7
    top_k_share: float = Field(0.02, gt=0, lt=1)
    bootstrap: int = Field(200, ge=10)
    test_child_share: float = Field(0.3, gt=0, lt=1)
    lightgbm: LightGBMSettings = Field(default_factory=LightGBMSettings)
    features: FeatureSetSettings = Field(default_factory=FeatureSetSettings)
    registration: RegistrationSettings = Field(default_factory=RegistrationSettings)

    def registering_when_worse(self) -> TrainingSettings:
        """These settings, registering a model even when it ranks the validation data worse
        than a baseline: for demonstrations and tests on small synthetic partnerships, where
        the model cannot reliably beat the checklist (each card says it was worse)."""
        registration = self.registration.model_copy(update={"when_worse": "register"})
        return self.model_copy(update={"registration": registration})


def load_training_settings(path: Path | None = None) -> TrainingSettings:
    """Read training settings from YAML (default: the package's ``training.yaml``)."""
    path = Path(path) if path else DEFAULT_CONFIG
    return TrainingSettings.model_validate(yaml.safe_load(path.read_text()))
