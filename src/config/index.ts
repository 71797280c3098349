export { type InvalidJob, type LoadedJob, type LoadJobOptions, type LoadJobResult, loadJobFile, loadJobFileOrThrow, loadJobText } from './load-job.js';
export { readYaml, type ReadYamlResult, type Substitution } from './read-yaml.js';
export { collectSecrets, MIN_REDACTED_LENGTH, Redactor } from './secrets.js';
export { type NodeLocation, parentPath, type SourcePosition, SourceLocations } from './source-locations.js';
export { parseVarAssignments, substituteVariables, type SubstitutionResult, type VariableSources, yamlCoreScalar } from './variables.js';
export { SCHEMA_WITHOUT_IO, verifyPlan, type VerifyOptions } from './verify-job.js';
