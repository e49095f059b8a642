// The YAML configuration: load and check it, read secrets, apply command-line flags.
export * from './types';
export { loadConfig, configFromObject, formatIssues, releaseConfigParser } from './load';
export type { LoadOptions, FromObjectOptions } from './load';
export { resolvePassword, expandEnv } from './secrets';
export type { ResolvedCredentials, CredentialSource } from './secrets';
export { parseArgs, applyOverrides, splitHostPort, defaultConfigPaths, USAGE, COMMANDS } from './cli-args';
export type { CliFlags, ParsedArgs, Command } from './cli-args';
/** The `xiota init` template; its text loads on first call, never in `xiota run`. */
export function starterConfig(): string {
  return (require('./starter') as typeof import('./starter')).starterConfig();
}
export { publishPolicyFor, pubsubFor } from './thing-settings';
export type { ThingPubsub } from './thing-settings';
export { DRIVER_KINDS, driverOptionSchemas } from './drivers-schema';
export type { LinuxOptions, W1Options, IioOptions, SerialOptions, MqttOptions } from './drivers-schema';
export { accessAdvice, accessEntryProblem, PLACEHOLDER_OWNER } from './access-schema';
