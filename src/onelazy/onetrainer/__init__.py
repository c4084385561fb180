"""The faithful model of OneTrainer's files: configs, concepts, samples, secrets, and its install.

Names are imported on first use, so ``import onelazy.onetrainer`` does not load pydantic; the
config version constants are plain ints::

    from onelazy.onetrainer import read_train_config, check_train_config
    config = read_train_config("config.json")          # strict: raises ConfigError
    for problem in check_train_config(config, source="config.json"):
        print(problem)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onelazy._lazy import lazy_getattr

CONFIG_VERSION = 11
CONCEPT_CONFIG_VERSION = 2

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # models
    "TrainConfig": "onelazy.onetrainer.models",
    "TrainModelPartConfig": "onelazy.onetrainer.models",
    "TrainOptimizerConfig": "onelazy.onetrainer.models",
    "TrainEmbeddingConfig": "onelazy.onetrainer.models",
    "QuantizationConfig": "onelazy.onetrainer.models",
    "ConceptConfig": "onelazy.onetrainer.models",
    "ConceptImageConfig": "onelazy.onetrainer.models",
    "ConceptTextConfig": "onelazy.onetrainer.models",
    "SampleConfig": "onelazy.onetrainer.models",
    "SecretsConfig": "onelazy.onetrainer.models",
    "CloudSecretsConfig": "onelazy.onetrainer.models",
    "CloudConfig": "onelazy.onetrainer.models",
    "OneTrainerConfig": "onelazy.onetrainer.models",
    "MODEL_PART_NAMES": "onelazy.onetrainer.models",
    "stable_concept_seed": "onelazy.onetrainer.models",
    "stable_embedding_uuid": "onelazy.onetrainer.models",
    # defaults
    "default_train_config": "onelazy.onetrainer.defaults",
    "default_concept_config": "onelazy.onetrainer.defaults",
    "default_sample_config": "onelazy.onetrainer.defaults",
    "default_secrets_config": "onelazy.onetrainer.defaults",
    # reading
    "load_train_config": "onelazy.onetrainer.reading",
    "load_train_config_lenient": "onelazy.onetrainer.reading",
    "read_train_config": "onelazy.onetrainer.reading",
    "read_train_config_lenient": "onelazy.onetrainer.reading",
    "load_concepts": "onelazy.onetrainer.reading",
    "load_concepts_lenient": "onelazy.onetrainer.reading",
    "read_concepts": "onelazy.onetrainer.reading",
    "read_concepts_lenient": "onelazy.onetrainer.reading",
    "load_samples": "onelazy.onetrainer.reading",
    "load_samples_lenient": "onelazy.onetrainer.reading",
    "read_samples": "onelazy.onetrainer.reading",
    "read_samples_lenient": "onelazy.onetrainer.reading",
    "load_secrets": "onelazy.onetrainer.reading",
    "read_secrets": "onelazy.onetrainer.reading",
    "read_json": "onelazy.onetrainer.reading",
    "validate_model": "onelazy.onetrainer.reading",
    # writing
    "to_onetrainer_dict": "onelazy.onetrainer.writing",
    "to_onetrainer_json": "onelazy.onetrainer.writing",
    "write_onetrainer_json": "onelazy.onetrainer.writing",
    # migrations
    "migrate_train_config": "onelazy.onetrainer.migrations",
    "migrate_concept_config": "onelazy.onetrainer.migrations",
    "TRAIN_CONFIG_MIGRATIONS": "onelazy.onetrainer.migrations",
    "CONCEPT_CONFIG_MIGRATIONS": "onelazy.onetrainer.migrations",
    # problems and checks
    "Problem": "onelazy.onetrainer.problems",
    "did_you_mean": "onelazy.onetrainer.problems",
    "check_train_config": "onelazy.onetrainer.checks",
    "check_concepts": "onelazy.onetrainer.checks",
    "check_file": "onelazy.onetrainer.checks",
    "check_files": "onelazy.onetrainer.checks",
    "migrate_file": "onelazy.onetrainer.checks",
    "range_problems": "onelazy.onetrainer.ranges",
    # --set and layering
    "coerce_dotted": "onelazy.onetrainer.dotted",
    "apply_dotted": "onelazy.onetrainer.dotted",
    "parse_assignment": "onelazy.onetrainer.dotted",
    # model types
    "ModelTypeInfo": "onelazy.onetrainer.model_types",
    "LayerFilter": "onelazy.onetrainer.model_types",
    "model_type_info": "onelazy.onetrainer.model_types",
    "all_model_type_infos": "onelazy.onetrainer.model_types",
    # JSON Schema
    "json_schema": "onelazy.onetrainer.schema",
    "write_json_schema": "onelazy.onetrainer.schema",
    # the install (finding OneTrainer)
    "find_onetrainer": "onelazy.onetrainer.install",
    "OneTrainerInstall": "onelazy.onetrainer.install",
    # enums module
    "enums": "onelazy.onetrainer.enums",
}

__all__ = ["CONCEPT_CONFIG_VERSION", "CONFIG_VERSION", *_LAZY]

if TYPE_CHECKING:
    from onelazy.onetrainer import enums as enums
    from onelazy.onetrainer.checks import check_concepts as check_concepts
    from onelazy.onetrainer.checks import check_file as check_file
    from onelazy.onetrainer.checks import check_files as check_files
    from onelazy.onetrainer.checks import check_train_config as check_train_config
    from onelazy.onetrainer.checks import migrate_file as migrate_file
    from onelazy.onetrainer.defaults import default_concept_config as default_concept_config
    from onelazy.onetrainer.defaults import default_sample_config as default_sample_config
    from onelazy.onetrainer.defaults import default_secrets_config as default_secrets_config
    from onelazy.onetrainer.defaults import default_train_config as default_train_config
    from onelazy.onetrainer.dotted import apply_dotted as apply_dotted
    from onelazy.onetrainer.dotted import coerce_dotted as coerce_dotted
    from onelazy.onetrainer.dotted import parse_assignment as parse_assignment
    from onelazy.onetrainer.install import OneTrainerInstall as OneTrainerInstall
    from onelazy.onetrainer.install import find_onetrainer as find_onetrainer
    from onelazy.onetrainer.migrations import CONCEPT_CONFIG_MIGRATIONS as CONCEPT_CONFIG_MIGRATIONS
    from onelazy.onetrainer.migrations import TRAIN_CONFIG_MIGRATIONS as TRAIN_CONFIG_MIGRATIONS
    from onelazy.onetrainer.migrations import migrate_concept_config as migrate_concept_config
    from onelazy.onetrainer.migrations import migrate_train_config as migrate_train_config
    from onelazy.onetrainer.model_types import LayerFilter as LayerFilter
    from onelazy.onetrainer.model_types import ModelTypeInfo as ModelTypeInfo
    from onelazy.onetrainer.model_types import all_model_type_infos as all_model_type_infos
    from onelazy.onetrainer.model_types import model_type_info as model_type_info
    from onelazy.onetrainer.models import MODEL_PART_NAMES as MODEL_PART_NAMES
    from onelazy.onetrainer.models import CloudConfig as CloudConfig
    from onelazy.onetrainer.models import CloudSecretsConfig as CloudSecretsConfig
    from onelazy.onetrainer.models import ConceptConfig as ConceptConfig
    from onelazy.onetrainer.models import ConceptImageConfig as ConceptImageConfig
    from onelazy.onetrainer.models import ConceptTextConfig as ConceptTextConfig
    from onelazy.onetrainer.models import OneTrainerConfig as OneTrainerConfig
    from onelazy.onetrainer.models import QuantizationConfig as QuantizationConfig
    from onelazy.onetrainer.models import SampleConfig as SampleConfig
    from onelazy.onetrainer.models import SecretsConfig as SecretsConfig
    from onelazy.onetrainer.models import TrainConfig as TrainConfig
    from onelazy.onetrainer.models import TrainEmbeddingConfig as TrainEmbeddingConfig
    from onelazy.onetrainer.models import TrainModelPartConfig as TrainModelPartConfig
    from onelazy.onetrainer.models import TrainOptimizerConfig as TrainOptimizerConfig
    from onelazy.onetrainer.models import stable_concept_seed as stable_concept_seed
    from onelazy.onetrainer.models import stable_embedding_uuid as stable_embedding_uuid
    from onelazy.onetrainer.problems import Problem as Problem
    from onelazy.onetrainer.problems import did_you_mean as did_you_mean
    from onelazy.onetrainer.ranges import range_problems as range_problems
    from onelazy.onetrainer.reading import load_concepts as load_concepts
    from onelazy.onetrainer.reading import load_concepts_lenient as load_concepts_lenient
    from onelazy.onetrainer.reading import load_samples as load_samples
    from onelazy.onetrainer.reading import load_samples_lenient as load_samples_lenient
    from onelazy.onetrainer.reading import load_secrets as load_secrets
    from onelazy.onetrainer.reading import load_train_config as load_train_config
    from onelazy.onetrainer.reading import load_train_config_lenient as load_train_config_lenient
    from onelazy.onetrainer.reading import read_concepts as read_concepts
    from onelazy.onetrainer.reading import read_concepts_lenient as read_concepts_lenient
    from onelazy.onetrainer.reading import read_json as read_json
    from onelazy.onetrainer.reading import read_samples as read_samples
    from onelazy.onetrainer.reading import read_samples_lenient as read_samples_lenient
    from onelazy.onetrainer.reading import read_secrets as read_secrets
    from onelazy.onetrainer.reading import read_train_config as read_train_config
    from onelazy.onetrainer.reading import read_train_config_lenient as read_train_config_lenient
    from onelazy.onetrainer.reading import validate_model as validate_model
    from onelazy.onetrainer.schema import json_schema as json_schema
    from onelazy.onetrainer.schema import write_json_schema as write_json_schema
    from onelazy.onetrainer.writing import to_onetrainer_dict as to_onetrainer_dict
    from onelazy.onetrainer.writing import to_onetrainer_json as to_onetrainer_json
    from onelazy.onetrainer.writing import write_onetrainer_json as write_onetrainer_json


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
