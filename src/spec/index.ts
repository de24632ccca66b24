/**
 * The spec: the one YAML file that declares models and deployments. Load it with
 * `loadSpec`; the result is normalized (defaults applied, durations in ms, sizes in bytes,
 * paths absolute, model references parsed) and deep-frozen.
 */
export type {
  BatchingSpec,
  DeploymentSpec,
  ExecutionMode,
  GraphOptimization,
  LoadedSpec,
  ModelSpec,
  ReplicasSpec,
  RuntimeSpec,
  ServerSpec,
  Spec,
  SpecIssue,
  StateSpec,
} from './types.js';
export {
  SPEC_FILE_NAME,
  formatIssue,
  loadSpec,
  parseSpec,
  specError,
  validateSpecFile,
  validateSpecText,
  type SpecErrorCode,
  type SpecValidation,
} from './load.js';
export {
  ALIAS_PATTERN,
  MODEL_REF_PATTERN,
  NAME_PATTERN,
  NAME_RULE,
  checkModelRef,
  formatModelRef,
  isValidName,
  parseModelRef,
  type ModelRef,
  type ModelRefCheck,
  type ModelSelector,
} from './modelref.js';
export {
  DURATION_HELP,
  DURATION_PATTERN,
  SIZE_HELP,
  SIZE_PATTERN,
  formatDuration,
  formatSize,
  parseDuration,
  parseSize,
} from './units.js';
export { closest, didYouMean, editDistance } from './suggest.js';
export { sections, specSchema, type SpecInput } from './schema.js';
export { specJsonSchema, type JsonSchema } from './jsonschema.js';
export { specFields, specReferenceMarkdown, type FieldDoc } from './reference.js';
export { EXAMPLE_SPEC, MINIMAL_SPEC } from './example.js';
export { generatedFiles } from './generated.js';
