import type { InfraConfig } from './config.js';
import type { ServerName } from './errors.js';
import type { CommandSpec } from './processes.js';
import type { Tool } from './prerequisites.js';

/** How the infrastructure installs, starts and checks one server. */
export interface LocalServer {
  readonly name: ServerName;
  /** Product name, for messages. */
  readonly title: string;
  /** Tools needed to install it on first use. */
  readonly installTools: readonly Tool[];
  /** Tools needed to run it once installed. */
  readonly runTools: readonly Tool[];
  /** Ports it listens on, with the variable that sets each. */
  ports(config: InfraConfig): readonly { readonly envVar: string; readonly port: number }[];
  /** The configured version. */
  version(config: InfraConfig): string;
  /** True when the cached installation is complete (then nothing touches the network). */
  isInstalled(config: InfraConfig): Promise<boolean>;
  /** Installs into the cache; output goes to the log file. */
  install(config: InfraConfig, logFile: string): Promise<void>;
  /** Writes configuration, prepares storage under `dir` and returns the command that runs it. */
  prepare(config: InfraConfig, dir: string, logFile: string): Promise<CommandSpec>;
  /** One real request against the running server; throws when it does not answer properly. */
  check(config: InfraConfig): Promise<void>;
  /** The version the running server reports (or the installed one when it reports none). */
  runningVersion(config: InfraConfig): Promise<string>;
  /** The `NAME=value` line that `infra:env` prints for it (none: another server's line covers it). */
  envLine(config: InfraConfig): string | undefined;
}
